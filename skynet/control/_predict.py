"""The models' batched calls for a batch of plans, timed and checked.

- :func:`rollout_many`: the estimation model rolled forward over every sequence of every
  device of the batch (:func:`skynet.control._rollout.rollout`): ONE call of
  ``predict_inputs(arrays)`` per plan step for all of them;
- :func:`feedback_many`: ONE comfort-model call (``predict_many(groups, offsets)``) for the
  rows of every device, each group with its personal offset (None: the offset the model
  learned for the device). A group's distinct rows are asked once (its temperatures rounded to
  0.1 K and humidities to 1 %RH: plans that hold a set point repeat their climate).

:class:`Models` holds the two models. A model without the batched call (a test double with
``predict_candidates(state, candidates)`` or ``predict(frame)`` only) is asked row by row
through a small adapter, declared once here rather than probed at every call.
:func:`training_range` is where the comfort model's trees tell temperatures apart.

A missing model, an exception, calls slower than their budget or a NaN / infinite answer raise
:class:`ModelFailure` carrying a typed :class:`~skynet.control.Fallback` (the kind, the model,
the particulars); the decision then falls back to the rule-based thermostat.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from skynet.control._features import comfort_columns
from skynet.control._rollout import Rollout, rollout
from skynet.control._types import Context, FailureKind, Fallback
from skynet.domain import Fan, Mode

__all__ = ["Models", "ModelFailure", "rollout_many", "feedback_many", "training_range"]

ESTIMATION, COMFORT = "estimation model", "comfort model"


class ModelFailure(Exception):
    """A model could not be used for these decisions; ``fallback`` says why, as typed fields."""

    def __init__(self, fallback: Fallback) -> None:
        super().__init__(fallback.cause)
        self.fallback = fallback


@dataclass
class Models:
    """The models a decision may use (None: missing; the fallback thermostat decides).

    Attributes:
        estimator: the estimation model: ``predict_inputs(arrays)`` (see
            :class:`skynet.models.estimation.EstimationModel`), or ``predict_candidates(state,
            candidates)`` alone.
        comfort: the comfort model: ``predict_many(groups, offsets)`` (see
            :class:`skynet.models.user_model.UserModel`), or ``predict(frame)`` alone.
    """

    estimator: Any = None
    comfort: Any = None
    _batched: tuple[Any, Any] = field(init=False, repr=False, compare=False)
    _range: tuple[float, float] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        estimator, comfort = self.estimator, self.comfort
        if estimator is not None and not hasattr(estimator, "predict_inputs"):
            estimator = _RoomByRoom(estimator)
        if comfort is not None and not hasattr(comfort, "predict_many"):
            comfort = _FrameByFrame(comfort)
        self._batched = (estimator, comfort)
        self._range = training_range(self.comfort) if self.comfort is not None else None

    def guard(self, config: Any) -> tuple[float, float] | None:
        """Where the comfort model is trusted (°C): ``config.comfort_range``, else the
        temperatures it learned from (:func:`training_range`); always within the safety range."""
        found = config.comfort_range or self._range
        if not found:
            return None
        low, high = max(found[0], config.min_set_temperature), min(found[1], config.max_set_temperature)
        return (low, high) if low < high else None


class _RoomByRoom:
    """An estimation model with ``predict_candidates`` only, asked row by row (``predict_inputs``)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.horizons = getattr(model, "horizons", ())

    def predict_inputs(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        n = len(np.asarray(inputs["temperature"]))
        temperatures, humidities = [], []
        for i in range(n):
            row = {k: (np.asarray(v)[i] if np.ndim(v) else v) for k, v in inputs.items()}
            command = np.array([[row["power"], row["mode"], row["set_temperature"], row["fan"]]], dtype=float)
            row["mode"] = Mode(int(row["mode"])).label if row["mode"] >= 0 else None
            row["fan"] = Fan(int(row["fan"])).label if row["fan"] >= 0 else None
            out = self.model.predict_candidates(row, command)
            temperatures.append(_columns(out, "temperature")[0])
            humidities.append(_columns(out, "humidity")[0])
        return {"temperature": np.array(temperatures), "humidity": np.array(humidities)}


class _FrameByFrame:
    """A comfort model with ``predict(frame)`` only, asked device by device (a personal offset is
    added to its unpersonalized prediction)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict_many(self, groups: Sequence[Mapping[str, Any]], offsets: Sequence[float | None]) -> list[Any]:
        import pandas as pd

        out = []
        for columns, offset in zip(groups, offsets, strict=True):
            n = len(columns["temperature"])
            frame = pd.DataFrame({k: v if np.ndim(v) else [v] * n for k, v in columns.items()})
            if offset is None:
                out.append(self.model.predict(frame))
            else:
                out.append(np.asarray(self.model.predict(frame, personalize=False), dtype=float) + offset)
        return out


def _timed(name: str, call: Callable[[], Any], budget: float) -> Any:
    started = time.perf_counter()
    try:
        out = call()
    except Exception as exc:  # noqa: BLE001 - any model error means: decide without it
        raise ModelFailure(Fallback(FailureKind.RAISED, name, type(exc).__name__, str(exc))) from exc
    spent = time.perf_counter() - started
    if spent > budget:
        detail = f"{spent * 1000:.0f} ms (budget {budget * 1000:.0f} ms)"
        raise ModelFailure(Fallback(FailureKind.SLOW, name, detail=detail))
    return out


def _invalid(name: str, detail: str) -> ModelFailure:
    return ModelFailure(Fallback(FailureKind.INVALID, name, detail=detail))


def rollout_many(
    models: Models,
    rooms: dict[str, np.ndarray],
    commands: tuple[np.ndarray, ...],
    step: int,
    budget: float,
) -> Rollout:
    """The estimation model rolled over every row's commands (see :func:`skynet.control._rollout.rollout`).

    Raises:
        ModelFailure: no estimator, it failed, a call was slower than ``budget``, it lacks the
            step's horizon or returned NaN.
    """
    estimator = models._batched[0]
    if estimator is None:
        raise ModelFailure(Fallback(FailureKind.MISSING, ESTIMATION))
    horizons = tuple(int(h) for h in getattr(estimator, "horizons", ()))
    if step not in horizons:
        raise _invalid(ESTIMATION, f"no {step}-minute horizon (horizons {horizons})")

    def predict(inputs: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        out = _timed(ESTIMATION, lambda: estimator.predict_inputs(inputs), budget)
        try:
            return _columns(out, "temperature"), _columns(out, "humidity")
        except (KeyError, AttributeError, TypeError, ValueError) as exc:
            raise _invalid(ESTIMATION, f"an answer that lacks {exc}") from None

    power, mode, set_temperature, fan = commands
    roll = rollout(predict, horizons, rooms, power, mode, set_temperature, fan, step)
    if roll.temperature.shape[0] != len(commands[0]):
        raise _invalid(ESTIMATION, "the wrong number of forecasts")
    if not all(np.isfinite(a).all() for a in (roll.temperature, roll.humidity, roll.drift_temperature,
                                                roll.drift_humidity)):  # fmt: skip
        raise _invalid(ESTIMATION, "NaN")
    return roll


def _columns(out: Any, name: str) -> np.ndarray:
    value = out[name] if isinstance(out, Mapping) else getattr(out, name)
    array = np.asarray(value, dtype=float)
    return array if array.ndim == 2 else array.reshape(len(array), -1)


def feedback_many(
    models: Models,
    contexts: Sequence[Context],
    rows: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    offsets: Sequence[float | None],
    budget: float,
) -> list[np.ndarray]:
    """The comfort model's predicted vote (-3 … 3) of each group's rows, in ONE call.

    Args:
        models: the models.
        contexts: each group's device situation (the weather, the device's facts).
        rows: each group's temperatures, humidities and air speeds.
        offsets: each group's personal offset (None: the model's own for the device).
        budget: seconds the call may take.

    Raises:
        ModelFailure: no comfort model, it failed, was too slow or returned NaN.
    """
    model = models._batched[1]
    if model is None:
        raise ModelFailure(Fallback(FailureKind.MISSING, COMFORT))
    asked, inverses = [], []
    for context, (ta, rh, va) in zip(contexts, rows, strict=True):
        first, inverse = _distinct_rows(np.round(ta * 10.0), np.round(rh), va)
        asked.append(comfort_columns(context, ta[first], rh[first], va[first]))
        inverses.append(inverse)
    values = _timed(COMFORT, lambda: model.predict_many(asked, list(offsets)), budget)
    if len(values) != len(asked) or any(
        np.shape(v) != (len(a["temperature"]),) for v, a in zip(values, asked, strict=True)
    ):
        raise _invalid(COMFORT, "the wrong number of predictions")
    out = []
    for v, inverse in zip(values, inverses, strict=True):
        v = np.asarray(v, dtype=float)
        if not np.isfinite(v).all():
            raise _invalid(COMFORT, "NaN")
        out.append(np.clip(v[inverse], -3.0, 3.0))
    return out


def training_range(model: Any) -> tuple[float, float] | None:
    """The indoor temperatures (°C) between which a comfort model tells one from another.

    A model may declare it (``temperature_range_``); for skynet's
    :class:`~skynet.models.user_model.UserModel` it is the span of its trees' splits on the
    indoor temperature: beyond them its answer no longer changes with the temperature (only its
    PMV feature, itself split within the same climates, still would), so a planner reading it
    there would be reading an extrapolation. None when neither is known.
    """
    declared = getattr(model, "temperature_range_", None)
    if declared is not None:
        return float(declared[0]), float(declared[1])
    forest = getattr(model, "forest_", None)
    if forest is None:
        return None
    from skynet.models.user_model._features import FEATURES

    split = (~forest.leaf) & (forest.feature == FEATURES.index("temperature"))
    if not split.any():
        return None
    return float(forest.threshold[split].min()), float(forest.threshold[split].max())


def _distinct_rows(*keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the first row of each distinct key tuple, and each row's distinct index."""
    order = np.lexsort(keys[::-1])
    new = np.empty(len(order), dtype=bool)
    new[:1] = True
    if len(order) > 1:
        ordered = [k[order] for k in keys]
        new[1:] = ordered[0][1:] != ordered[0][:-1]
        for k in ordered[1:]:
            new[1:] |= k[1:] != k[:-1]
    inverse = np.empty(len(order), dtype=np.intp)
    inverse[order] = np.cumsum(new) - 1
    return order[new], inverse
