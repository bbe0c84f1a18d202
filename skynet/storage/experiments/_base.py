"""The experiment store contract: hyper-parameter searches, their points and the points' metrics.

A :class:`Search` is one search (grid, random) of a model type on one data slice, named by its
``dataset_hash``; each of its :class:`Point` s is one set of parameters (the seed's
``grid_search_parameter``: status, worker, attempts, timings, error); each :class:`Metric` is
one figure of one point (the seed's ``model_performance_metadata``: per fold, ``fold == -1``
for the whole cross-validation).

What makes the search safe to run on workers that die and brokers that redeliver:

- :meth:`ExperimentStore.start_point` counts an attempt and names the worker; a point already
  ``done`` is returned as it is, so a redelivered task can see there is nothing left to do.
- :meth:`ExperimentStore.finish_point` stores a point's metrics and marks it done in one
  step, once: the keys ``(search, point)`` and ``(search, point, fold, metric)`` are unique,
  and a second call (a task run twice) writes nothing and returns False.
- :meth:`ExperimentStore.claim_finish` moves a search from ``running`` to ``finishing`` when
  every point is done or failed, for exactly one caller.

Public methods validate their input (:class:`~skynet.errors.DataError`) and call the adapter's
``_`` methods; adapters raise :class:`~skynet.errors.StorageError` naming themselves.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from skynet.errors import DataError, brief
from skynet.storage.registry._base import _check_json, utc_now  # the registry's checks: one home

__all__ = [
    "ExperimentStore",
    "Search",
    "Point",
    "Metric",
    "SEARCH_STATUSES",
    "POINT_STATUSES",
    "KINDS",
    "OVERALL",
    "check_search_id",
    "utc_now",
]

#: A search: ``running`` (points queued or in work), ``finishing`` (every point ended; the best
#: one is being trained on all the data), ``done`` (its model registered) or ``failed``.
SEARCH_STATUSES = ("running", "finishing", "done", "failed")
#: A point: ``pending`` (queued), ``running`` (a worker has it), ``done`` or ``failed``.
POINT_STATUSES = ("pending", "running", "done", "failed")
KINDS = ("grid", "random", "tpe")
#: The fold of a metric computed over every fold's held-out rows together.
OVERALL = -1
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_METRIC = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_MAX_ERROR = 2000


@dataclass(frozen=True)
class Search:
    """One hyper-parameter search (see the module docstring).

    ``spec`` holds what the workers need and people read: the parameter space, the fixed
    parameters, folds, the data set's path and selection, the alias to promote.
    """

    id: str
    model_type: str
    kind: str
    dataset_hash: str
    metric: str
    spec: dict[str, Any] = field(default_factory=dict)
    status: str = "running"
    created: datetime = field(default_factory=utc_now)
    created_by: str = ""
    finished: datetime | None = None
    best_point: int | None = None
    model_name: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (times as ISO text)."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        for key in ("created", "finished"):
            out[key] = None if out[key] is None else out[key].isoformat(timespec="seconds")
        return out


@dataclass(frozen=True)
class Point:
    """One set of parameters of a search and how its task went."""

    search_id: str
    point_id: int
    params: dict[str, Any]
    status: str = "pending"
    worker: str | None = None
    attempts: int = 0
    started: datetime | None = None
    finished: datetime | None = None
    error: str | None = None

    @property
    def seconds(self) -> float | None:
        """Wall time of the last attempt, when it ended."""
        if self.started is None or self.finished is None:
            return None
        return (self.finished - self.started).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        for key in ("started", "finished"):
            out[key] = None if out[key] is None else out[key].isoformat(timespec="seconds")
        return out


@dataclass(frozen=True)
class Metric:
    """One figure of one point: per fold (0, 1, ...) or over all folds (:data:`OVERALL`)."""

    search_id: str
    point_id: int
    fold: int
    name: str
    value: float | None
    dataset_hash: str = ""
    model_name: str = ""


def check_search_id(search_id: Any) -> str:
    """A search id (letters, digits, ``_.-``, at most 64), else DataError."""
    if not isinstance(search_id, str) or not _ID.match(search_id):
        raise DataError(f"{brief(search_id, 80)} is not a search id (letters, digits and '_.-', at most 64)")
    return search_id


def _check_metric(metric: Metric, search_id: str, point_id: int) -> Metric:
    if (metric.search_id, metric.point_id) != (search_id, point_id):
        raise DataError(f"metric {metric.name} belongs to {metric.search_id}/{metric.point_id}, "
                        f"not {search_id}/{point_id}")  # fmt: skip
    if not isinstance(metric.name, str) or not _METRIC.match(metric.name):
        raise DataError(f"{brief(metric.name, 80)} is not a metric name")
    if not isinstance(metric.fold, int) or metric.fold < OVERALL:
        raise DataError(
            f"metric {metric.name}: fold {brief(metric.fold)} is not -1 (overall) or a fold number"
        )
    value = metric.value
    if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value)):
        value = None  # strict JSON and some databases have no NaN: an undefined figure is NULL
    return Metric(search_id, point_id, metric.fold, metric.name, None if value is None else float(value),
                  metric.dataset_hash[:64], metric.model_name[:255])  # fmt: skip


def _cut_error(error: str) -> str:
    return error if len(error) <= _MAX_ERROR else f"{error[:_MAX_ERROR]}…"


class ExperimentStore(ABC):
    """Searches, points and metrics, chosen by URL (see :func:`open_experiment_store`)."""

    #: Short adapter name used in error messages, e.g. ``"experiments[sqlite]"``.
    name: str = "experiments"

    # -- searches --------------------------------------------------------------------------
    def create_search(self, search: Search, points: Sequence[dict[str, Any]]) -> Search:
        """Store a new search and its points (``pending``, numbered from 0) in one step.

        Raises:
            DataError: a bad id, kind or status, no points, or non-JSON parameters.
            StorageError: a search with that id exists already.
        """
        check_search_id(search.id)
        if search.kind not in KINDS:
            raise DataError(f"search kind {brief(search.kind, 40)} is not one of {', '.join(KINDS)}")
        if search.status not in SEARCH_STATUSES:
            raise DataError(
                f"search status {brief(search.status, 40)} is not one of {', '.join(SEARCH_STATUSES)}"
            )
        if not points:
            raise DataError(f"search {search.id} has no points")
        _check_json(search.spec, "the search's spec")
        made = [
            Point(search.id, i, _check_json(dict(p), f"point {i}'s parameters")) for i, p in enumerate(points)
        ]
        self._create(search, made)
        return search

    def search(self, search_id: str) -> Search | None:
        """The search of that id, or None."""
        return self._search(check_search_id(search_id))

    def searches(self, model_type: str | None = None, limit: int | None = None) -> list[Search]:
        """Searches (of one model type), newest first."""
        found = sorted(self._searches(model_type), key=lambda s: (s.created, s.id), reverse=True)
        return found if limit is None else found[: max(0, limit)]

    def claim_finish(self, search_id: str) -> bool:
        """Move a ``running`` search whose every point is done or failed to ``finishing``.

        Returns:
            True for the one caller that moved it; False when points are left, or someone
            else already did.
        """
        return self._claim_finish(check_search_id(search_id))

    def end_search(
        self,
        search_id: str,
        status: str,
        best_point: int | None = None,
        model_name: str | None = None,
        error: str | None = None,
    ) -> None:
        """Record how a search ended (``done`` with its best point and model, or ``failed``)."""
        if status not in ("done", "failed"):
            raise DataError(f"a search ends done or failed, not {brief(status, 40)}")
        self._end_search(check_search_id(search_id), status, best_point, model_name,
                         None if error is None else _cut_error(error), utc_now())  # fmt: skip

    # -- points ----------------------------------------------------------------------------
    def points(self, search_id: str) -> list[Point]:
        """The search's points, by point id."""
        return sorted(self._points(check_search_id(search_id)), key=lambda p: p.point_id)

    def start_point(self, search_id: str, point_id: int, worker: str) -> Point:
        """Mark a point running on ``worker`` and count the attempt; a point already ``done``
        is returned unchanged (its result is stored: nothing left to do).

        Raises:
            StorageError: no such point.
        """
        return self._start_point(check_search_id(search_id), int(point_id), str(worker)[:255], utc_now())

    def finish_point(self, search_id: str, point_id: int, metrics: Sequence[Metric]) -> bool:
        """Store a point's metrics and mark it done, in one step, once.

        Returns:
            True when this call stored them; False when the point was done already (a task
            run twice: nothing is written).

        Raises:
            DataError: a metric of another point, a bad name or fold. StorageError: no such point.
        """
        search_id = check_search_id(search_id)
        checked = [_check_metric(m, search_id, int(point_id)) for m in metrics]
        keys = {(m.fold, m.name) for m in checked}
        if len(keys) != len(checked):
            raise DataError(f"point {search_id}/{point_id}: a (fold, metric) pair is given twice")
        return self._finish_point(search_id, int(point_id), checked, utc_now())

    def append_point(self, search_id: str, params: dict[str, Any], limit: int) -> Point | None:
        """Add a point (``pending``, the next id) to a search while it has fewer than ``limit``
        points; one at a time (the search's row is locked), so planners working at once never
        add more than ``limit``. Returns the point, or None when the search has ``limit`` already.

        Raises:
            DataError: non-JSON parameters. StorageError: no such search.
        """
        return self._append_point(check_search_id(search_id), _check_json(dict(params), "the point's parameters"),
                                  int(limit))  # fmt: skip

    def fail_point(self, search_id: str, point_id: int, error: str) -> bool:
        """Mark a point failed with its error (not one that is done). Returns whether it changed."""
        return self._fail_point(check_search_id(search_id), int(point_id), _cut_error(str(error)), utc_now())

    def metrics(self, search_id: str, point_id: int | None = None) -> list[Metric]:
        """The metrics of a search (of one point), by point, fold and name."""
        found = self._metrics(check_search_id(search_id), point_id)
        return sorted(found, key=lambda m: (m.point_id, m.fold, m.name))

    def name_model(self, search_id: str, point_id: int, model_name: str) -> None:
        """Record the registered model's name on a point's metrics (the search's best, trained on all data)."""
        self._name_model(check_search_id(search_id), int(point_id), str(model_name)[:255])

    # -- adapter ---------------------------------------------------------------------------
    @abstractmethod
    def _create(self, search: Search, points: list[Point]) -> None: ...

    @abstractmethod
    def _search(self, search_id: str) -> Search | None: ...

    @abstractmethod
    def _searches(self, model_type: str | None) -> list[Search]: ...

    @abstractmethod
    def _claim_finish(self, search_id: str) -> bool: ...

    @abstractmethod
    def _end_search(self, search_id: str, status: str, best_point: int | None, model_name: str | None,
    error: str | None, now: datetime) -> None: ...  # fmt: skip

    @abstractmethod
    def _points(self, search_id: str) -> list[Point]: ...

    @abstractmethod
    def _start_point(self, search_id: str, point_id: int, worker: str, now: datetime) -> Point: ...

    @abstractmethod
    def _finish_point(self, search_id: str, point_id: int, metrics: list[Metric], now: datetime) -> bool: ...

    @abstractmethod
    def _append_point(self, search_id: str, params: dict[str, Any], limit: int) -> Point | None: ...

    @abstractmethod
    def _fail_point(self, search_id: str, point_id: int, error: str, now: datetime) -> bool: ...

    @abstractmethod
    def _metrics(self, search_id: str, point_id: int | None) -> list[Metric]: ...

    @abstractmethod
    def _name_model(self, search_id: str, point_id: int, model_name: str) -> None: ...

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """The adapter, its (password-masked) URL and how many searches it holds."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> ExperimentStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
