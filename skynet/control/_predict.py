"""The two batched model calls of a batch of decisions, timed and checked.

- :func:`forecast_many`: ONE estimation-model call (``predict_candidates_many(states,
  candidates)``) for every candidate of every device: indoor temperature and humidity at each
  horizon;
- :func:`comfort_many`: ONE comfort-model call (``predict_many(groups, offsets)``) for every
  candidate and horizon at its forecast climate (expected feedback, -3 … 3), each device's
  rows with its personal offset (None: the offset the model learned for the device). Each
  device's distinct rows are asked once: candidates whose forecasts are the same (set points
  beyond what the unit reaches in the horizon, say) share one prediction.

:class:`Models` holds the two models. A model without the batched call (a test double with
``predict_candidates(state, candidates)`` or ``predict(frame)`` only) is asked device by device
through a small adapter, declared once here rather than probed at every call.

A missing model, an exception, a call slower than its budget or a NaN / infinite answer raise
:class:`ModelFailure` carrying a typed :class:`~skynet.control.Fallback` (the kind, the model,
the particulars); the decision then falls back to the rule-based thermostat.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from skynet.control._candidates import Candidates
from skynet.control._features import air_speed, comfort_columns
from skynet.control._types import Context, FailureKind, Fallback

__all__ = ["Models", "ModelFailure", "forecast_many", "comfort_many"]

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
        estimator: the estimation model: ``predict_candidates_many(states, candidates)`` (see
            :class:`skynet.models.estimation.EstimationModel`), or ``predict_candidates(state,
            candidates)`` alone.
        comfort: the comfort model: ``predict_many(groups, offsets)`` (see
            :class:`skynet.models.user_model.UserModel`), or ``predict(frame)`` alone.
    """

    estimator: Any = None
    comfort: Any = None
    _batched: tuple[Any, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        estimator, comfort = self.estimator, self.comfort
        if estimator is not None and not hasattr(estimator, "predict_candidates_many"):
            estimator = _RoomByRoom(estimator)
        if comfort is not None and not hasattr(comfort, "predict_many"):
            comfort = _FrameByFrame(comfort)
        self._batched = (estimator, comfort)


class _RoomByRoom:
    """An estimation model with ``predict_candidates`` only, asked room by room."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.horizons = getattr(model, "horizons", ())

    def predict_candidates_many(
        self, states: Sequence[Mapping[str, Any]], candidates: Sequence[Any]
    ) -> list[Any]:
        return [self.model.predict_candidates(s, c) for s, c in zip(states, candidates, strict=True)]


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


def forecast_many(
    models: Models,
    states: Sequence[Mapping[str, Any]],
    cands: Sequence[Candidates],
    horizons: tuple[int, ...],
    budget: float,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Forecast temperature and humidity ``(n, len(horizons))`` of every device's candidates.

    Raises:
        ModelFailure: no estimator, it failed, was too slow, lacks a horizon or returned NaN
            (for the whole batch: ``budget`` bounds the one call).
    """
    estimator = models._batched[0]
    if estimator is None:
        raise ModelFailure(Fallback(FailureKind.MISSING, ESTIMATION))
    arrays = [c.array for c in cands]
    outs = _timed(ESTIMATION, lambda: estimator.predict_candidates_many(states, arrays), budget)
    if len(outs) != len(cands):
        raise _invalid(ESTIMATION, "the wrong number of rooms")
    return [_forecast_answer(estimator, out, len(c), horizons) for out, c in zip(outs, cands, strict=True)]


def _forecast_answer(
    estimator: Any, out: Any, n: int, horizons: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    model_horizons = tuple(int(h) for h in getattr(out, "horizons", getattr(estimator, "horizons", ())))
    try:
        temperature, humidity = _columns(out, "temperature"), _columns(out, "humidity")
        idx = [model_horizons.index(h) for h in horizons]
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise _invalid(ESTIMATION, f"an answer that lacks {exc} (horizons {model_horizons})") from None
    temperature, humidity = temperature[:, idx], humidity[:, idx]
    if temperature.shape[0] != n or not (np.isfinite(temperature).all() and np.isfinite(humidity).all()):
        raise _invalid(ESTIMATION, "NaN or the wrong number of forecasts")
    return temperature, humidity


def _columns(out: Any, name: str) -> np.ndarray:
    value = out[name] if isinstance(out, Mapping) else getattr(out, name)
    array = np.asarray(value, dtype=float)
    return array if array.ndim == 2 else array.reshape(len(array), -1)


def comfort_many(
    models: Models,
    contexts: Sequence[Context],
    cands: Sequence[Candidates],
    temperatures: Sequence[np.ndarray],
    humidities: Sequence[np.ndarray],
    budget: float,
) -> list[np.ndarray]:
    """Predicted feedback ``(n, horizons)`` of every device's candidates at their forecast climates.

    Raises:
        ModelFailure: no comfort model, it failed, was too slow or returned NaN (for the whole batch).
    """
    model = models._batched[1]
    if model is None:
        raise ModelFailure(Fallback(FailureKind.MISSING, COMFORT))
    # every device's rows, then the distinct rows of each device (in device order) in one sort
    climates = [_climates(k, t, rh) for k, t, rh in zip(cands, temperatures, humidities, strict=True)]
    sizes = [len(c[0]) for c in climates]
    device = np.repeat(np.arange(len(climates)), sizes)
    ta, rh, va = (np.concatenate([c[i] for c in climates]) for i in range(3))
    first, inverse = _distinct_rows(device, ta, rh, va)
    ends = np.cumsum(np.bincount(device[first], minlength=len(climates)))
    starts = [0, *ends[:-1]]
    groups = [comfort_columns(context, ta[first[lo:hi]], rh[first[lo:hi]], va[first[lo:hi]])
              for context, lo, hi in zip(contexts, starts, ends, strict=True)]  # fmt: skip
    offsets = [c.comfort_offset for c in contexts]
    values = _timed(COMFORT, lambda: model.predict_many(groups, offsets), budget)
    if len(values) != len(groups) or any(
        np.shape(v) != (hi - lo,) for v, lo, hi in zip(values, starts, ends, strict=True)
    ):
        raise _invalid(COMFORT, "the wrong number of predictions")
    every = np.concatenate([np.asarray(v, dtype=float) for v in values])[inverse]
    if not np.isfinite(every).all():
        raise _invalid(COMFORT, "NaN")
    return [np.clip(part, -3.0, 3.0).reshape(t.shape)
            for part, t in zip(np.split(every, np.cumsum(sizes)[:-1]), temperatures, strict=True)]  # fmt: skip


def _climates(
    cands: Candidates, temperature: np.ndarray, humidity: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Temperature, humidity and air speed of every candidate at every horizon (candidate-major)."""
    h = temperature.shape[1]
    speed = air_speed(cands.power, cands.fan)
    return temperature.ravel(), np.minimum(np.maximum(humidity.ravel(), 0.0), 100.0), np.repeat(speed, h)


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
