"""An in-process experiment store for ``memory://`` URLs: for tests and one-process searches.

Stores opened on the same URL in one process share their contents, like
:mod:`skynet.storage.memory`. Nothing survives the process, and worker processes do not see
it: a search spread over workers needs a SQL database.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from skynet.errors import StorageError
from skynet.storage.experiments._base import ExperimentStore, Metric, Point, Search

__all__ = ["MemoryExperimentStore"]


@dataclass
class _State:
    searches: dict[str, Search] = field(default_factory=dict)
    points: dict[tuple[str, int], Point] = field(default_factory=dict)
    metrics: dict[tuple[str, int, int, str], Metric] = field(default_factory=dict)


_SHARED: dict[str, _State] = {}
_LOCK = threading.Lock()


class MemoryExperimentStore(ExperimentStore):
    """An experiment store kept in this process's memory.

    Args:
        url: ``memory://`` or ``memory://<name>``; stores with the same URL share contents.
    """

    name = "experiments[memory]"

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        with _LOCK:
            self._state = _SHARED.setdefault(url, _State())

    def __repr__(self) -> str:
        return f"MemoryExperimentStore({self.url!r})"

    def _point(self, search_id: str, point_id: int) -> Point:
        found = self._state.points.get((search_id, point_id))
        if found is None:
            raise StorageError(self.name, f"no point {point_id} in search {search_id!r}")
        return found

    def _create(self, search: Search, points: list[Point]) -> None:
        with _LOCK:
            if search.id in self._state.searches:
                raise StorageError(self.name, f"a search {search.id!r} exists already")
            self._state.searches[search.id] = replace(search, spec=copy.deepcopy(search.spec))
            for point in points:
                self._state.points[(search.id, point.point_id)] = replace(
                    point, params=copy.deepcopy(point.params)
                )

    def _search(self, search_id: str) -> Search | None:
        with _LOCK:
            found = self._state.searches.get(search_id)
            return None if found is None else replace(found, spec=copy.deepcopy(found.spec))

    def _searches(self, model_type: str | None) -> list[Search]:
        with _LOCK:
            return [replace(s, spec=copy.deepcopy(s.spec)) for s in self._state.searches.values()
                    if model_type in (None, s.model_type)]  # fmt: skip

    def _claim_finish(self, search_id: str) -> bool:
        with _LOCK:
            search = self._state.searches.get(search_id)
            if search is None or search.status != "running":
                return False
            points = [p for (s, _), p in self._state.points.items() if s == search_id]
            if any(p.status not in ("done", "failed") for p in points):
                return False
            self._state.searches[search_id] = replace(search, status="finishing")
            return True

    def _end_search(self, search_id: str, status: str, best_point: int | None, model_name: str | None,
                    error: str | None, now: datetime) -> None:  # fmt: skip
        with _LOCK:
            search = self._state.searches.get(search_id)
            if search is None:
                raise StorageError(self.name, f"no search {search_id!r}")
            self._state.searches[search_id] = replace(search, status=status, best_point=best_point,
                                                      model_name=model_name, error=error, finished=now)  # fmt: skip

    def _points(self, search_id: str) -> list[Point]:
        with _LOCK:
            return [replace(p, params=copy.deepcopy(p.params)) for (s, _), p in self._state.points.items()
                    if s == search_id]  # fmt: skip

    def _start_point(self, search_id: str, point_id: int, worker: str, now: datetime) -> Point:
        with _LOCK:
            point = self._point(search_id, point_id)
            if point.status != "done":
                point = replace(point, status="running", worker=worker, attempts=point.attempts + 1, started=now,
                                finished=None)  # fmt: skip
                self._state.points[(search_id, point_id)] = point
            return replace(point, params=copy.deepcopy(point.params))

    def _finish_point(self, search_id: str, point_id: int, metrics: list[Metric], now: datetime) -> bool:
        with _LOCK:
            point = self._point(search_id, point_id)
            if point.status == "done":
                return False
            for metric in metrics:
                self._state.metrics.setdefault((search_id, point_id, metric.fold, metric.name), metric)
            self._state.points[(search_id, point_id)] = replace(
                point, status="done", finished=now, error=None
            )
            return True

    def _append_point(self, search_id: str, params: dict[str, Any], limit: int) -> Point | None:
        with _LOCK:
            if search_id not in self._state.searches:
                raise StorageError(self.name, f"no search {search_id!r}")
            count = sum(s == search_id for s, _ in self._state.points)
            if count >= limit:
                return None
            point = Point(search_id, count, copy.deepcopy(params))
            self._state.points[(search_id, count)] = point
            return replace(point, params=copy.deepcopy(params))

    def _fail_point(self, search_id: str, point_id: int, error: str, now: datetime) -> bool:
        with _LOCK:
            point = self._point(search_id, point_id)
            if point.status == "done":
                return False
            self._state.points[(search_id, point_id)] = replace(
                point, status="failed", finished=now, error=error
            )
            return True

    def _metrics(self, search_id: str, point_id: int | None) -> list[Metric]:
        with _LOCK:
            return [m for (s, p, _, _), m in self._state.metrics.items()
                    if s == search_id and point_id in (None, p)]  # fmt: skip

    def _name_model(self, search_id: str, point_id: int, model_name: str) -> None:
        with _LOCK:
            for key, metric in list(self._state.metrics.items()):
                if key[:2] == (search_id, point_id):
                    self._state.metrics[key] = replace(metric, model_name=model_name)

    def describe(self) -> dict[str, Any]:
        with _LOCK:
            return {"adapter": self.name, "url": self.url, "searches": len(self._state.searches)}
