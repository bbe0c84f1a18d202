"""What the models are served: the serving half of their feature assembly, shared with training.

- **Estimation model.** :func:`estimation_inputs` gives the model the fields of
  :data:`skynet.data.ESTIMATION_INPUTS` for a decision: the reading fields come from
  :func:`skynet.data.recent_inputs` (the same code as the training frame's rows; see
  :func:`skynet.control.build_context`), the AC fields from the state in force and how long it
  has been in force (``ac_minutes``, as the frame counts it: since the setting last changed).
  Every key is always there (a missing one would be an error in the model, never a NaN); so
  are a context's lags (:class:`~skynet.control.Context` starts them unknown, NaN).
- **Comfort model.** :func:`comfort_columns` gives its columns at a forecast climate: the
  comfort frame's (:data:`skynet.data.COMFORT_COLUMNS`) that a controller knows, with the air
  speed of the AC's fan (:func:`air_speed`: the table the training votes get too, see
  :func:`skynet.api._control_train.with_air_speed`); :func:`vote_row` is one vote with the
  climate it was given in, as a personalizer learns from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

import numpy as np

from skynet.control._types import Context, same_setting
from skynet.data.estimation import LAGS, WINDOW
from skynet.domain import ApplianceState

__all__ = [
    "estimation_inputs",
    "in_force",
    "comfort_columns",
    "vote_row",
    "air_speed",
    "AIR_SPEED_OFF",
    "AIR_SPEED_BY_FAN",
]

#: Air speed at the occupants (m/s) with the AC off, and by fan code while it runs.
AIR_SPEED_OFF = 0.1
AIR_SPEED_BY_FAN = np.array([0.22, 0.2, 0.25, 0.3])  # auto, low, medium, high
_FACT_KEYS = ("latitude", "climate", "building_type", "cooling_type")


def air_speed(power: Any, fan: Any) -> Any:
    """Air speed (m/s) at the occupants for AC power (bool) and fan codes; arrays or scalars."""
    fan = np.minimum(np.maximum(np.asarray(fan, dtype=np.int64), 0), 3)
    return np.where(power, AIR_SPEED_BY_FAN[fan], AIR_SPEED_OFF)


def estimation_inputs(context: Context, state: ApplianceState | None, now: datetime) -> dict[str, Any]:
    """The estimation model's inputs (every :data:`skynet.data.ESTIMATION_INPUTS` key) for a decision.

    ``state`` is the AC's setting in force, its ``timestamp`` when that setting began.
    """
    row: dict[str, Any] = {
        "temperature": context.temperature,
        "humidity": context.humidity,
        "outdoor_temperature": context.outdoor_temperature,
        "outdoor_humidity": context.outdoor_humidity,
        "hour": context.hour,
    }
    for lag in LAGS:
        row[f"temperature_lag{lag}"] = context.temperature_lags[lag]
        row[f"humidity_lag{lag}"] = context.humidity_lags[lag]
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


def in_force(states: Iterable[ApplianceState]) -> ApplianceState | None:
    """The newest of a device's AC states, timed from when its setting began (as the estimation
    frame counts ``ac_minutes``: a repeated report of the setting in force does not restart it)."""
    ordered = sorted(states, key=lambda s: s.timestamp)
    if not ordered:
        return None
    newest, since = ordered[-1], ordered[-1].timestamp
    for earlier in reversed(ordered[:-1]):
        if not same_setting(earlier, newest):
            break
        since = earlier.timestamp
    return replace(newest, timestamp=since)


def comfort_columns(context: Context, ta: np.ndarray, rh: np.ndarray, va: np.ndarray) -> dict[str, Any]:
    """The comfort model's columns for rows at temperatures ``ta``, humidities ``rh`` and air
    speeds ``va`` in the situation of ``context`` (the person's clothing and activity unknown)."""
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


def vote_row(
    device_id: str,
    timestamp: datetime,
    hour: float,
    value: float,
    temperature: float,
    humidity: float,
    speed: float,
    outdoor_temperature: float,
    outdoor_humidity: float,
    facts: dict[str, Any] | None = None,
    **known: Any,
) -> dict[str, Any]:
    """One vote with the climate it was given in and the local ``hour`` (what a
    :class:`~skynet.control.Personalizer` learns from); ``known`` adds other comfort-frame
    columns the voter's device reported (``user_id``, ``clothing``, ``outdoor_running_mean`` ...)."""
    return {
        "device_id": device_id, "timestamp": timestamp, "hour": hour, "value": value,
        "temperature": temperature, "humidity": humidity, "air_speed": speed,
        "outdoor_temperature": outdoor_temperature, "outdoor_humidity": outdoor_humidity,
        **{k: v for k, v in (facts or {}).items() if k in _FACT_KEYS}, **known,
    }  # fmt: skip
