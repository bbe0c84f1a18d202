"""Build a decision's :class:`~skynet.control.Context` from domain records.

The control worker keeps a device's last half hour of readings; :func:`build_context` turns
them, the newest weather and what else is known into the context :func:`skynet.control.decide`
reads. Lags and means follow the estimation frame (:data:`skynet.data.estimation.LAGS`,
``WINDOW``): the reading ``lag`` minutes before the newest one, linear between two readings
at most ``max_gap`` minutes apart (NaN otherwise), and the mean of the readings of the last
``WINDOW`` minutes.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from skynet.control._types import Context
from skynet.data.estimation import LAGS, WINDOW
from skynet.domain import Device, SensorReading, Weather
from skynet.errors import DataError

__all__ = ["build_context", "local_hour", "LAGS", "WINDOW"]
_FACTS = ("latitude", "climate", "building_type", "cooling_type")


def local_hour(at: datetime, timezone: str | None) -> float:
    """The local hour of day (0–24, with minutes as a fraction) of naive-UTC ``at``.

    Raises:
        DataError: an unknown time zone name.
    """
    if timezone:
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise DataError(f"device timezone {timezone!r} is not a known time zone") from None
        at = at.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone)
    return at.hour + at.minute / 60.0


def build_context(
    readings: Sequence[SensorReading],
    weather: Weather | None,
    *,
    timezone: str | None = None,
    occupancy: int | None = None,
    comfort_offset: float | None = None,
    device: Device | None = None,
    max_gap: float = 10.0,
) -> Context:
    """The context at the newest reading of ``readings`` (one device's, any order).

    Args:
        readings: the device's recent readings (30 minutes or more for every lag).
        weather: the newest outdoor weather (None: outdoor = indoor, the model sees no pull).
        timezone: the device's time zone for the local hour (None: UTC).
        occupancy: people at home when known.
        comfort_offset: the device's personal comfort offset, when computed.
        device: the device record: its time zone (unless ``timezone`` is given) and the facts the
            comfort model reads (latitude, climate, building and cooling type).
        max_gap: longest gap between two readings (minutes) interpolated for a lag.

    Raises:
        DataError: no reading with a temperature.
    """
    usable = sorted((r for r in readings if _finite(r.temperature)), key=lambda r: r.timestamp)
    if not usable:
        raise DataError("no sensor reading with a temperature to decide from")
    newest = usable[-1]
    humidity = newest.humidity if _finite(newest.humidity) else math.nan
    times = [r.timestamp for r in usable]
    temperatures = [float(r.temperature) for r in usable]
    wet = [r for r in usable if _finite(r.humidity)]
    wet_times, humidities = [r.timestamp for r in wet], [float(r.humidity) for r in wet]
    whens = {lag: newest.timestamp - timedelta(minutes=lag) for lag in LAGS}
    t_lags = {lag: _at(times, temperatures, when, max_gap) for lag, when in whens.items()}
    rh_lags = {lag: _at(wet_times, humidities, when, max_gap) for lag, when in whens.items()}
    window = newest.timestamp - timedelta(seconds=WINDOW * 60.0)  # the mean's readings: after it
    t_recent = temperatures[bisect_right(times, window) :]
    rh_recent = humidities[bisect_right(wet_times, window) :]
    t_out = (
        weather.temperature if weather is not None and _finite(weather.temperature) else newest.temperature
    )
    rh_out = weather.humidity if weather is not None and _finite(weather.humidity) else humidity
    if device is not None and timezone is None:
        timezone = device.timezone
    facts = (
        {} if device is None else {k: getattr(device, k) for k in _FACTS if getattr(device, k) is not None}
    )
    return Context(
        device_id=newest.device_id,
        timestamp=newest.timestamp,
        temperature=float(newest.temperature),
        humidity=float(humidity),
        outdoor_temperature=float(t_out),
        outdoor_humidity=float(rh_out),
        hour=local_hour(newest.timestamp, timezone),
        temperature_lags=t_lags,
        humidity_lags=rh_lags,
        temperature_mean=sum(t_recent) / len(t_recent),
        humidity_mean=sum(rh_recent) / len(rh_recent) if rh_recent else math.nan,
        outdoor_running_mean=weather.running_mean_temperature if weather is not None else None,
        occupancy=occupancy,
        comfort_offset=comfort_offset,
        device_facts=facts,
    )


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _at(times: list[datetime], values: list[float], when: datetime, max_gap: float) -> float:
    """The value at ``when``, linear between the readings around it (NaN past a long gap).

    ``times`` (increasing) and ``values`` are the readings that have the value.
    """
    i = bisect_right(times, when)  # times[i - 1] <= when < times[i]
    if i == 0:
        return math.nan
    before, value = times[i - 1], values[i - 1]
    if before == when or i == len(times):
        gap = (when - before).total_seconds() / 60.0
        return value if gap <= max_gap / 2 else math.nan
    span = (times[i] - before).total_seconds() / 60.0
    if span > max_gap:
        return math.nan
    share = (when - before).total_seconds() / 60.0 / span
    return float(value + share * (values[i] - value))
