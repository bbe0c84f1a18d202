"""Build a decision's :class:`~skynet.control.Context` from domain records.

The control worker keeps a device's last half hour of readings; :func:`build_context` turns
them, the newest weather and what else is known into the context :func:`skynet.control.decide`
reads. The lags and means are :func:`skynet.data.recent_inputs`' — the estimation frame's own
code (readings on a one-minute grid, linear inside gaps up to ``max_gap`` minutes, the mean of
the last ``WINDOW`` minutes), so the model is served what it was trained on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from skynet.control._types import Context
from skynet.data.estimation import LAGS, WINDOW, recent_inputs
from skynet.domain import Device, SensorReading, Weather
from skynet.errors import DataError

__all__ = ["build_context", "local_hour", "local_time", "context_from_inputs", "LAGS", "WINDOW"]
_FACTS = ("latitude", "climate", "building_type", "cooling_type")
_EPOCH = datetime(1970, 1, 1)


def local_hour(at: datetime, timezone: str | None) -> float:
    """The local hour of day (0–24, with minutes as a fraction) of naive-UTC ``at``.

    Raises:
        DataError: an unknown time zone name.
    """
    return local_time(at, timezone)[1]


def local_time(at: datetime, timezone: str | None) -> tuple[int, float]:
    """The local weekday (0 = Monday) and hour of day of naive-UTC ``at`` (see :func:`local_hour`)."""
    if timezone:
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise DataError(f"device timezone {timezone!r} is not a known time zone") from None
        at = at.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone)
    return at.weekday(), at.hour + at.minute / 60.0


def build_context(
    readings: Sequence[SensorReading],
    weather: Weather | None,
    *,
    timezone: str | None = None,
    occupancy: int | None = None,
    comfort_offset: float | None = None,
    device: Device | None = None,
    max_gap: int | None = None,
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
        max_gap: longest gap between two readings (minutes) interpolated for a lag (default:
            the estimation frame's, twice the median interval and at least 10 minutes).

    Raises:
        DataError: no reading with a temperature.
    """
    usable = [r for r in readings if _finite(r.temperature)]
    if not usable:
        raise DataError("no sensor reading with a temperature to decide from")
    minutes = [(r.timestamp - _EPOCH).total_seconds() / 60.0 for r in usable]
    humidity = [r.humidity if _finite(r.humidity) else math.nan for r in usable]
    inputs = recent_inputs(minutes, [float(r.temperature) for r in usable], humidity, max_gap)
    newest = max(usable, key=lambda r: r.timestamp)
    if device is not None and timezone is None:
        timezone = device.timezone
    facts = (
        {} if device is None else {k: getattr(device, k) for k in _FACTS if getattr(device, k) is not None}
    )
    t_out = (
        weather.temperature if weather is not None and _finite(weather.temperature) else inputs["temperature"]
    )
    rh_out = weather.humidity if weather is not None and _finite(weather.humidity) else inputs["humidity"]
    return context_from_inputs(
        newest.device_id, newest.timestamp, inputs, float(t_out), float(rh_out),
        local_hour(newest.timestamp, timezone),
        outdoor_running_mean=weather.running_mean_temperature if weather is not None else None,
        occupancy=occupancy, comfort_offset=comfort_offset, device_facts=facts,
    )  # fmt: skip


def context_from_inputs(
    device_id: str,
    timestamp: datetime,
    inputs: dict[str, float],
    outdoor_temperature: float,
    outdoor_humidity: float,
    hour: float,
    **known: object,
) -> Context:
    """A context from :func:`skynet.data.recent_inputs`' reading fields and the weather;
    ``known`` sets the other :class:`Context` fields (occupancy, offset, device facts ...)."""
    return Context(
        device_id=device_id, timestamp=timestamp, temperature=inputs["temperature"],
        humidity=inputs["humidity"], outdoor_temperature=outdoor_temperature, outdoor_humidity=outdoor_humidity,
        hour=hour, temperature_lags={lag: inputs[f"temperature_lag{lag}"] for lag in LAGS},
        humidity_lags={lag: inputs[f"humidity_lag{lag}"] for lag in LAGS},
        temperature_mean=inputs[f"temperature_mean{WINDOW}"], humidity_mean=inputs[f"humidity_mean{WINDOW}"],
        **known,  # type: ignore[arg-type]
    )  # fmt: skip


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
