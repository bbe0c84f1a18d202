"""The estimation frame: what the room climate did after each moment, joined from stored records.

One row per device and *anchor* moment ``t`` (an actual sensor reading, at most one per
``step`` minutes) with

- the climate now and recently: ``temperature``, ``humidity`` and their values ``lag``
  minutes ago (``temperature_lag5`` ...), read from the device's readings on a one-minute
  grid (linear between readings at most ``max_gap`` minutes apart, so EnergyPlus' 10- or
  15-minute timesteps work too; the value *at* ``t`` is always a real reading, never an
  interpolation that would peek at later readings);
- the AC state in force at ``t`` (the newest appliance state at or before ``t``: ``power``,
  ``mode``, ``set_temperature``, ``fan``) and how long it has been in force (``ac_minutes``);
- the outdoor weather (newest record within ``weather_tolerance``) and the local hour of day;
- the targets: ``temperature_<h>m`` and ``humidity_<h>m``, the climate ``h`` minutes later.
  With ``hold=True`` a target is NaN when the AC state changed before ``t + h``: the model
  learns what a room does under the state applied at ``t``, which is what a controller asks.

The reading fields (the value now, the lags and the 30-minute means) are computed in ONE place,
:class:`_Grid` and :func:`_reading_columns`, for the frame a model learns from (many anchors)
and for a controller deciding now (:func:`recent_inputs`, the newest reading of a device's recent
history): what a model is served is what it was trained on.

Pure pandas/numpy; nothing here opens a store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from skynet.domain import AC_MODES, FAN_SPEEDS
from skynet.errors import DataError

__all__ = [
    "HORIZONS",
    "LAGS",
    "WINDOW",
    "ESTIMATION_INPUTS",
    "estimation_frame",
    "estimation_targets",
    "estimation_state",
    "recent_inputs",
]

#: Forecast horizons (minutes) and lags of the recent readings (minutes).
HORIZONS: tuple[int, ...] = (5, 15, 30, 60)
LAGS: tuple[int, ...] = (2, 5, 10, 15, 30)
#: Minutes of the recent mean (``temperature_mean30``): the middle of a compressor's cycle.
WINDOW = 30

#: The columns a model reads: the situation at ``t`` and the AC state to apply.
ESTIMATION_INPUTS: list[str] = [
    "temperature", "humidity",
    *[f"temperature_lag{lag}" for lag in LAGS], *[f"humidity_lag{lag}" for lag in LAGS],
    "temperature_mean30", "humidity_mean30",
    "power", "mode", "set_temperature", "fan", "ac_minutes",
    "outdoor_temperature", "outdoor_humidity", "hour",
]  # fmt: skip

_NS_PER_MIN = 60_000_000_000


def estimation_targets(horizons: Sequence[int] = HORIZONS) -> list[str]:
    """The target column names for ``horizons``: ``temperature_<h>m`` then ``humidity_<h>m``."""
    return [f"temperature_{h}m" for h in horizons] + [f"humidity_{h}m" for h in horizons]


def estimation_frame(
    readings: pd.DataFrame,
    appliance_states: pd.DataFrame,
    weather: pd.DataFrame,
    devices: pd.DataFrame | None = None,
    *,
    step: int = 5,
    horizons: Sequence[int] = HORIZONS,
    max_gap: int | None = None,
    weather_tolerance: pd.Timedelta = pd.Timedelta("3h"),
    hold: bool = True,
) -> pd.DataFrame:
    """Build the estimation frame (one row per device and anchor moment; see the module docs).

    Args:
        readings: sensor readings (``device_id``, ``timestamp``, ``temperature``, ``humidity``).
        appliance_states: appliance states (``device_id``, ``timestamp``, ``power``, ``mode``,
            ``set_temperature``, ``fan``).
        weather: outdoor weather (``device_id``, ``timestamp``, ``temperature``, ``humidity``).
        devices: devices (``device_id``, ``timezone``) for the local hour; UTC without it.
        step: minutes between anchors of one device (at most one anchor per step).
        horizons: target horizons in minutes.
        max_gap: longest gap (minutes) between two readings still interpolated; default
            twice the device's median reading interval, at least 10 minutes.
        weather_tolerance: how old a weather record may be.
        hold: blank a target when the AC state changed before it (see the module docs).

    Returns:
        Columns ``device_id``, ``timestamp``, :data:`ESTIMATION_INPUTS` and
        :func:`estimation_targets`; rows lacking a reading, an AC state or weather are dropped.

    Raises:
        DataError: a frame lacks a required column or ``step`` is not positive.
    """
    if step < 1:
        raise DataError(f"step must be a positive number of minutes, got {step}")
    _require(readings, ["device_id", "timestamp", "temperature", "humidity"], "sensor readings")
    state_columns = ["device_id", "timestamp", "power", "mode", "set_temperature", "fan"]
    _require(appliance_states, state_columns, "appliance states")
    _require(weather, ["device_id", "timestamp", "temperature", "humidity"], "weather")
    zones = _timezones(devices)
    states = dict(tuple(appliance_states.groupby("device_id", sort=False)))
    outdoor = dict(tuple(weather.groupby("device_id", sort=False)))
    parts = []
    for device_id, group in readings.groupby("device_id", sort=True):
        if device_id not in states or device_id not in outdoor:
            continue
        grid = _Grid.of(group, max_gap)
        anchors = grid.anchors(step)
        if len(anchors) == 0:
            continue
        part = _rows(
            grid, anchors, states[device_id], outdoor[device_id], zones.get(device_id), weather_tolerance
        )
        _add_targets(part, grid, anchors, horizons, hold)
        part.insert(0, "device_id", device_id)
        parts.append(part.dropna(subset=_REQUIRED))
    columns = ["device_id", "timestamp", *ESTIMATION_INPUTS, *estimation_targets(horizons)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object if c in _TEXT else float) for c in columns})
    return pd.concat(parts, ignore_index=True)[columns]


def estimation_state(
    readings: pd.DataFrame,
    appliance_states: pd.DataFrame,
    weather: pd.DataFrame,
    devices: pd.DataFrame | None = None,
    *,
    at: Any = None,
    max_gap: int | None = None,
    weather_tolerance: pd.Timedelta = pd.Timedelta("3h"),
) -> dict[str, Any]:
    """The inputs of one device at its newest reading at or before ``at`` (for predictions).

    The frames hold one device's records (the reading history should reach back at least
    the longest lag). The AC fields are the state in force now; a caller asking "what if"
    replaces them.

    Returns:
        ``device_id``, ``timestamp`` and every :data:`ESTIMATION_INPUTS` field (NaN where unknown).

    Raises:
        DataError: no reading at or before ``at``.
    """
    _require(readings, ["device_id", "timestamp", "temperature", "humidity"], "sensor readings")
    readings = readings[readings["temperature"].notna()]
    if at is not None:
        readings = readings[_minutes(readings["timestamp"]) <= _minutes(pd.Series([pd.Timestamp(at)]))[0]]
    if readings.empty:
        raise DataError("no sensor reading" + (f" at or before {at}" if at is not None else ""))
    device_id = readings["device_id"].iloc[0]
    grid = _Grid.of(readings, max_gap)
    anchors = grid.real[-1:]
    part = _rows(
        grid, anchors, appliance_states, weather, _timezones(devices).get(device_id), weather_tolerance
    )
    row = part.drop(columns="_next_change").iloc[0].to_dict()
    row["device_id"] = device_id
    return row


# -- internals ---------------------------------------------------------------------------------

_TEXT = ("device_id", "mode", "fan")
_REQUIRED = ["temperature", "humidity", "power", "outdoor_temperature", "outdoor_humidity"]


def _require(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{what} lack the column(s) {', '.join(missing)}")


def _minutes(stamps: pd.Series) -> np.ndarray:
    """Timestamps as float minutes since the epoch (any datetime64 unit)."""
    values = pd.to_datetime(stamps).to_numpy().astype("datetime64[ns]").astype(np.int64)
    return values / _NS_PER_MIN


def _timezones(devices: pd.DataFrame | None) -> dict[str, str]:
    if devices is None or "timezone" not in devices:
        return {}
    zones = devices[["device_id", "timezone"]].dropna()
    return dict(zip(zones["device_id"], zones["timezone"], strict=True))


def recent_inputs(
    minutes: Sequence[float] | np.ndarray,
    temperature: Sequence[float] | np.ndarray,
    humidity: Sequence[float] | np.ndarray,
    max_gap: int | None = None,
) -> dict[str, float]:
    """The reading fields of :data:`ESTIMATION_INPUTS` at a device's newest reading, for serving.

    The same computation as :func:`estimation_frame`'s rows (one code path: :class:`_Grid`,
    :func:`_reading_columns`), so a controller feeds a model what it learned from.

    Args:
        minutes: when each reading was taken, in minutes on any fixed scale (e.g. since the
            epoch); any order.
        temperature, humidity: the readings (NaN: lost; a reading without a temperature is skipped).
        max_gap: as :func:`estimation_frame`'s.

    Returns:
        ``temperature``, ``humidity``, ``temperature_lag<L>`` / ``humidity_lag<L>`` for every
        lag, ``temperature_mean30`` / ``humidity_mean30`` (NaN where unknown) and ``minute``,
        the newest reading's time on the grid (whole minutes on the scale of ``minutes``).

    Raises:
        DataError: no reading with a temperature.
    """
    t = np.asarray(temperature, dtype=float)
    usable = ~np.isnan(t)
    if not usable.any():
        raise DataError("no sensor reading with a temperature to decide from")
    m = np.asarray(minutes, dtype=float)[usable]
    grid = _Grid(m, t[usable], np.asarray(humidity, dtype=float)[usable], max_gap)
    columns = _reading_columns(grid, grid.real[-1:])
    out = {name: float(values[0]) for name, values in columns.items()}
    out["minute"] = float(grid.real[-1] + grid.t0)
    return out


class _Grid:
    """One device's readings on a one-minute grid (linear inside gaps up to ``max_gap``)."""

    def __init__(
        self, minutes: np.ndarray, temperature: np.ndarray, humidity: np.ndarray, max_gap: int | None
    ) -> None:
        ok = ~np.isnan(temperature)
        minutes = np.rint(minutes[ok]).astype(np.int64)
        order = np.argsort(minutes, kind="stable")
        minutes = minutes[order]
        keep = np.r_[True, np.diff(minutes) > 0]  # one reading per minute
        minutes = minutes[keep]
        self.t0 = int(minutes[0]) if len(minutes) else 0
        self.real = minutes - self.t0  # grid positions of actual readings
        if max_gap is None:
            median = float(np.median(np.diff(self.real))) if len(self.real) > 1 else 1.0
            max_gap = max(10, int(round(2 * median)))
        n = int(self.real[-1]) + 1 if len(self.real) else 0
        self.temperature = self._fill(temperature[ok][order][keep], n, max_gap)
        self.humidity = self._fill(humidity[ok][order][keep], n, max_gap)

    @classmethod
    def of(cls, readings: pd.DataFrame, max_gap: int | None) -> _Grid:
        """The grid of a frame of one device's readings."""
        return cls(
            _minutes(readings["timestamp"]),
            pd.to_numeric(readings["temperature"], errors="coerce").to_numpy(float),
            pd.to_numeric(readings["humidity"], errors="coerce").to_numpy(float),
            max_gap,
        )

    def _fill(self, values: np.ndarray, n: int, max_gap: int) -> np.ndarray:
        ok = ~np.isnan(values)
        pos, vals = self.real[ok], values[ok]
        out = np.full(n, np.nan)
        if len(pos) == 0:
            return out
        grid = np.arange(n)
        right = np.searchsorted(pos, grid, side="left").clip(0, len(pos) - 1)
        left = (np.searchsorted(pos, grid, side="right") - 1).clip(0, len(pos) - 1)
        inside = (pos[left] <= grid) & (pos[right] >= grid) & (pos[right] - pos[left] <= max_gap)
        out[inside] = np.interp(grid[inside], pos, vals)
        return out

    def anchors(self, step: int) -> np.ndarray:
        """Grid positions of real readings, the first of each ``step``-minute bucket."""
        absolute = self.real + self.t0
        bucket = absolute // step
        first = np.r_[True, np.diff(bucket) > 0]
        return self.real[first]

    def mean(self, values: np.ndarray, positions: np.ndarray, window: int) -> np.ndarray:
        """Mean of the known grid values in ``(p - window, p]`` for each position ``p`` (NaN if none)."""
        known = ~np.isnan(values)
        total = np.r_[0.0, np.cumsum(np.where(known, values, 0.0))]
        count = np.r_[0, np.cumsum(known)]
        hi = (positions + 1).clip(0, len(values))
        lo = (positions + 1 - window).clip(0, len(values))
        n = count[hi] - count[lo]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, (total[hi] - total[lo]) / np.maximum(n, 1), np.nan)

    def at(self, values: np.ndarray, positions: np.ndarray) -> np.ndarray:
        out = np.full(len(positions), np.nan)
        ok = (positions >= 0) & (positions < len(values))
        out[ok] = values[positions[ok]]
        return out


def _rows(
    grid: _Grid,
    anchors: np.ndarray,
    states: pd.DataFrame,
    weather: pd.DataFrame,
    timezone: str | None,
    weather_tolerance: pd.Timedelta,
) -> pd.DataFrame:
    """Inputs at ``anchors``: readings and lags, AC state in force, weather, local hour."""
    minutes = anchors + grid.t0
    stamps = pd.to_datetime(minutes * _NS_PER_MIN).astype("datetime64[ns]")
    out: dict[str, Any] = {"timestamp": stamps, **_reading_columns(grid, anchors)}
    out.update(_ac_in_force(states, minutes))
    out.update(_weather_at(weather, minutes, weather_tolerance))
    local = pd.DatetimeIndex(stamps)
    if timezone:
        try:
            local = local.tz_localize("UTC").tz_convert(timezone)
        except Exception as exc:  # noqa: BLE001 - an unknown zone name from the store
            raise DataError(f"device timezone {timezone!r} is not a known time zone ({exc})") from None
    out["hour"] = (local.hour + local.minute / 60.0).to_numpy(float)
    return pd.DataFrame(out)


def _reading_columns(grid: _Grid, anchors: np.ndarray) -> dict[str, np.ndarray]:
    """The reading fields at ``anchors``: the values, their lags and their recent means."""
    out = {"temperature": grid.at(grid.temperature, anchors), "humidity": grid.at(grid.humidity, anchors)}
    for lag in LAGS:
        out[f"temperature_lag{lag}"] = grid.at(grid.temperature, anchors - lag)
    for lag in LAGS:
        out[f"humidity_lag{lag}"] = grid.at(grid.humidity, anchors - lag)
    out[f"temperature_mean{WINDOW}"] = grid.mean(grid.temperature, anchors, WINDOW)
    out[f"humidity_mean{WINDOW}"] = grid.mean(grid.humidity, anchors, WINDOW)
    return out


def _state_changes(states: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """The AC states that changed something (off is off whatever else it says), by time."""
    states = states.assign(_m=_minutes(states["timestamp"])).sort_values("_m", kind="stable")
    power = states["power"].astype(bool).to_numpy()
    mode = states["mode"].where(power, None).to_numpy(object)
    tset = pd.to_numeric(states["set_temperature"], errors="coerce").where(power).to_numpy(float)
    fan = states["fan"].where(power, None).to_numpy(object)
    key = pd.Series([f"{p}|{m}|{t}|{f}" for p, m, t, f in zip(power, mode, tset, fan, strict=True)])
    changed = (key != key.shift()).to_numpy()
    return states["_m"].to_numpy()[changed], states.iloc[np.flatnonzero(changed)]


def _ac_in_force(states: pd.DataFrame, minutes: np.ndarray) -> dict[str, np.ndarray]:
    changes, rows = _state_changes(states)
    idx = np.searchsorted(changes, minutes, side="right") - 1
    known = idx >= 0
    take = idx.clip(0)

    def pick(column: str, fill: Any, dtype: Any) -> np.ndarray:
        values = rows[column].to_numpy()[take] if len(rows) else np.full(len(minutes), fill)
        return np.where(known, values, fill).astype(dtype)

    power = pick("power", np.nan, float)
    mode = pick("mode", None, object)
    fan = pick("fan", None, object)
    for name, values, choices in (("mode", mode, AC_MODES), ("fan", fan, FAN_SPEEDS)):
        bad = {v for v in values if v is not None and v not in choices and v == v}
        if bad:
            raise DataError(f"appliance state {name} {sorted(bad)[0]!r} is not one of {', '.join(choices)}")
    since = np.where(known, minutes - (changes[take] if len(changes) else 0.0), np.nan)
    following = np.searchsorted(changes, minutes, side="right")
    next_change = np.full(len(minutes), np.inf)
    later = following < len(changes)
    next_change[later] = changes[following[later]]
    tset = pd.to_numeric(pd.Series(pick("set_temperature", np.nan, object)), errors="coerce")
    return {
        "power": power,
        "mode": mode,
        "set_temperature": tset.to_numpy(float),
        "fan": fan,
        "ac_minutes": since,
        "_next_change": next_change - minutes,
    }


def _weather_at(weather: pd.DataFrame, minutes: np.ndarray, tolerance: pd.Timedelta) -> dict[str, np.ndarray]:
    weather = weather[weather["temperature"].notna()]
    at = _minutes(weather["timestamp"])
    order = np.argsort(at, kind="stable")
    at = at[order]
    idx = np.searchsorted(at, minutes, side="right") - 1
    ok = (idx >= 0) & (minutes - at[idx.clip(0)] <= tolerance.total_seconds() / 60.0) if len(at) else idx >= 0
    take = idx.clip(0)
    out = {}
    for name, column in (("outdoor_temperature", "temperature"), ("outdoor_humidity", "humidity")):
        values = pd.to_numeric(weather[column], errors="coerce").to_numpy(float)[order]
        out[name] = np.where(ok, values[take], np.nan) if len(at) else np.full(len(minutes), np.nan)
    return out


def _add_targets(
    part: pd.DataFrame, grid: _Grid, anchors: np.ndarray, horizons: Sequence[int], hold: bool
) -> None:
    next_change = part.pop("_next_change").to_numpy()
    for name, values in (("temperature", grid.temperature), ("humidity", grid.humidity)):
        for h in horizons:
            target = grid.at(values, anchors + h)
            if hold:
                target[next_change < h] = np.nan
            part[f"{name}_{h}m"] = target
