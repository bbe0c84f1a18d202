"""Features of the estimation model, computed with numpy only (one path for frames and candidates).

Nothing here names a device: the model sees the room's state, the AC command and the weather
through physics-shaped quantities, which is what lets it forecast rooms it never saw:

- the recent trend: ``T - T_lag`` and ``RH - RH_lag`` for each lag (0 when a lag is missing);
- the envelope's pull: ``T_out - T`` and the outdoor-minus-indoor humidity ratio (g/kg);
- the AC's pull, per mode: ``(T - set)`` while cooling, ``(set - T)`` while heating, both
  clipped to a few kelvin (a thermostat saturates), the same for auto and dry, the fan level,
  and how new the state is (``exp(-ac_minutes / 10)``: compressors ramp, rooms lag);
- time of day as a point on the unit circle (solar and occupancy gains).

:func:`features` accepts arrays or scalars for every input and broadcasts them, so scoring
candidate commands needs no pandas: the room's state is scalars, the commands are arrays.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from skynet.domain import Fan, Mode
from skynet.errors import DataError

__all__ = [
    "FEATURE_NAMES",
    "STATE_FEATURES",
    "COMMAND_FEATURES",
    "state_features",
    "state_vector",
    "command_features",
    "LAGS",
    "INPUTS",
    "COMMAND_FIELDS",
    "features",
    "frame_inputs",
    "encode_commands",
    "humidity_ratio",
    "relative_humidity",
]

LAGS = (2, 5, 10, 15, 30)
#: Columns of a candidate command array: power (0/1), mode code, set temperature, fan code.
COMMAND_FIELDS = ("power", "mode", "set_temperature", "fan")
_COOL, _HEAT, _DRY, _FAN_ONLY, _AUTO = Mode.COOL, Mode.HEAT, Mode.DRY, Mode.FAN, Mode.AUTO
#: What the model reads of a room (the estimation frame's input columns, the keys of a room state
#: for :meth:`~skynet.models.estimation.EstimationModel.predict_candidates`): every one must be
#: given — a lag or mean may be NaN (unknown), never absent (a missing key is an error, not a NaN
#: that would let a serving path drift from the training frame unnoticed).
INPUTS = (
    "temperature", "humidity", *[f"temperature_lag{lag}" for lag in LAGS],
    *[f"humidity_lag{lag}" for lag in LAGS], "temperature_mean30", "humidity_mean30",
    "power", "mode", "set_temperature", "fan", "ac_minutes", "outdoor_temperature", "outdoor_humidity", "hour",
)  # fmt: skip
#: Relative airflow by fan code (auto, low, medium, high); auto runs between medium and high.
_FAN_LEVEL = np.array([0.8, 0.5, 0.75, 1.0, 0.7])  # index -1 (unknown) -> 0.7

#: Features of the room and the weather (the same for every candidate command) ...
STATE_FEATURES = [
    "temperature", "humidity", "humidity_ratio",
    *[f"temperature_trend{lag}" for lag in LAGS], *[f"humidity_trend{lag}" for lag in LAGS],
    "temperature_above_mean", "humidity_above_mean",
    "outdoor_minus_indoor", "outdoor_minus_indoor_ratio", "outdoor_humidity",
    "hour_sin", "hour_cos",
]  # fmt: skip
#: ... and of the AC command (with the room temperature it acts on).
COMMAND_FEATURES = [
    "on", "cool", "heat", "dry", "fan_only", "auto",
    "cool_error", "heat_error", "auto_error", "dry_error", "fan_level", "fan_auto", "fresh", "fresh_off",
]  # fmt: skip
FEATURE_NAMES = STATE_FEATURES + COMMAND_FEATURES

_P_ATM = 101_325.0


def humidity_ratio(t: Any, rh: Any) -> Any:
    """Humidity ratio (g water per kg dry air) at ``t`` °C and ``rh`` %RH (Magnus, sea level)."""
    pw = rh * 6.1094 * np.exp(17.625 * t / (t + 243.04))  # rh/100 * 610.94 Pa
    return 621.945 * pw / (_P_ATM - pw)


def relative_humidity(t: Any, w: Any) -> Any:
    """Relative humidity (%) of air at ``t`` °C holding ``w`` g/kg (inverse of :func:`humidity_ratio`)."""
    pw = w * _P_ATM / (621.945 + w)
    return pw / (6.1094 * np.exp(17.625 * t / (t + 243.04)))


def features(inputs: Mapping[str, Any]) -> np.ndarray:
    """The feature matrix (rows, :data:`FEATURE_NAMES` columns) of :func:`frame_inputs`' arrays.

    ``mode`` and ``fan`` are codes (index in :data:`skynet.domain.AC_MODES` /
    ``FAN_SPEEDS``; -1 unknown); ``power`` is 0/1; NaN lags count as no trend, a NaN set
    temperature as no error, a NaN ``ac_minutes`` as a long-settled state.
    """
    n, k = inputs["n"], len(STATE_FEATURES)
    x = np.empty((n, len(FEATURE_NAMES)))
    x[:, :k] = state_features(*(inputs[name] for name in _STATE_INPUTS))
    x[:, k:] = command_features(*(inputs[name] for name in _COMMAND_INPUTS), n)
    return x


_STATE_INPUTS = ("temperature", "humidity", "temperature_lags", "humidity_lags", "temperature_mean", "humidity_mean",
                 "outdoor_temperature", "outdoor_humidity", "hour")  # fmt: skip
_COMMAND_INPUTS = ("temperature", "power", "mode", "set_temperature", "fan", "ac_minutes")


def _no_nan(values: Any) -> Any:
    return np.where(values != values, 0.0, values)


def state_features(
    temperature: Any,
    humidity: Any,
    temperature_lags: tuple[Any, ...],
    humidity_lags: tuple[Any, ...],
    temperature_mean: Any,
    humidity_mean: Any,
    outdoor_temperature: Any,
    outdoor_humidity: Any,
    hour: Any,
) -> np.ndarray:
    """The :data:`STATE_FEATURES` columns: ``(n, k)`` for arrays, ``(k,)`` for scalars."""
    t, rh = temperature, humidity
    w_in = humidity_ratio(t, rh)
    angle = hour * (np.pi / 12.0)
    columns = [
        t, rh, w_in,
        *[_no_nan(t - lagged) for lagged in temperature_lags], *[_no_nan(rh - lagged) for lagged in humidity_lags],
        _no_nan(t - temperature_mean), _no_nan(rh - humidity_mean),
        outdoor_temperature - t, humidity_ratio(outdoor_temperature, outdoor_humidity) - w_in, outdoor_humidity,
        np.sin(angle), np.cos(angle),
    ]  # fmt: skip
    return np.stack(np.broadcast_arrays(*columns), axis=-1).astype(float, copy=False)


def state_vector(
    temperature: float,
    humidity: float,
    temperature_lags: tuple[float, ...],
    humidity_lags: tuple[float, ...],
    temperature_mean: float,
    humidity_mean: float,
    outdoor_temperature: float,
    outdoor_humidity: float,
    hour: float,
) -> np.ndarray:
    """:func:`state_features` of one room given as floats, in plain Python arithmetic (no numpy per value)."""
    t, rh = temperature, humidity

    def ratio(tt: float, r: float) -> float:
        pw = r * 6.1094 * math.exp(17.625 * tt / (tt + 243.04))
        return 621.945 * pw / (_P_ATM - pw)

    def trend(now: float, then: float) -> float:
        delta = now - then
        return 0.0 if delta != delta else delta

    w_in = ratio(t, rh)
    angle = hour * (math.pi / 12.0)
    return np.array([
        t, rh, w_in, *[trend(t, lagged) for lagged in temperature_lags], *[trend(rh, lagged) for lagged in humidity_lags],
        trend(t, temperature_mean), trend(rh, humidity_mean), outdoor_temperature - t,
        ratio(outdoor_temperature, outdoor_humidity) - w_in, outdoor_humidity, math.sin(angle), math.cos(angle),
    ])  # fmt: skip


def command_features(
    temperature: Any, power: Any, mode: Any, set_temperature: Any, fan: Any, ac_minutes: Any, n: int
) -> np.ndarray:
    """The :data:`COMMAND_FEATURES` columns (``n`` rows) of commands acting on rooms at ``temperature``."""
    x = np.empty((n, len(COMMAND_FEATURES)))
    on = np.asarray(power, dtype=float)
    x[:, 0] = on
    for k, code in enumerate((_COOL, _HEAT, _DRY, _FAN_ONLY, _AUTO)):
        np.multiply(on, mode == code, out=x[:, 1 + k])
    error = _no_nan(temperature - set_temperature)  # room above its set point, K
    # np.clip costs several times np.minimum(np.maximum(...)) on short arrays
    near = np.minimum(np.maximum(error, -3.0), 6.0)
    np.multiply(x[:, 1], near, out=x[:, 6])
    np.multiply(x[:, 2], np.minimum(np.maximum(-error, -3.0), 6.0), out=x[:, 7])
    np.multiply(x[:, 5], np.minimum(np.maximum(error, -6.0), 6.0), out=x[:, 8])
    np.multiply(x[:, 3], near, out=x[:, 9])
    fan_code = np.asarray(fan).astype(np.int64)
    np.multiply(on, _FAN_LEVEL[fan_code], out=x[:, 10])  # code -1 (unknown) reads the last entry
    np.multiply(on, fan_code == 0, out=x[:, 11])
    fresh = np.exp(np.where(ac_minutes != ac_minutes, -100.0, np.multiply(ac_minutes, -0.1)))
    np.multiply(on, fresh, out=x[:, 12])
    np.multiply(1.0 - on, fresh, out=x[:, 13])
    return x


def _codes(values: Any, kind: type[Mode] | type[Fan], what: str) -> np.ndarray:
    """Codes of mode or fan names (-1 for missing); integers pass through."""
    values = pd.Series(values)
    if pd.api.types.is_numeric_dtype(values):
        return values.fillna(-1).to_numpy(np.int64)
    codes = values.map({member.label: int(member) for member in kind})
    unknown = values[codes.isna() & values.notna()]
    if len(unknown):
        known = ", ".join(member.label for member in kind)
        raise DataError(f"unknown AC {what} {unknown.iloc[0]!r}; known: {known}")
    return codes.fillna(-1).to_numpy(np.int64)


def frame_inputs(frame: pd.DataFrame) -> dict[str, Any]:
    """The model inputs of an estimation frame as numpy arrays (mode and fan as codes).

    Raises:
        DataError: a column of :data:`INPUTS` is missing, or a reading or the weather is NaN.
    """
    missing = [c for c in INPUTS if c not in frame.columns]
    if missing:
        raise DataError(f"the estimation frame lacks the column(s) {', '.join(missing)}")
    num = {c: pd.to_numeric(frame[c], errors="coerce").to_numpy(float) for c in
           ["temperature", "humidity", "set_temperature", "outdoor_temperature", "outdoor_humidity", "hour"]}  # fmt: skip
    for c in ("temperature", "humidity", "outdoor_temperature", "outdoor_humidity", "hour"):
        if np.isnan(num[c]).any():
            raise DataError(f"the estimation frame has missing {c} values (drop those rows first)")

    def column(name: str) -> np.ndarray:
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(float)

    return {
        **num,
        "temperature_lags": tuple(column(f"temperature_lag{lag}") for lag in LAGS),
        "humidity_lags": tuple(column(f"humidity_lag{lag}") for lag in LAGS),
        "temperature_mean": column("temperature_mean30"),
        "humidity_mean": column("humidity_mean30"),
        "power": pd.Series(frame["power"]).fillna(False).astype(float).to_numpy(),
        "mode": _codes(frame["mode"], Mode, "mode"),
        "fan": _codes(frame["fan"], Fan, "fan speed"),
        "ac_minutes": column("ac_minutes"),
        "n": len(frame),
    }


def encode_commands(commands: Any) -> np.ndarray:
    """Candidate AC commands as a float array (n, 4): power, mode code, set temperature, fan code.

    Args:
        commands: such an array already, a DataFrame / mapping of :data:`COMMAND_FIELDS`, or a
            list of dicts with those keys (mode and fan as names or codes).

    Raises:
        DataError: a field is missing or a mode / fan name is unknown.
    """
    if isinstance(commands, np.ndarray):
        array = np.asarray(commands, dtype=float)
        if array.ndim != 2 or array.shape[1] != len(COMMAND_FIELDS):
            raise DataError(f"candidate commands must be an (n, 4) array of {', '.join(COMMAND_FIELDS)}")
        return array
    frame = pd.DataFrame(list(commands) if not isinstance(commands, (Mapping, pd.DataFrame)) else commands)
    missing = [c for c in COMMAND_FIELDS if c not in frame.columns]
    if missing:
        raise DataError(f"candidate commands lack {', '.join(missing)}")
    return np.column_stack([
        frame["power"].astype(bool).to_numpy(float),
        _codes(frame["mode"], Mode, "mode"),
        pd.to_numeric(frame["set_temperature"], errors="coerce").to_numpy(float),
        _codes(frame["fan"], Fan, "fan speed"),
    ])  # fmt: skip
