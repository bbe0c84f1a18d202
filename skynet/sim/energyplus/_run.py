"""``run_energyplus``: a prototype building's zones as skynet devices, simulated by EnergyPlus."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from skynet.domain import (
    ApplianceState,
    ControlTarget,
    Device,
    Feedback,
    SensorReading,
    User,
    Weather,
    field_names,
)
from skynet.errors import DataError
from skynet.sim.energyplus._catalog import buildings, resolve_building, resolve_weather, weather_files
from skynet.sim.energyplus._engine import Progress, run_engine
from skynet.sim.energyplus._idf import parse_idf, prepare_idf
from skynet.sim.energyplus._result import TRUTH_COLUMNS, EnergyPlusResult
from skynet.sim.energyplus._schedule import MODES, Commands, given_commands, random_commands

__all__ = ["run_energyplus", "list_buildings", "list_weather", "zone_devices", "DEFAULT_START"]

DEFAULT_START = date(2025, 7, 1)
MAX_DAYS = 366
#: Days of weather before ``start`` that start the outdoor running mean (0.8^14 < 5 % left).
HISTORY_DAYS = 14


def run_energyplus(
    building: str | Path = "apartment-midrise",
    weather: str | Path = "miami",
    start: date | datetime | str = DEFAULT_START,
    end: date | datetime | str | None = None,
    seed: int = 0,
    *,
    timestep_minutes: int = 5,
    sizing: str = "weather",
    schedule: pd.DataFrame | None = None,
    progress: Progress | None = None,
    keep_dir: str | Path | None = None,
) -> EnergyPlusResult:
    """Run a prototype building through EnergyPlus with skynet driving each zone's thermostat.

    Every zone under a thermostat becomes a device ``eplus-<building>-<zone>``. Each gets a
    seeded random schedule of thermostat commands (on/off, cool or heat by the day's weather,
    set points 22–28 °C cooling / 18–24 °C heating; see :mod:`._schedule`) unless
    ``schedule`` gives them. Readings come at every EnergyPlus zone timestep.

    Times: EnergyPlus runs on the weather file's local standard time; ``start`` and ``end``
    are local dates and every record's timestamp is naive UTC (local standard time minus
    the file's time zone offset).

    Args:
        building: a prototype name (see :func:`list_buildings`) or the path of an IDF file
            of the installed EnergyPlus version.
        weather: a city (see :func:`list_weather`) or the path of an EPW file.
        start: first simulated day (local).
        end: first day not simulated (default ``start`` + 3 days); at most 366 days.
        seed: seed of the random schedule.
        timestep_minutes: the zone timestep: 1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60.
        sizing: ``"weather"`` sizes the HVAC equipment on the weather file's hottest and
            coldest days; ``"prototype"`` keeps the prototype's own design days (its city's).
        schedule: appliance states to apply instead of the random schedule: ``device_id``,
            ``timestamp`` (naive UTC), ``power``, ``mode`` ("cool"/"heat"),
            ``set_temperature``; each holds until the device's next one (off before the first).
        progress: called as ``progress("simulate", minutes_done, minutes_total)`` once per
            simulated day.
        keep_dir: run in this directory and keep EnergyPlus's files (default: a temporary one).

    Returns:
        The record frames and the ground truth.

    Raises:
        DataError: an unknown building or city, a missing or malformed file, bad dates.
        EnergyPlusError: the ``energyplus`` extra is missing or EnergyPlus failed (the
            message carries the first severe error of ``eplusout.err``).
    """
    started = time.perf_counter()
    first, stop = _day(start, "start"), _day(end, "end") if end is not None else None
    stop = stop or first + timedelta(days=3)
    days = (stop - first).days
    if not 1 <= days <= MAX_DAYS:
        raise DataError(
            f"simulate 1 to {MAX_DAYS} days: {first} .. {stop} is {days} days (end is not simulated)"
        )
    b = prepare_building(building, weather, first, stop, timestep_minutes, sizing)
    zones, device_ids = b.zones, b.device_ids
    steps_per_day = 1440 // timestep_minutes
    n_steps = days * steps_per_day
    step_starts = pd.date_range(b.start, periods=n_steps, freq=f"{timestep_minutes}min")
    if schedule is None:
        commands = random_commands(n_steps, len(zones), steps_per_day, b.daily[HISTORY_DAYS:], seed)
    else:
        commands = given_commands(schedule, device_ids, step_starts + pd.Timedelta(minutes=timestep_minutes))
    engine_started = time.perf_counter()
    out = run_engine(b.idf, b.epw_path, zones, commands, steps_per_day, progress, keep_dir)
    engine_seconds = time.perf_counter() - engine_started
    step_ends = step_starts + pd.Timedelta(minutes=timestep_minutes)
    running = _running_mean(b.daily)[HISTORY_DAYS:]
    frames = _frames(device_ids, step_starts, step_ends, out, commands, np.repeat(running, steps_per_day))
    devices = _devices(b.name, b.city, device_ids, zones, b.epw, b.text, b.idf_path)
    return EnergyPlusResult(
        building=b.name, city=b.city, weather_file=b.epw_path, start=b.start, steps=n_steps, timestep_minutes=timestep_minutes,
        seed=seed if schedule is None else None, zones=zones, device_ids=device_ids, devices=devices,
        users=pd.DataFrame(columns=field_names(User)), control_targets=pd.DataFrame(columns=field_names(ControlTarget)),
        feedback=pd.DataFrame(columns=field_names(Feedback)), warnings=out.warnings,
        seconds=round(time.perf_counter() - started, 3), engine_seconds=round(engine_seconds, 3), **frames,
    )  # fmt: skip


@dataclass
class PreparedBuilding:
    """A prototype and a weather file made ready for one EnergyPlus run of ``first`` .. ``stop``."""

    name: str
    idf_path: Path
    text: str  # the prototype's IDF as shipped
    city: str
    epw_path: Path
    epw: Any
    idf: str  # the IDF rewritten for the run (:func:`._idf.prepare_idf`)
    zones: list[str]
    device_ids: list[str]
    start: datetime  # naive UTC of local midnight on ``first``
    daily: np.ndarray  # daily mean outdoor temperature from HISTORY_DAYS before ``first``


def prepare_building(building: str | Path, weather: str | Path, first: date, stop: date, timestep_minutes: int,
                     sizing: str) -> PreparedBuilding:  # fmt: skip
    """Resolve the building and weather, rewrite the IDF for the run; no engine is started.

    Raises:
        DataError: an unknown building or city, a missing or malformed file, a bad ``sizing``.
    """
    from skynet.sim._climate import read_epw

    name, idf_path = resolve_building(building)
    city, epw_path = resolve_weather(weather)
    epw = read_epw(epw_path)
    if sizing not in ("weather", "prototype"):
        raise DataError(f"sizing must be 'weather' or 'prototype', got {sizing!r}")
    text = _read_text(idf_path)
    days_for_sizing = _extreme_days(epw.temperature) if sizing == "weather" else ()
    idf, zones = prepare_idf(text, first, stop, timestep_minutes, str(idf_path), days_for_sizing)
    start = datetime.combine(first, datetime.min.time()) - timedelta(hours=float(epw.location.tz))
    daily = _daily_means(epw.temperature, first, (stop - first).days + HISTORY_DAYS)
    return PreparedBuilding(name, idf_path, text, city, epw_path, epw, idf, zones, zone_devices(name, zones),
                            start, daily)  # fmt: skip


def zone_devices(building: str, zones: list[str]) -> list[str]:
    """Device ids of a building's zones: ``eplus-<building>-<zone>`` in lower-case slugs."""
    ids = [f"eplus-{building}-{_slug(zone)}" for zone in zones]
    if len(set(ids)) != len(ids):
        raise DataError(f"zone names of {building} collide once made into device ids")
    return ids


def list_buildings() -> list[dict[str, Any]]:
    """The prototype buildings shipped with EnergyPlus: name, standard, sized for, thermostats, file.

    Raises:
        EnergyPlusError: the ``energyplus`` extra is not installed.
    """
    rows = []
    for b in buildings().values():
        text = _read_text(b.path)
        count = len(re.findall(r"^[ \t]*ZoneControl:Thermostat[ \t]*,", text, flags=re.M | re.I))
        rows.append({"building": b.name, "standard": b.standard, "sized_for": b.climate_city,
                     "thermostats": count, "file": b.path.name})  # fmt: skip
    return rows


def list_weather() -> list[dict[str, Any]]:
    """The TMY3 weather files shipped with EnergyPlus: city, state, station, file.

    Raises:
        EnergyPlusError: the ``energyplus`` extra is not installed.
    """
    return [{"city": w.city, "state": w.state, "station": w.station, "file": w.path.name}
            for w in weather_files().values()]  # fmt: skip


def _frames(device_ids: list[str], starts: pd.DatetimeIndex, ends: pd.DatetimeIndex, out: Any,
            commands: Commands, running: np.ndarray) -> dict[str, pd.DataFrame]:  # fmt: skip
    n_steps, n_zones = commands.power.shape
    ids = np.repeat(np.array(device_ids, dtype=object), n_steps)
    stamps = np.tile(ends.to_numpy(dtype="datetime64[ns]"), n_zones)

    def per_zone(a: np.ndarray) -> np.ndarray:  # (steps, zones) -> zone-major column
        return a.T.ravel()

    def per_site(a: np.ndarray) -> np.ndarray:
        return np.tile(a, n_zones)

    readings = pd.DataFrame({
        "device_id": ids, "timestamp": stamps,
        "temperature": np.round(per_zone(out.zone["temperature"]), 2),
        "humidity": np.round(per_zone(out.zone["humidity"]), 1), "luminosity": None, "air_speed": None,
    })  # fmt: skip
    weather = pd.DataFrame({
        "device_id": ids, "timestamp": stamps,
        "temperature": np.round(per_site(out.site["outdoor_temperature"]), 2),
        "humidity": np.round(per_site(out.site["outdoor_humidity"]), 1),
        "running_mean_temperature": np.round(per_site(running), 2),
    })  # fmt: skip
    events = commands.events()
    steps = np.array([k for k, _ in events], dtype=int)
    zones = np.array([z for _, z in events], dtype=int)
    appliance = pd.DataFrame({
        "device_id": np.array(device_ids, dtype=object)[zones],
        "timestamp": starts.to_numpy(dtype="datetime64[ns]")[steps],
        "power": commands.power[steps, zones],
        "mode": np.array(MODES, dtype=object)[commands.mode[steps, zones]],
        "set_temperature": commands.set_temperature[steps, zones], "fan": "auto", "origin": "skynet",
    })  # fmt: skip
    truth = pd.DataFrame({
        "device_id": ids, "timestamp": stamps, "temperature": per_zone(out.zone["temperature"]),
        "humidity": per_zone(out.zone["humidity"]), "outdoor_temperature": per_site(out.site["outdoor_temperature"]),
        "outdoor_humidity": per_site(out.site["outdoor_humidity"]), "power": per_zone(commands.power),
        "mode": np.array(MODES, dtype=object)[per_zone(commands.mode)],
        "set_temperature": per_zone(commands.set_temperature),
        "heating_setpoint": per_zone(commands.heating_setpoint), "cooling_setpoint": per_zone(commands.cooling_setpoint),
        "cooling_w": per_zone(out.zone["cooling_w"]), "heating_w": per_zone(out.zone["heating_w"]),
    })  # fmt: skip
    return {
        "sensor_readings": readings[field_names(SensorReading)],
        "weather": weather[field_names(Weather)],
        "appliance_states": appliance[field_names(ApplianceState)],
        "truth": truth[["device_id", "timestamp", *TRUTH_COLUMNS]],
    }


def _devices(building: str, city: str, device_ids: list[str], zones: list[str], epw: Any, text: str,
             idf_path: Path) -> pd.DataFrame:  # fmt: skip
    loc = epw.location
    coil = next((o.type for o in parse_idf(text, str(idf_path)) if o.key.startswith("coil:cooling")), None)
    frame = pd.DataFrame({
        "device_id": device_ids, "name": [f"{zone} ({building}, EnergyPlus)" for zone in zones],
        "timezone": loc.timezone, "latitude": loc.latitude, "longitude": loc.longitude, "country": loc.country,
        "city": loc.city, "climate": city, "building_type": building,
        "cooling_type": f"EnergyPlus {coil}" if coil else "EnergyPlus", "min_set_temperature": 16.0,
        "max_set_temperature": 30.0,
    })  # fmt: skip
    return frame[field_names(Device)]


def _daily_means(hourly: np.ndarray, first: date, days: int) -> np.ndarray:
    """Daily mean outdoor temperatures of the typical year, ``days`` days from ``first - HISTORY``.

    The EPW's hourly rows run from the hour ending 01:00 on Jan 1 (local standard time); any
    calendar year maps onto them by day of year, Feb 29 reusing Feb 28.
    """
    by_day = hourly[: 365 * 24].reshape(365, 24).mean(axis=1)
    out = np.empty(days)
    for i in range(days):
        d = first + timedelta(days=i - HISTORY_DAYS)
        doy = (d - date(d.year, 1, 1)).days
        if (d.month > 2 and _leap(d.year)) or (d.month == 2 and d.day == 29):
            doy -= 1
        out[i] = by_day[doy % 365]
    return out


def _extreme_days(hourly: np.ndarray) -> list[tuple[int, int]]:
    """(month, day) of the typical year's hottest (highest maximum) and coldest (lowest minimum) days."""
    by_day = hourly[: 365 * 24].reshape(365, 24)
    days = [int(np.argmax(by_day.max(axis=1))), int(np.argmin(by_day.min(axis=1)))]
    return [((d := date(2001, 1, 1) + timedelta(days=i)).month, d.day) for i in days]


def _running_mean(daily: np.ndarray) -> np.ndarray:
    """EN 16798-1 running mean (α = 0.8) of the days before each day; day 0 starts it."""
    running = np.empty_like(daily)
    running[0] = daily[0]
    for d in range(1, len(daily)):
        running[d] = 0.2 * daily[d - 1] + 0.8 * running[d - 1]
    return running


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _day(value: date | datetime | str, what: str) -> date:
    if isinstance(value, datetime):
        if value.time() != datetime.min.time():
            raise DataError(f"{what} must be a date (midnight), got {value}")
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise DataError(f"{what} {value!r} is not a date (YYYY-MM-DD)") from None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="latin-1")
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
