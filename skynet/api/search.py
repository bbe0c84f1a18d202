"""Hyper-parameter search spread over Celery workers: start one, follow it, and the steps the
workers run (:mod:`skynet.tasks` calls them; see :mod:`skynet.api._queue` for the queues).

:func:`start_search` reads the grid (:func:`skynet.api.params.read_grid`), checks the broker,
builds the training frame (the store's, or a ``--dataset``), materialises it as the search's
data slice (named by its dataset hash, :mod:`skynet.api._slices`), records the search and its
points (``search``, ``grid_search_parameter``) and queues one chain per point::

    collect_data (the slice is on this host: read, or rebuilt from the store; hash checked)
      -> training (a device-grouped cross-validation of the point on the slice)
      -> save_result (metrics per fold and overall into model_performance_metadata, once)

The last point to end (done, or failed three times) moves the search to ``finishing`` and
queues ``finish_search``: the best point (by the grid's metric) is trained on the whole slice,
registered (:func:`skynet.api.models.register_trained`, lineage naming the search and the data
set) and promoted when asked. :func:`wait_search` follows a search until it ends.

Every step can run twice (a worker killed mid-task, a broker restart: the task is redelivered)
and stores its result once: a point already done is not trained again, its metrics are keyed
by (search, point, fold, metric), the finish is claimed by one caller and registering the same
model again replaces it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from skynet.api._queue import QUEUES, celery_app
from skynet.api._slices import check_folds, cross_validate, digest, load_slice, materialise, slice_loader
from skynet.api.experiments import best_point, open_experiments, search_summary
from skynet.config import Settings
from skynet.errors import DataError, SkynetError, StorageError
from skynet.storage.experiments import Metric, Point, Search

__all__ = [
    "MAX_ATTEMPTS",
    "QUEUES",
    "celery_app",
    "SearchTimeout",
    "start_search",
    "wait_search",
    "prepare_point",
    "start_point",
    "evaluate_point",
    "save_point",
    "fail_point",
    "claim_finish",
    "queue_points",
    "plan_points",
    "search_status",
    "finish_search",
    "abandon_search",
    "worker_health",
]

#: A point is tried this many times (a worker that died on it counts) before it is marked failed.
MAX_ATTEMPTS = 3


class SearchTimeout(SkynetError):
    """``--wait`` gave up waiting; the search goes on."""


def _search_id(model_type: str) -> str:
    return f"{model_type}-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def start_search(
    settings: Settings,
    model_type: str,
    grid: str | Path,
    device_ids: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    dataset: str | Path | None = None,
    holdout_days: float = 0.0,
    promote: str | None = None,
    progress: bool = True,
) -> Search:
    """Start a search: materialise its data slice, record it, queue one task chain per point.

    Args:
        settings: the effective configuration (``train.broker_url``, ``train.experiments_url``).
        model_type: ``user_model`` or ``estimation``.
        grid: the grid file (see :mod:`skynet.api.params`).
        device_ids, start, end, dataset, holdout_days: the training data, as for ``train``.
        promote: point this alias (e.g. ``production``) at the best model once registered.
        progress: show progress on stderr while the frame is built.

    Returns:
        The search as recorded (its ``id`` names it in ``skynet experiments``).

    Raises:
        DataError: a bad grid or parameter, no data, fewer devices than folds.
        ConfigError: no broker configured. StorageError: the broker or a store cannot be reached.
    """
    from skynet.api._lineage import who
    from skynet.api._queue import check_broker, client
    from skynet.api.models import select_training_frame
    from skynet.api.params import read_grid
    from skynet.storage.registry import check_alias

    if model_type not in ("user_model", "estimation"):
        raise DataError(f"no search for model type {model_type!r} (user_model, estimation)")
    spec = read_grid(model_type, grid, seed=settings.models.seed)
    if promote is not None:
        check_alias(promote)
    app = client(settings)
    check_broker(app)  # before the frame is built: a broker that is down fails in seconds
    loader = slice_loader(settings, model_type, device_ids, progress)
    frame, selection, given = select_training_frame(settings, loader, device_ids, start, end, None, dataset,
                                                    holdout_days)  # fmt: skip
    check_folds(frame, spec.folds)
    data = {**given, "hash": digest(frame)} if given is not None else materialise(settings, frame)
    points = spec.points()
    search = Search(id=_search_id(model_type), model_type=model_type, kind=spec.kind, dataset_hash=data["hash"],
                    metric=spec.metric, created_by=who(),
                    spec={"grid": spec.to_dict(), "grid_file": str(grid), "dataset": data, "selection": selection,
                          "promote": promote, "seed": settings.models.seed, "points": len(points),
                          "trials": spec.trials if spec.kind == "tpe" else len(points)})  # fmt: skip
    with open_experiments(settings) as store:
        store.create_search(search, points)
        try:
            queue_points(app, search.id, range(len(points)))
        except Exception as exc:  # noqa: BLE001 - kombu/amqp/redis errors: the search cannot go on
            reason = f"queueing its points failed: {type(exc).__name__}: {exc}"
            store.end_search(search.id, "failed", error=reason)
            raise StorageError(f"broker[{str(app.conf.broker_url).split('://')[0]}]", reason) from None
    return search


def queue_points(app: Any, search_id: str, point_ids: Sequence[int] | range) -> None:
    """Queue one chain per point: collect_data -> training -> save_result (tasks named, not imported)."""
    from celery import chain

    for point in point_ids:
        chain(app.signature("skynet.collect_data", args=(search_id, point), immutable=True),
              app.signature("skynet.training", args=(search_id, point), immutable=True),
              app.signature("skynet.save_result", args=(search_id, point))).apply_async()  # fmt: skip


def plan_points(settings: Settings, search_id: str) -> list[int]:
    """A TPE search's next points (up to ``batch`` in work, ``trials`` in all), recorded; [] for
    a grid or random search (its points were all made at the start) or when none is due.

    Returns:
        The new points' ids (the caller queues them: :func:`queue_points`).
    """
    from skynet.api._tpe import plan
    from skynet.api.params import SearchSpec

    with open_experiments(settings) as store:
        search = _get(store, search_id)
        if search.kind != "tpe" or search.status != "running":
            return []
        spec = SearchSpec(**{k: v for k, v in search.spec["grid"].items()})
        points, metrics = store.points(search_id), store.metrics(search_id)
        working = sum(p.status in ("pending", "running") for p in points)
        due = min(spec.batch - working, spec.trials - len(points))
        if due <= 0:
            return []
        made = [
            store.append_point(search_id, params, spec.trials) for params in plan(spec, points, metrics, due)
        ]
    return [p.point_id for p in made if p is not None]


def wait_search(
    settings: Settings, search_id: str, timeout: float | None = None, progress: bool = True, poll: float = 0.5
) -> dict[str, Any]:
    """Follow a search until it is done or failed, with a progress bar of its points on stderr.

    Returns:
        The search as :func:`skynet.api.experiments.search_summary` shows it.

    Raises:
        SearchTimeout: still running after ``timeout`` seconds (it goes on).
        StorageError: no such search.
    """
    from tqdm import tqdm

    deadline = None if timeout is None else time.monotonic() + timeout
    with open_experiments(settings) as store:
        search = _get(store, search_id)
        total = int(search.spec.get("trials") or len(store.points(search_id)))  # tpe: the points it will have
        with tqdm(total=total, desc=f"search {search_id}", unit="point", disable=None if progress else True,
                  leave=False) as bar:  # fmt: skip
            while True:
                points = store.points(search_id)
                ended = sum(p.status in ("done", "failed") for p in points)
                bar.update(ended - bar.n)
                running = sum(p.status == "running" for p in points)
                failed = sum(p.status == "failed" for p in points)
                bar.set_postfix_str(f"{running} running, {failed} failed, {search.status}")
                if search.status in ("done", "failed"):
                    break
                if deadline is not None and time.monotonic() > deadline:
                    raise SearchTimeout(f"search {search_id} is still {search.status} after {timeout:g} s "
                                        f"({ended} of {total} points ended); it goes on: "
                                        f"skynet experiments show {search_id}")  # fmt: skip
                time.sleep(poll)
                search = _get(store, search_id)
    return search_summary(settings, search_id)


def _get(store: Any, search_id: str) -> Search:
    found = store.search(search_id)
    if found is None:
        raise StorageError(store.name, f"no search {search_id!r} (see skynet experiments list)")
    return found


# -- the workers' steps ---------------------------------------------------------------------
def prepare_point(settings: Settings, search_id: str) -> int:
    """collect_data: make sure this host has the search's slice (read, or rebuilt from the store,
    hash checked) and keep it in memory for the training step; returns its rows."""
    with open_experiments(settings) as store:
        search = _get(store, search_id)
    return len(load_slice(settings, search))


def start_point(settings: Settings, search_id: str, point_id: int, worker: str) -> Point:
    """Mark a point running on ``worker``, counting the attempt (see :meth:`ExperimentStore.start_point`)."""
    with open_experiments(settings) as store:
        return store.start_point(search_id, point_id, worker)


def evaluate_point(
    settings: Settings, search_id: str, point_id: int, threads: int | None = None
) -> dict[str, Any]:
    """training: cross-validate one point on the search's slice; returns the payload for :func:`save_point`."""
    with open_experiments(settings) as store:
        search = _get(store, search_id)
        point = next((p for p in store.points(search_id) if p.point_id == point_id), None)
    if point is None:
        raise StorageError("experiments", f"no point {point_id} in search {search_id!r}")
    frame = load_slice(settings, search)
    grid = search.spec.get("grid") or {}
    return cross_validate(search.model_type, frame, dict(point.params), int(grid.get("folds", 3)),
                          int(search.spec.get("seed", 0)), threads)  # fmt: skip


def save_point(settings: Settings, search_id: str, point_id: int, payload: dict[str, Any]) -> bool:
    """save_result: store a point's metrics and mark it done, once; False if it was done already."""
    with open_experiments(settings) as store:
        search = _get(store, search_id)
        name = str(payload.get("model_name") or search.model_type)
        metrics = [Metric(search_id, point_id, int(fold), str(metric), value, search.dataset_hash, name)
                   for fold, metric, value in payload.get("metrics") or []]  # fmt: skip
        metrics.append(Metric(search_id, point_id, -1, "fit_seconds", payload.get("seconds"), search.dataset_hash,
                              name))  # fmt: skip
        return store.finish_point(search_id, point_id, metrics)


def fail_point(settings: Settings, search_id: str, point_id: int, error: str) -> None:
    """Mark a point failed with its error (the search goes on without it)."""
    with open_experiments(settings) as store:
        store.fail_point(search_id, point_id, error)


def claim_finish(settings: Settings, search_id: str) -> bool:
    """Whether this caller moved the search to ``finishing`` (every point ended): then it queues the finish."""
    with open_experiments(settings) as store:
        return store.claim_finish(search_id)


def search_status(settings: Settings, search_id: str) -> str:
    """The search's status (``running``, ``finishing``, ``done`` or ``failed``).

    Raises:
        StorageError: no such search.
    """
    with open_experiments(settings) as store:
        return _get(store, search_id).status


def finish_search(settings: Settings, search_id: str, threads: int | None = None) -> dict[str, Any]:
    """finish_search: train the best point on the whole slice, register it (and promote it).

    Idempotent: a search already done is returned as it is; running it again after a worker
    died registers the same model again (the same name: it replaces the row).

    Returns:
        The search as :func:`skynet.api.experiments.search_summary` shows it.

    Raises:
        DataError: the search is not finishing. Whatever training raises (the task retries).
    """
    from threadpoolctl import threadpool_limits

    from skynet.api.models import register_trained
    from skynet.models import model_class

    with open_experiments(settings) as store:
        search = _get(store, search_id)
        if search.status == "done":
            return search_summary(settings, search_id)
        if search.status != "finishing":
            raise DataError(f"search {search_id} is {search.status}, not finishing")
        points, metrics = store.points(search_id), store.metrics(search_id)
    best = best_point(search, points, metrics)
    if best is None:
        errors = [p.error for p in points if p.error]
        abandon_search(
            settings, search_id, "every point failed" + (f"; the first: {errors[0]}" if errors else "")
        )
        return search_summary(settings, search_id)
    point, value = best
    frame = load_slice(settings, search)
    seed = int(search.spec.get("seed", 0))
    params = {"random_state": seed, **point.params}
    with threadpool_limits(limits=threads) if threads else nullcontext():
        model: Any = model_class(search.model_type)(**params)
        model.fit(frame)
    cv = {f"cv_{m.name}": m.value for m in metrics if m.point_id == point.point_id and m.fold == -1}
    figures = {**cv, "n_rows": int(len(frame)), "search": search_id, "search_point": point.point_id}
    dataset = {k: v for k, v in (search.spec.get("dataset") or {}).items() if k != "hash"}
    selection = {"search": search_id, "point": point.point_id, **(search.spec.get("selection") or {})}
    name = register_trained(settings, model, figures, selection=selection, dataset=dataset)
    alias = search.spec.get("promote")
    if alias:
        from skynet.api.promotion import promote

        promote(settings, name, alias, reason=f"best of search {search_id}: {search.metric} {value:.4f}")
    with open_experiments(settings) as store:
        store.name_model(search_id, point.point_id, name)
        store.end_search(search_id, "done", best_point=point.point_id, model_name=name)
    return search_summary(settings, search_id)


def abandon_search(settings: Settings, search_id: str, error: str) -> None:
    """Mark a search failed with its error (its finish failed for good, or no point succeeded)."""
    with open_experiments(settings) as store:
        store.end_search(search_id, "failed", error=error)


def worker_health(
    settings: Settings, hostname: str | None = None, timeout: float = 3.0
) -> list[dict[str, Any]]:
    """The workers answering a ping through the broker (name, tasks in work), or only ``hostname``.

    Raises:
        StorageError: the broker cannot be reached.
    """
    from celery.utils.nodenames import default_nodename, host_format

    from skynet.api._queue import check_broker, client

    app = client(settings)
    check_broker(app)
    control = app.control
    destination = [host_format(default_nodename(hostname))] if hostname else None  # %h: this host
    answered = control.ping(destination=destination, timeout=timeout) or []
    names = sorted(name for reply in answered for name in reply)
    active = control.inspect(destination=names, timeout=timeout).active() or {} if names else {}
    return [{"worker": name, "tasks": [f"{t.get('name')}{tuple(t.get('args') or ())}" for t in active.get(name, [])]}
            for name in names]  # fmt: skip
