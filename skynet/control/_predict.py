"""The two batched model calls of a decision, timed and checked.

- :func:`forecast`: ONE call of the estimation model's ``predict_candidates(state,
  candidates)`` for every candidate (indoor temperature and humidity at each horizon);
- :func:`comfort`: ONE call of the comfort model for every candidate and horizon at its
  forecast climate (expected feedback, -3 … 3): ``predict_arrays(columns, offset=None)``
  when the model has it (comfort-frame column name -> array or scalar; ``offset`` the device's
  personal offset, None: the one it learned for ``device_id``), else ``predict(frame)`` on a
  DataFrame of those columns (a personal offset is then added to the expected vote).

A missing model, an exception, a call slower than its budget or a NaN / infinite answer raise
:class:`ModelFailure` with the cause; :func:`skynet.control.decide` then falls back to the
rule-based thermostat.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from skynet.control._types import Context
from skynet.data.estimation import LAGS, WINDOW
from skynet.domain import ApplianceState

__all__ = ["ModelFailure", "forecast", "comfort", "estimation_state", "AIR_SPEED_OFF", "AIR_SPEED_BY_FAN"]

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
    import pandas as pd

    n, h = temperature.shape
    on = cands[:, 0] > 0.5
    speed = np.where(on, AIR_SPEED_BY_FAN[cands[:, 3].astype(int).clip(0, 3)], AIR_SPEED_OFF)
    columns: dict[str, Any] = {
        "temperature": temperature.ravel(),
        "humidity": np.clip(humidity.ravel(), 0.0, 100.0),
        "air_speed": np.repeat(speed, h),
        "outdoor_temperature": context.outdoor_temperature,
        "outdoor_humidity": context.outdoor_humidity,
        "outdoor_running_mean": (
            np.nan if context.outdoor_running_mean is None else context.outdoor_running_mean
        ),
        "device_id": context.device_id,
        "timestamp": context.timestamp,
        **context.device_facts,
    }
    offset = context.comfort_offset
    fast = getattr(model, "predict_arrays", None)
    if fast is not None:  # one numpy pass, no DataFrame (what a worker wants)
        call = lambda: fast(columns, offset=offset)  # noqa: E731
    elif offset is not None:
        call = lambda: model.predict(pd.DataFrame(columns), personalize=False) + offset  # noqa: E731
    else:
        call = lambda: model.predict(pd.DataFrame(columns))  # noqa: E731
    values = np.asarray(_timed("comfort model", call, budget), dtype=float)
    if values.shape != (n * h,) or not np.isfinite(values).all():
        raise ModelFailure("comfort model returned NaN or the wrong number of predictions")
    return np.clip(values, -3.0, 3.0).reshape(n, h)
