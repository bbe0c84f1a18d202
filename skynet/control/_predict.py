"""The two batched model calls of a decision, timed and checked.

- :func:`forecast`: ONE call of the estimation model's ``predict_candidates(state,
  candidates)`` for every candidate (indoor temperature and humidity at each horizon);
- :func:`comfort`: ONE call of the comfort model for every candidate and horizon at its
  forecast climate (expected feedback, -3 … 3): ``predict_arrays(columns, offset=None)``
  when the model has it (comfort-frame column name -> array or scalar; ``offset`` the device's
  personal offset, None: the one it learned for ``device_id``), else ``predict(frame)`` on a
  DataFrame of those columns (a personal offset is then added to the expected vote).

The comfort model's fast path is asked once per distinct row: candidates whose forecasts are
the same (set points beyond what the unit reaches in the horizon, say) share one prediction.

:func:`forecast_many` and :func:`comfort_many` are the same calls for several devices at once
(``predict_candidates_many`` / ``predict_many`` of the real models: one network pass, one
feature computation and tree walk for all): each device gets the numbers its own call gives.

A missing model, an exception, a call slower than its budget or a NaN / infinite answer raise
:class:`ModelFailure` with the cause; :func:`skynet.control.decide` then falls back to the
rule-based thermostat.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from skynet.control._types import Context
from skynet.data.estimation import LAGS, WINDOW
from skynet.domain import ApplianceState

__all__ = [
    "ModelFailure",
    "forecast",
    "forecast_many",
    "comfort",
    "comfort_many",
    "estimation_state",
    "AIR_SPEED_OFF",
    "AIR_SPEED_BY_FAN",
]

#: Air speed at the occupants (m/s) with the AC off, and by fan code while it runs.
AIR_SPEED_OFF = 0.1
AIR_SPEED_BY_FAN = np.array([0.22, 0.2, 0.25, 0.3])  # auto, low, medium, high


class ModelFailure(Exception):
    """A model could not be used for this decision; ``cause`` says why (for logs and the decision)."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


def _timed(name: str, call: Callable[[], Any], budget: float) -> Any:
    started = time.perf_counter()
    try:
        out = call()
    except Exception as exc:  # noqa: BLE001 - any model error means: decide without it
        raise ModelFailure(f"{name} raised {type(exc).__name__}: {exc}") from exc
    spent = time.perf_counter() - started
    if spent > budget:
        raise ModelFailure(f"{name} took {spent * 1000:.0f} ms (budget {budget * 1000:.0f} ms)")
    return out


def estimation_state(context: Context, state: ApplianceState | None, now: Any) -> dict[str, Any]:
    """The estimation model's inputs (``skynet.data.ESTIMATION_INPUTS``) for ``context``."""
    row: dict[str, Any] = {
        "temperature": context.temperature,
        "humidity": context.humidity,
        "outdoor_temperature": context.outdoor_temperature,
        "outdoor_humidity": context.outdoor_humidity,
        "hour": context.hour,
    }
    for lag in LAGS:
        row[f"temperature_lag{lag}"] = context.temperature_lags.get(lag, np.nan)
        row[f"humidity_lag{lag}"] = context.humidity_lags.get(lag, np.nan)
    row[f"temperature_mean{WINDOW}"] = context.temperature_mean
    row[f"humidity_mean{WINDOW}"] = context.humidity_mean
    if state is None:
        row.update(power=0.0, mode=None, set_temperature=np.nan, fan=None, ac_minutes=np.nan)
    else:
        row.update(
            power=float(bool(state.power)),
            mode=state.mode,
            set_temperature=np.nan if state.set_temperature is None else state.set_temperature,
            fan=state.fan,
            ac_minutes=max((now - state.timestamp).total_seconds() / 60.0, 0.0),
        )
    return row


def forecast(
    estimator: Any, state: Mapping[str, Any], cands: np.ndarray, horizons: tuple[int, ...], budget: float
) -> tuple[np.ndarray, np.ndarray]:
    """Forecast temperature and humidity ``(n, len(horizons))`` of every candidate.

    Raises:
        ModelFailure: no estimator, it failed, was too slow, lacks a horizon or returned NaN.
    """
    if estimator is None:
        raise ModelFailure("no estimation model")
    out = _timed("estimation model", lambda: estimator.predict_candidates(state, cands), budget)
    return _forecast_answer(estimator, out, cands, horizons)


def forecast_many(
    estimator: Any,
    states: Sequence[Mapping[str, Any]],
    cands: Sequence[np.ndarray],
    horizons: tuple[int, ...],
    budget: float,
) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """:func:`forecast` of several devices in ONE ``predict_candidates_many`` call.

    Returns:
        Per device, its forecasts; None when the estimator has no batched call.

    Raises:
        ModelFailure: as :func:`forecast`, for the whole batch (``budget`` bounds the one call).
    """
    many = getattr(estimator, "predict_candidates_many", None)
    if many is None:
        return None
    outs = _timed("estimation model", lambda: many(states, cands), budget)
    if len(outs) != len(cands):
        raise ModelFailure("estimation model returned the wrong number of rooms")
    return [_forecast_answer(estimator, out, c, horizons) for out, c in zip(outs, cands, strict=True)]


def _forecast_answer(
    estimator: Any, out: Any, cands: np.ndarray, horizons: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    model_horizons = tuple(int(h) for h in getattr(out, "horizons", getattr(estimator, "horizons", ())))
    try:
        temperature, humidity = _columns(out, "temperature"), _columns(out, "humidity")
        idx = [model_horizons.index(h) for h in horizons]
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise ModelFailure(f"estimation model answer lacks {exc} (horizons {model_horizons})") from None
    temperature, humidity = temperature[:, idx], humidity[:, idx]
    if temperature.shape[0] != len(cands) or not (
        np.isfinite(temperature).all() and np.isfinite(humidity).all()
    ):
        raise ModelFailure("estimation model returned NaN or the wrong number of forecasts")
    return temperature, humidity


def _columns(out: Any, name: str) -> np.ndarray:
    value = out[name] if isinstance(out, Mapping) else getattr(out, name)
    array = np.asarray(value, dtype=float)
    return array if array.ndim == 2 else array.reshape(len(array), -1)


def comfort(
    model: Any,
    context: Context,
    cands: np.ndarray,
    temperature: np.ndarray,
    humidity: np.ndarray,
    budget: float,
) -> np.ndarray:
    """Predicted feedback ``(n, horizons)`` of every candidate at its forecast climate.

    Raises:
        ModelFailure: no comfort model, it failed, was too slow or returned NaN.
    """
    if model is None:
        raise ModelFailure("no comfort model")
    n, h = temperature.shape
    fast = getattr(model, "predict_arrays", None)
    if fast is not None:  # one numpy pass over the distinct rows, no DataFrame (what a worker wants)
        columns, inverse = _comfort_columns(context, cands, temperature, humidity, distinct=True)
        offset = context.comfort_offset
        values = _timed("comfort model", lambda: fast(columns, offset=offset), budget)
        return _comfort_answer(np.asarray(values, dtype=float), inverse, n, h)
    import pandas as pd

    columns, _ = _comfort_columns(context, cands, temperature, humidity, distinct=False)
    offset = context.comfort_offset
    if offset is not None:
        call = lambda: model.predict(pd.DataFrame(columns), personalize=False) + offset  # noqa: E731
    else:
        call = lambda: model.predict(pd.DataFrame(columns))  # noqa: E731
    return _comfort_answer(np.asarray(_timed("comfort model", call, budget), dtype=float), None, n, h)


def comfort_many(
    model: Any,
    contexts: Sequence[Context],
    cands: Sequence[np.ndarray],
    temperatures: Sequence[np.ndarray],
    humidities: Sequence[np.ndarray],
    budget: float,
) -> list[np.ndarray] | None:
    """:func:`comfort` of several devices in ONE ``predict_many`` call of the comfort model.

    Returns:
        Per device, its predicted feedback; None when the model has no batched call.

    Raises:
        ModelFailure: as :func:`comfort`, for the whole batch (``budget`` bounds the one call).
    """
    many = getattr(model, "predict_many", None)
    if many is None or getattr(model, "predict_arrays", None) is None:
        return None
    # every device's rows, then the distinct rows of each device (in device order) in one sort
    climates = [_climates(k, t, rh) for k, t, rh in zip(cands, temperatures, humidities, strict=True)]
    sizes = [len(c[0]) for c in climates]
    device = np.repeat(np.arange(len(climates)), sizes)
    ta, rh, va = (np.concatenate([c[i] for c in climates]) for i in range(3))
    first, inverse = _distinct_rows(device, ta, rh, va)
    ends = np.cumsum(np.bincount(device[first], minlength=len(climates)))
    groups = [_columns_of(context, ta[first[lo:hi]], rh[first[lo:hi]], va[first[lo:hi]])
              for context, lo, hi in zip(contexts, [0, *ends[:-1]], ends, strict=True)]  # fmt: skip
    offsets = [c.comfort_offset for c in contexts]
    values = _timed("comfort model", lambda: many(groups, offsets), budget)
    if len(values) != len(groups) or any(np.shape(v) != (hi - lo,) for v, lo, hi in
                                         zip(values, [0, *ends[:-1]], ends, strict=True)):  # fmt: skip
        raise ModelFailure("comfort model returned the wrong number of predictions")
    every = np.concatenate([np.asarray(v, dtype=float) for v in values])[inverse]
    return [_comfort_answer(part, None, *t.shape)
            for part, t in zip(np.split(every, np.cumsum(sizes)[:-1]), temperatures, strict=True)]  # fmt: skip


def _comfort_columns(
    context: Context, cands: np.ndarray, temperature: np.ndarray, humidity: np.ndarray, distinct: bool
) -> tuple[dict[str, Any], np.ndarray | None]:
    """The comfort model's columns, one row per candidate and horizon; with ``distinct``, one
    row per distinct climate and the index of each candidate-and-horizon's row."""
    ta, rh, va = _climates(cands, temperature, humidity)
    inverse = None
    if distinct:
        first, inverse = _distinct_rows(ta, rh, va)
        ta, rh, va = ta[first], rh[first], va[first]
    return _columns_of(context, ta, rh, va), inverse


def _climates(
    cands: np.ndarray, temperature: np.ndarray, humidity: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Temperature, humidity and air speed of every candidate at every horizon (candidate-major)."""
    h = temperature.shape[1]
    on = cands[:, 0] > 0.5
    # np.minimum(np.maximum()) is np.clip, several times faster on short arrays
    speed = np.where(
        on, AIR_SPEED_BY_FAN[np.minimum(np.maximum(cands[:, 3].astype(int), 0), 3)], AIR_SPEED_OFF
    )
    return temperature.ravel(), np.minimum(np.maximum(humidity.ravel(), 0.0), 100.0), np.repeat(speed, h)


def _columns_of(context: Context, ta: np.ndarray, rh: np.ndarray, va: np.ndarray) -> dict[str, Any]:
    return {
        "temperature": ta,
        "humidity": rh,
        "air_speed": va,
        "outdoor_temperature": context.outdoor_temperature,
        "outdoor_humidity": context.outdoor_humidity,
        "outdoor_running_mean": (
            np.nan if context.outdoor_running_mean is None else context.outdoor_running_mean
        ),
        "device_id": context.device_id,
        "timestamp": context.timestamp,
        **context.device_facts,
    }


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


def _comfort_answer(values: np.ndarray, inverse: np.ndarray | None, n: int, h: int) -> np.ndarray:
    if inverse is not None:
        if values.shape != (int(inverse.max()) + 1 if len(inverse) else 0,):
            raise ModelFailure("comfort model returned NaN or the wrong number of predictions")
        values = values[inverse]
    if values.shape != (n * h,) or not np.isfinite(values).all():
        raise ModelFailure("comfort model returned NaN or the wrong number of predictions")
    return np.clip(values, -3.0, 3.0).reshape(n, h)
