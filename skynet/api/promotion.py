"""Application functions of model promotion: aliases with history, and the promotion gate.

- :func:`promote` points ``TYPE@ALIAS`` at a sound model and records who, when and why;
  :func:`rollback` moves it back to the model it pointed at before (promotions form a stack:
  each rollback undoes one); :func:`aliases` shows the current aliases and their history.
- :func:`backtest` scores a stored model on a held-out window of the store's data (by default
  the newest ``days`` days); :func:`compare` scores two models on the same window;
  :func:`promote_if_better` (the nightly DAGs' gate) promotes a candidate only when it beats
  the model behind the alias by a margin, and otherwise leaves the alias alone and says why.

Scores: the user model's expected vote against the votes (MAE, RMSE, bias, accuracy, F1;
unpersonalized, the same for both models), the estimation model's forecasts against the
measured temperature and humidity (MAE and RMSE averaged over its horizons).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from skynet.api._context import open_model_registry, open_records
from skynet.api.models import DEFAULT_ALIAS, load_trained, resolve
from skynet.config import Settings
from skynet.errors import DataError, ModelError, StorageError
from skynet.storage.registry import check_alias

__all__ = ["promote", "rollback", "aliases", "backtest", "compare", "promote_if_better", "LOWER_IS_BETTER"]

log = logging.getLogger("skynet.models")
#: Metrics where smaller is better (``bias``: closer to 0); the others are better when larger.
LOWER_IS_BETTER = frozenset({"mae", "rmse", "bias", "mae_humidity", "rmse_humidity"})
_US = timedelta(microseconds=1)


# -- aliases --------------------------------------------------------------------------------
def promote(
    settings: Settings, ref: str, alias: str = DEFAULT_ALIAS, reason: str | None = None
) -> dict[str, Any]:
    """Point ``TYPE@alias`` at the model ``ref`` names, after checking it loads.

    Raises:
        StorageError: no such model; ModelError: it cannot be used (corrupt, old format).
    """
    from skynet.api._lineage import who

    check_alias(alias)
    version, _ = resolve(settings, ref)
    load_trained(settings, version.model_type, version.name)  # a model that cannot load is never promoted
    with open_model_registry(settings) as registry:
        event = registry.set_alias(version.model_type, alias, version.name, who(), reason, "promote")
    log.info(
        "promoted %s to %s@%s (was %s): %s", version.name, version.model_type, alias, event.old_name, reason
    )
    return event.to_dict()


def _model_type_of(registry: Any, alias: str, model_type: str | None) -> str:
    if model_type is not None:
        return model_type
    kinds = sorted({a.model_type for a in registry.aliases() if a.alias == alias})
    if len(kinds) != 1:
        found = f"exists for {', '.join(kinds)}" if kinds else "does not exist"
        raise DataError(f"alias {alias} {found}: name the model type with --type")
    return kinds[0]


def rollback(
    settings: Settings, alias: str = DEFAULT_ALIAS, model_type: str | None = None, reason: str | None = None
) -> dict[str, Any]:
    """Move ``TYPE@alias`` back to the model it pointed at before the current one.

    Promotions stack up and each rollback pops one, so rolling back twice goes two steps back;
    models deleted since are skipped.

    Raises:
        DataError: the alias is unknown or ambiguous (pass ``model_type``). StorageError:
            there is nothing to roll back to.
    """
    from skynet.api._lineage import who

    check_alias(alias)
    with open_model_registry(settings) as registry:
        kind = _model_type_of(registry, alias, model_type)
        stack: list[str] = []
        for event in registry.history(kind, alias):
            if event.action == "rollback":
                stack.pop() if stack else None
            elif event.new_name is not None:
                stack.append(event.new_name)
        current = registry.alias(kind, alias)
        if current is None:
            raise StorageError(registry.name, f"no {kind}@{alias} to roll back")
        while stack and stack[-1] == current.name:
            stack.pop()
        ready = {v.name for v in registry.versions(kind)}
        skipped = [name for name in reversed(stack) if name not in ready]
        target = next((name for name in reversed(stack) if name in ready), None)
        if target is None:
            raise StorageError(registry.name, f"{kind}@{alias} ({current.name}) has no earlier model to roll back to"
                                              + (f" (deleted: {', '.join(skipped)})" if skipped else ""))  # fmt: skip
        why = reason or f"rollback from {current.name}"
        event = registry.set_alias(kind, alias, target, who(), why, "rollback")
    log.info("rolled %s@%s back from %s to %s", kind, alias, current.name, target)
    return event.to_dict()


def aliases(settings: Settings, model_type: str | None = None) -> dict[str, Any]:
    """Current aliases (with who set them, when and why) and the whole history, oldest first."""
    with open_model_registry(settings) as registry:
        history = registry.history(model_type)
        current = []
        for alias in registry.aliases(model_type):
            last = next((e for e in reversed(history) if (e.model_type, e.alias) == (alias.model_type, alias.alias)),
                        None)  # fmt: skip
            current.append({"alias": alias.reference, "name": alias.name,
                            "since": None if last is None else last.time.isoformat(timespec="seconds"),
                            "by": None if last is None else last.who, "reason": None if last is None else last.reason})  # fmt: skip
    return {"aliases": current, "history": [e.to_dict() for e in history]}


# -- the promotion gate ---------------------------------------------------------------------
def _newest(settings: Settings, kind: Any) -> datetime | None:
    """The newest timestamp of a record kind over every device of the store."""
    from skynet.domain import Device

    with open_records(settings) as store:
        devices = store.read_frame(Device)["device_id"].astype(str).tolist()
        stamps = [r.timestamp for d in devices if (r := store.latest(kind, d)) is not None]
    return max(stamps) if stamps else None


def _window(
    settings: Settings, model_type: str, start: datetime | None, end: datetime | None, days: float
) -> tuple[Any, datetime, datetime]:
    """(frame, start, end) of the held-out window: ``[start, end)``, by default the newest ``days``."""
    from skynet.domain import Feedback, SensorReading

    kind = Feedback if model_type == "user_model" else SensorReading
    if end is None:
        newest = _newest(settings, kind)
        if newest is None:
            raise DataError(f"no {kind.kind} in the store to score {model_type} models on")
        end = newest + _US
    start = start or end - timedelta(days=days)
    if start >= end:
        raise DataError(f"the window is empty: start {start} is not before end {end}")
    if model_type == "user_model":
        from skynet.api.data import load_comfort_frame

        frame = load_comfort_frame(settings, None, start, end)
    else:
        from skynet.api.estimation import load_frame

        frame = load_frame(settings, None, start, end, progress=False)
    return frame, start, end


def _score(model_type: str, model: Any, frame: Any) -> dict[str, float]:
    import numpy as np

    if model_type == "user_model":
        from skynet.models.user_model import score

        return score(frame["value"].to_numpy(float), model.predict(frame, personalize=False))
    predicted = model.predict(frame)
    out = {}
    for quantity, suffix in (("temperature", ""), ("humidity", "_humidity")):
        columns = [c for c in model.targets if c.startswith(f"{quantity}_")]
        truth, guess = frame[columns].to_numpy(float), predicted[columns].to_numpy(float)
        ok = np.isfinite(truth)
        if not ok.any():
            raise DataError(f"no measured {quantity} {columns[0]} ... in the window: nothing to score")
        error = np.where(ok, guess - truth, np.nan)
        out[f"mae{suffix}"] = float(np.nanmean(np.abs(error)))
        out[f"rmse{suffix}"] = float(np.sqrt(np.nanmean(error**2)))
    return out


def _overlaps(version: Any, start: datetime) -> bool:
    """Whether the model was trained on data inside the window (then its score flatters it)."""
    trained_to = version.lineage.get("train_end")
    return trained_to is not None and datetime.fromisoformat(str(trained_to).replace("Z", "")) >= start


def compare(
    settings: Settings,
    refs: list[str],
    start: datetime | None = None,
    end: datetime | None = None,
    days: float = 7.0,
) -> dict[str, Any]:
    """Score models of one type on the same held-out window.

    Args:
        refs: model references (``NAME`` or ``TYPE@ALIAS``), one or more, of one type.
        start, end: the window ``[start, end)``; by default the newest ``days`` days of data.

    Returns:
        ``models`` (per model: name, reference, metrics, whether it was trained on window data),
        ``table`` (one row per metric, a column per model, and which is ``best``), ``window``
        (start, end, rows) and ``model_type``.

    Raises:
        DataError: no data in the window; ModelError: models of different types or one that
            cannot be used; StorageError: an unknown reference.
    """
    versions = [resolve(settings, ref)[0] for ref in refs]
    kinds = {v.model_type for v in versions}
    if len(kinds) != 1:
        raise ModelError(f"models of different types cannot be compared: {', '.join(sorted(kinds))}")
    model_type = kinds.pop()
    frame, start, end = _window(settings, model_type, start, end, days)
    scored: list[dict[str, Any]] = []
    for ref, version in zip(refs, versions, strict=True):
        name, model = load_trained(settings, model_type, version.name)
        scored.append({"ref": ref, "name": name, "metrics": _score(model_type, model, frame),
                       "trained_on_window": _overlaps(version, start)})  # fmt: skip
    table = []
    for metric in scored[0]["metrics"]:
        row: dict[str, Any] = {"metric": metric}
        values = [s["metrics"][metric] for s in scored]
        row.update({s["ref"]: v for s, v in zip(scored, values, strict=True)})
        key = (lambda v: abs(v)) if metric == "bias" else (lambda v: v)
        pick = min if metric in LOWER_IS_BETTER else max
        row["best"] = scored[values.index(pick(values, key=key))]["ref"] if len(scored) > 1 else ""
        table.append(row)
    window = {"start": start.isoformat(), "end": end.isoformat(), "rows": int(len(frame))}
    return {"model_type": model_type, "models": scored, "table": table, "window": window}


def backtest(
    settings: Settings, ref: str | None, model_type: str, start: datetime | None = None,
    end: datetime | None = None, days: float = 7.0,
) -> dict[str, Any]:  # fmt: skip
    """Score one stored model (default: ``TYPE@production``, else the newest) on a held-out window.

    Returns:
        As :func:`compare` for one model.
    """
    version, _ = resolve(settings, ref, model_type)
    return compare(settings, [ref or version.name], start, end, days)


def promote_if_better(
    settings: Settings,
    candidate: str,
    alias: str = DEFAULT_ALIAS,
    metric: str = "mae",
    margin: float = 0.0,
    start: datetime | None = None,
    end: datetime | None = None,
    days: float = 7.0,
) -> dict[str, Any]:
    """Promote ``candidate`` to ``TYPE@alias`` when it beats the current one by ``margin``.

    The candidate wins when its ``metric`` is better by at least ``margin`` (absolute, in the
    metric's units) on the same held-out window, or when the alias does not exist yet or its
    model cannot be used. Otherwise the alias is left alone. Either way the decision and why
    are logged and returned; only a broken candidate or bad input is an error.

    Returns:
        ``promoted`` (bool), ``reason``, ``candidate``, ``current`` (the alias's model before,
        or None), ``metric``, ``margin``, and the comparison (``table``, ``window``) when one was made.

    Raises:
        ModelError: the candidate cannot be used, or ``metric`` is not one the models are scored on.
    """
    version, _ = resolve(settings, candidate)
    kind = version.model_type
    load_trained(settings, kind, version.name)  # a broken candidate is an error, not a "not better"
    with open_model_registry(settings) as registry:
        current = registry.alias(kind, check_alias(alias))
    out: dict[str, Any] = {"candidate": version.name, "current": None if current is None else current.name,
                           "alias": f"{kind}@{alias}", "metric": metric, "margin": margin}  # fmt: skip
    reason, better = None, False
    if current is None:
        better, reason = True, f"no {kind}@{alias} yet"
    elif current.name == version.name:
        reason = f"{version.name} is already {kind}@{alias}"
    else:
        try:
            load_trained(settings, kind, current.name)
        except (ModelError, StorageError) as exc:
            better, reason = True, f"the current {kind}@{alias}, {current.name}, cannot be used ({exc})"
    if reason is None:
        try:
            result = compare(settings, [candidate, f"{kind}@{alias}"], start, end, days)
        except DataError as exc:
            reason = f"no comparison, alias left alone: {exc}"
        else:
            out.update(table=result["table"], window=result["window"])
            mine, theirs = (m["metrics"] for m in result["models"])
            if metric not in mine:
                raise ModelError(f"{kind} models are scored on {', '.join(mine)}, not {metric!r}")
            a, b = (
                (abs(mine[metric]), abs(theirs[metric]))
                if metric == "bias"
                else (mine[metric], theirs[metric])
            )
            gain = (b - a) if metric in LOWER_IS_BETTER else (a - b)
            better = gain >= margin
            verdict = "better" if better else "not better"
            reason = (f"{metric} {mine[metric]:.4f} vs {theirs[metric]:.4f} on {result['window']['rows']} rows "
                      f"({result['window']['start'][:16]} to {result['window']['end'][:16]}): {verdict} by the "
                      f"margin {margin:g}")  # fmt: skip
    out.update(promoted=better, reason=reason)
    if better:
        promote(settings, version.name, alias, reason)
    else:
        log.info("kept %s@%s (%s): %s", kind, alias, out["current"], reason)
    return out
