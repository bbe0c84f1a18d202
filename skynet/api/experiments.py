"""Application functions of the search metadata: list searches, show one, compare several.

Searches, their points and metrics live in the experiment store (``train.experiments_url``,
by default ``storage.url``'s SQL database: the ``search``, ``grid_search_parameter`` and
``model_performance_metadata`` tables). :func:`show_search` and :func:`compare_searches` also
draw the metric against each parameter (one panel per parameter, a PNG under
``models.reports``) and return its path.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from skynet.api._context import records_url, reports_path
from skynet.api.params import badness
from skynet.config import Settings, masked
from skynet.errors import DataError, StorageError
from skynet.storage.experiments import OVERALL, ExperimentStore, Metric, Point, Search, check_search_id

__all__ = [
    "experiments_url",
    "open_experiments",
    "best_point",
    "search_summary",
    "list_searches",
    "show_search",
    "compare_searches",
]


def experiments_url(settings: Settings) -> str:
    """``train.experiments_url``, or ``storage.url`` when it is empty (the embedded SQLite by default)."""
    url = settings.path(settings.train.experiments_url)
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    return url or records_url(settings)


def open_experiments(settings: Settings) -> ExperimentStore:
    """The experiment store the settings name.

    Raises:
        StorageError: its URL is not a SQL database or ``memory://`` (the message says which
            setting to change), or it cannot be reached.
    """
    from skynet.storage.experiments import experiment_schemes, open_experiment_store

    url = experiments_url(settings)
    if url.split("://", 1)[0] not in experiment_schemes():
        where = (
            "train.experiments_url"
            if settings.train.experiments_url
            else "storage.url (train.experiments_url is empty)"
        )
        raise StorageError("experiments", f"{where} is {masked(url)!r}: search metadata needs a SQL database or "
                                          f"memory:// (set train.experiments_url)")  # fmt: skip
    return open_experiment_store(url, auto_migrate=settings.storage.auto_migrate)


def _overall(metrics: Sequence[Metric], name: str) -> dict[int, float | None]:
    return {m.point_id: m.value for m in metrics if m.fold == OVERALL and m.name == name}


def best_point(
    search: Search, points: Sequence[Point], metrics: Sequence[Metric]
) -> tuple[Point, float] | None:
    """The done point with the best overall value of the search's metric (ties: the lowest id), or None."""
    values = _overall(metrics, search.metric)
    scored = [
        (p, float(v)) for p in points if p.status == "done" and (v := values.get(p.point_id)) is not None
    ]
    if not scored:
        return None
    return min(scored, key=lambda item: (badness(search.metric, item[1]), item[0].point_id))


def _get(store: ExperimentStore, search_id: str) -> Search:
    found = store.search(check_search_id(search_id))
    if found is None:
        raise StorageError(store.name, f"no search {search_id!r} (see skynet experiments list)")
    return found


def _point_rows(search: Search, points: Sequence[Point], metrics: Sequence[Metric]) -> list[dict[str, Any]]:
    values = _overall(metrics, search.metric)
    seconds = _overall(metrics, "fit_seconds")
    return [
        {"point": p.point_id, **p.params, search.metric: values.get(p.point_id), "status": p.status,
         "worker": p.worker, "attempts": p.attempts, "seconds": seconds.get(p.point_id), "error": p.error}
        for p in points
    ]  # fmt: skip


def search_summary(settings: Settings, search_id: str) -> dict[str, Any]:
    """A search: its record, a row per point (parameters, overall metric, status, worker, attempts,
    cross-validation seconds, error), the counts per status, and its best point and model."""
    with open_experiments(settings) as store:
        search = _get(store, search_id)
        points, metrics = store.points(search_id), store.metrics(search_id)
    best = best_point(search, points, metrics)
    counts = {s: sum(p.status == s for p in points) for s in ("pending", "running", "done", "failed")}
    return {
        "search": search.to_dict(),
        "points": _point_rows(search, points, metrics),
        "counts": counts,
        "best": (
            None if best is None else {"point": best[0].point_id, "value": best[1], "params": best[0].params}
        ),
        "model": search.model_name,
    }


def list_searches(settings: Settings, model_type: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """The newest searches: id, type, kind, status, points ended of all, failed, metric, best value, model."""
    rows = []
    with open_experiments(settings) as store:
        for search in store.searches(model_type, limit):
            points, metrics = store.points(search.id), store.metrics(search.id)
            best = best_point(search, points, metrics)
            rows.append({"id": search.id, "type": search.model_type, "kind": search.kind, "status": search.status,
                         "points": f"{sum(p.status in ('done', 'failed') for p in points)}/{len(points)}",
                         "failed": sum(p.status == "failed" for p in points), "metric": search.metric,
                         "best": None if best is None else best[1], "model": search.model_name or "",
                         "created": search.created.isoformat(timespec="seconds")})  # fmt: skip
    return rows


def show_search(settings: Settings, search_id: str) -> dict[str, Any]:
    """:func:`search_summary` plus ``plot``: the PNG of the metric against each parameter."""
    summary = search_summary(settings, search_id)
    summary["plot"] = compare_searches(settings, [search_id])["plot"]
    return summary


def compare_searches(
    settings: Settings, search_ids: Sequence[str], metric: str | None = None
) -> dict[str, Any]:
    """The points of several searches side by side, best first, and the metric against each parameter.

    Args:
        search_ids: searches of one model type.
        metric: the metric to compare (default: the first search's).

    Returns:
        ``metric``, ``table`` (search, point, parameters, metric, status; best first) and ``plot``
        (the PNG's path, or None when no point has a value).

    Raises:
        DataError: no search, searches of different model types. StorageError: an unknown id.
    """
    if not search_ids:
        raise DataError("name at least one search id (see skynet experiments list)")
    with open_experiments(settings) as store:
        found = [(s, store.points(s.id), store.metrics(s.id)) for s in (_get(store, i) for i in search_ids)]
    types = sorted({s.model_type for s, _, _ in found})
    if len(types) > 1:
        raise DataError(
            f"the searches are of different model types ({', '.join(types)}): compare one type at a time"
        )
    metric = metric or found[0][0].metric
    table = []
    for search, points, metrics in found:
        values = _overall(metrics, metric)
        table += [{"search": search.id, "point": p.point_id, **p.params, metric: values.get(p.point_id),
                   "status": p.status} for p in points]  # fmt: skip
    table.sort(key=lambda r: (badness(metric, r[metric]), r["search"], r["point"]))
    plot = _plot(settings, table, metric, list(search_ids))
    return {"metric": metric, "table": table, "plot": None if plot is None else str(plot)}


def _plot(settings: Settings, table: list[dict[str, Any]], metric: str, ids: list[str]) -> Path | None:
    """One panel per parameter that varies: the metric of each scored point against its value."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    scored = [r for r in table if r.get(metric) is not None]
    fixed = {"search", "point", "status", metric}
    names = sorted({k for r in scored for k in r if k not in fixed})
    names = [n for n in names if len({repr(r.get(n)) for r in scored}) > 1] or names
    if not scored or not names:
        return None
    figure = Figure(
        figsize=(4.0 * min(len(names), 4), 3.4 * ((len(names) + 3) // 4)), dpi=100, layout="constrained"
    )
    FigureCanvasAgg(figure)
    axes = figure.subplots((len(names) + 3) // 4, min(len(names), 4), squeeze=False).ravel()
    for ax, name in zip(axes, names, strict=False):
        for search_id in ids:
            rows = [r for r in scored if r["search"] == search_id]
            values = [r.get(name) for r in rows]
            numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
            xs = values if numeric else [str(v) for v in values]
            ax.scatter(xs, [r[metric] for r in rows], s=24, alpha=0.8, label=search_id)
        ax.set_xlabel(name)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    if len(ids) > 1:
        axes[0].legend(fontsize=7)
    figure.suptitle(f"{metric} (cross-validated) against each parameter")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = reports_path(settings) / f"experiments-{ids[0]}{'-and-more' if len(ids) > 1 else ''}-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{metric}_by_parameter.png"
    fd, tmp = tempfile.mkstemp(prefix=".plot.", suffix=".png", dir=folder)
    os.close(fd)
    try:
        figure.savefig(tmp, format="png")
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path
