"""Outdoor weather for the simulator: synthetic climates and EPW weather files.

A synthetic climate is built hour by hour and interpolated to minutes:

- temperature = seasonal level (annual mean + a cosine peaking on the climate's warmest day)
  + a daily cycle (a cosine peaking at 15:00 solar time, its amplitude shrinking on cloudy
  days) + weather fronts, an AR(1) process with a correlation time of 1.5–3 days;
- dew point = the slow temperature (season + fronts) minus a dew-point depression (seasonal
  mean plus its own AR(1) noise), capped just under the air temperature; relative humidity
  follows from the two, so it falls in the afternoon as real RH does;
- global horizontal irradiance = Haurwitz (1945) clear sky from the sun's elevation
  (declination, hour angle) times the Kasten & Czeplak (1980) cloud factor
  ``1 - 0.75 n^3.4`` with the cloud fraction ``n`` a logistic AR(1) process.

The presets' levels are rounded from the 1991–2020 climate normals of the named city (mean
annual temperature, January/July means, typical diurnal range, mean relative humidity); each
simulated home sits in its own town of the climate (a location offset of ±0.7 °C and its own
fronts). An EPW file (EnergyPlus weather: 8 header lines, then 8760 hourly rows; dry bulb in
column 6, relative humidity in column 8, global horizontal irradiance in column 13, all
0-based; local standard time, hour 1 = the hour ending 01:00) replaces the synthetic weather
for every home, its typical year repeated for any simulated date.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from skynet.errors import DataError
from skynet.sim._psychro import saturation_pressure

__all__ = ["Climate", "CLIMATES", "Location", "EpwWeather", "read_epw", "WeatherSeries", "local_clock"]

SPINUP_DAYS = 7


@dataclass(frozen=True)
class Climate:
    """A synthetic climate preset (temperatures in °C, times in hours, days of year)."""

    name: str
    city: str
    country: str
    latitude: float
    longitude: float
    timezone: str
    annual_mean: float
    seasonal_amplitude: float  # half the difference of the warmest and coldest monthly means
    warmest_day: int  # day of year of the seasonal peak
    daily_amplitude: float  # half the typical diurnal range
    dew_depression: float  # mean (daily-mean temperature - dew point)
    dew_depression_seasonal: float  # extra depression at the seasonal peak (dry summers)
    front_std: float  # std of the weather-front temperature anomaly
    front_hours: float  # its correlation time
    cloudiness: float  # mean cloud fraction 0..1


#: Climate presets for ``--climate`` (levels from the cities' 1991–2020 normals, rounded).
CLIMATES: dict[str, Climate] = {
    c.name: c
    for c in (
        Climate("hot-humid", "Hong Kong", "HK", 22.30, 114.17, "Asia/Hong_Kong",
                23.5, 6.3, 205, 2.5, 4.0, 0.0, 1.3, 60, 0.60),
        Climate("hot-dry", "Phoenix", "US", 33.45, -112.07, "America/Phoenix",
                24.2, 10.7, 200, 7.0, 14.0, 6.0, 2.0, 72, 0.15),
        Climate("temperate", "Paris", "FR", 48.86, 2.35, "Europe/Paris",
                12.4, 7.9, 205, 4.0, 4.5, 1.0, 2.5, 72, 0.60),
        Climate("cold", "Montreal", "CA", 45.50, -73.57, "America/Toronto",
                6.8, 15.2, 200, 4.5, 4.5, 0.0, 4.0, 60, 0.55),
        Climate("tropical", "Singapore", "SG", 1.35, 103.82, "Asia/Singapore",
                27.7, 0.9, 140, 3.0, 4.0, 0.0, 0.8, 36, 0.65),
        Climate("mediterranean", "Athens", "GR", 37.98, 23.73, "Europe/Athens",
                18.6, 8.3, 205, 4.5, 7.0, 5.0, 2.0, 72, 0.35),
    )  # fmt: skip
}


@dataclass(frozen=True)
class Location:
    """Where the simulated homes are: for the device records and local time."""

    city: str | None
    country: str | None
    latitude: float
    longitude: float
    #: IANA name (presets, integer EPW offsets as ``Etc/GMT-8``) or None.
    timezone: str | None
    #: What local time is computed with: an IANA name or a fixed UTC offset in hours.
    tz: str | float


def _ar1(rng: np.random.Generator, n: int, tau_hours: float, std: float) -> np.ndarray:
    """A stationary AR(1) series of ``n`` hourly steps with correlation time ``tau_hours``."""
    phi = float(np.exp(-1.0 / tau_hours))
    shocks = (rng.standard_normal(n) * std * np.sqrt(1.0 - phi * phi)).tolist()
    shocks[0] = rng.standard_normal() * std  # start in the stationary distribution
    out, x = [], 0.0
    for e in shocks:  # a plain loop: a few thousand steps, cheaper than importing scipy.signal
        x = phi * x + e
        out.append(x)
    return np.array(out)


def _clear_sky_ghi(hours: np.ndarray, latitude: float, longitude: float) -> np.ndarray:
    """Haurwitz clear-sky global horizontal irradiance (W/m²) at UTC hour instants."""
    days = (hours - hours.astype("datetime64[Y]")).astype("timedelta64[h]").astype(float) / 24.0
    doy = days + 1.0
    utc_hour = (hours - hours.astype("datetime64[D]")).astype("timedelta64[h]").astype(float)
    decl = np.radians(23.44) * np.sin(2 * np.pi * (284 + doy) / 365.0)
    omega = np.radians(15.0 * (utc_hour + longitude / 15.0 - 12.0))
    lat = np.radians(latitude)
    cos_z = np.sin(lat) * np.sin(decl) + np.cos(lat) * np.cos(decl) * np.cos(omega)
    safe = np.maximum(cos_z, 0.01)
    return np.where(cos_z > 0.01, 1098.0 * safe * np.exp(-0.057 / safe), 0.0)


def synthetic_hourly(
    climate: Climate, hours: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hourly (temperature °C, relative humidity %, GHI W/m²) of one home at UTC ``hours``."""
    n = len(hours)
    doy = (hours - hours.astype("datetime64[Y]")).astype("timedelta64[h]").astype(float) / 24.0 + 1.0
    utc_hour = (hours - hours.astype("datetime64[D]")).astype("timedelta64[h]").astype(float)
    solar_hour = utc_hour + climate.longitude / 15.0
    season = np.cos(2 * np.pi * (doy - climate.warmest_day) / 365.25)
    offset = rng.normal(0.0, 0.7)
    fronts = _ar1(rng, n, climate.front_hours, climate.front_std)
    logit = np.log(climate.cloudiness / (1.0 - climate.cloudiness))
    cloud = 1.0 / (1.0 + np.exp(-(logit + 1.6 * _ar1(rng, n, 18.0, 1.0))))
    slow = climate.annual_mean + offset + climate.seasonal_amplitude * season + fronts
    daily = climate.daily_amplitude * (1.25 - 0.5 * cloud) * np.cos(2 * np.pi * (solar_hour - 15.0) / 24.0)
    temperature = slow + daily
    depression = climate.dew_depression + climate.dew_depression_seasonal * season + _ar1(rng, n, 48.0, 1.5)
    dew_point = np.minimum(slow - np.maximum(depression, 0.5), temperature - 0.3)
    rh = 100.0 * saturation_pressure(dew_point) / saturation_pressure(temperature)
    ghi = _clear_sky_ghi(hours, climate.latitude, climate.longitude) * (1.0 - 0.75 * cloud**3.4)
    return temperature, np.clip(rh, 3.0, 100.0), ghi


@dataclass(frozen=True)
class EpwWeather:
    """An EPW file's location and its typical year (8760 hourly values, Jan 1 01:00 first)."""

    path: str
    location: Location
    temperature: np.ndarray
    humidity: np.ndarray
    ghi: np.ndarray | None


def _missing_filled(values: np.ndarray, missing: float, what: str, path: str) -> np.ndarray:
    bad = ~np.isfinite(values) | (values >= missing)
    if bad.all():
        raise DataError(f"{path}: no valid {what} values in the EPW file")
    if bad.any():
        idx = np.arange(len(values))
        values = values.copy()
        values[bad] = np.interp(idx[bad], idx[~bad], values[~bad])
    return values


def read_epw(path: str | Path) -> EpwWeather:
    """Read an EPW weather file (dry bulb, relative humidity, global horizontal irradiance).

    Args:
        path: the ``.epw`` file.

    Returns:
        Its location and hourly typical year (a leap year's Feb 29 is dropped).

    Raises:
        DataError: the file is missing or is not EPW (the message names the line).
    """
    path = str(path)
    try:
        with open(path, newline="", encoding="latin-1") as fh:
            rows = list(csv.reader(fh))
    except OSError as exc:
        raise DataError(f"cannot read EPW file {path}: {exc.strerror or exc}") from None
    if not rows or not rows[0] or rows[0][0].strip().upper() != "LOCATION" or len(rows[0]) < 10:
        raise DataError(
            f"{path}:1: not an EPW file (the first line must be LOCATION,city,...,lat,lon,tz,elev)"
        )
    head = rows[0]
    try:
        lat, lon, offset = float(head[6]), float(head[7]), float(head[8])
    except ValueError:
        raise DataError(f"{path}:1: latitude, longitude or time zone is not a number") from None
    temps, hums, ghis, has_ghi = [], [], [], True
    for line, row in enumerate(rows[8:], start=9):
        if not row or not "".join(row).strip():
            continue
        if len(row) < 9:
            raise DataError(f"{path}:{line}: expected at least 9 columns, found {len(row)}")
        try:
            month, day = int(row[1]), int(row[2])
            if month == 2 and day == 29:
                continue
            temps.append(float(row[6]))
            hums.append(float(row[8]))
            has_ghi = has_ghi and len(row) > 13
            ghis.append(float(row[13]) if len(row) > 13 else np.nan)
        except ValueError:
            raise DataError(
                f"{path}:{line}: month, day, dry bulb or relative humidity is not a number"
            ) from None
    if len(temps) != 8760:
        raise DataError(f"{path}: expected 8760 hourly rows after the 8 header lines, found {len(temps)}")
    tz_name = (
        f"Etc/GMT{-int(offset):+d}"
        if offset == int(offset) and offset != 0
        else "UTC" if offset == 0 else None
    )
    location = Location(head[1].strip() or None, head[3].strip() or None, lat, lon, tz_name, offset)
    temperature = _missing_filled(np.array(temps), 99.9, "dry bulb temperature", path)
    humidity = np.clip(_missing_filled(np.array(hums), 999.0, "relative humidity", path), 1.0, 100.0)
    ghi = _missing_filled(np.array(ghis), 9999.0, "global horizontal irradiance", path) if has_ghi else None
    return EpwWeather(path, location, temperature, humidity, ghi)


def _epw_hourly(epw: EpwWeather, hours: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The EPW typical year's values at UTC hour instants (any year; linear between hours)."""
    local = hours.astype("datetime64[m]") + np.timedelta64(int(round(float(epw.location.tz) * 60)), "m")
    year_start = local.astype("datetime64[Y]")
    minutes = (local - year_start.astype("datetime64[m]")).astype(float)
    years = year_start.astype(int) + 1970
    leap = (years % 4 == 0) & ((years % 100 != 0) | (years % 400 == 0))
    after_feb28 = minutes >= (31 + 29) * 1440
    minutes = np.where(leap & after_feb28, minutes - 1440, minutes)  # Feb 29 reuses Mar 1 values
    # Row j holds the value at hour j + 1 after Jan 1 00:00 (hour 1 ends at 01:00).
    x = (minutes / 60.0 - 1.0) % 8760.0
    idx = np.floor(x).astype(int)
    frac = x - idx
    nxt = (idx + 1) % 8760

    def at(values: np.ndarray) -> np.ndarray:
        return values[idx] * (1 - frac) + values[nxt] * frac

    if epw.ghi is not None:
        ghi = at(epw.ghi)
    else:  # no irradiance column: clear sky with a moderate cloud cover
        ghi = _clear_sky_ghi(hours, epw.location.latitude, epw.location.longitude) * (1.0 - 0.75 * 0.5**3.4)
    return at(epw.temperature), at(epw.humidity), ghi


class WeatherSeries:
    """Hourly outdoor weather of every home, interpolated to the simulation minutes.

    Arrays are (hours, homes); an EPW file gives one column shared by all homes. The series
    starts :data:`SPINUP_DAYS` before the simulation so running means have a history.
    """

    def __init__(self, start: datetime, minutes: int, n_devices: int, climate: Climate | None,
                 epw: EpwWeather | None, rngs: list[np.random.Generator]) -> None:  # fmt: skip
        self.first_hour = np.datetime64(
            start.replace(minute=0, second=0, microsecond=0), "h"
        ) - np.timedelta64(SPINUP_DAYS * 24, "h")
        self.offset = (np.datetime64(start, "m") - self.first_hour.astype("datetime64[m]")).astype(int)
        n_hours = (self.offset + minutes) // 60 + 3
        hours = self.first_hour + np.arange(n_hours).astype("timedelta64[h]")
        if epw is not None:
            t, rh, ghi = _epw_hourly(epw, hours)
            self.temperature, self.humidity, self.ghi = t[:, None], rh[:, None], ghi[:, None]
        else:
            assert climate is not None
            cols = [synthetic_hourly(climate, hours, rng) for rng in rngs]
            self.temperature = np.stack([c[0] for c in cols], axis=1)
            self.humidity = np.stack([c[1] for c in cols], axis=1)
            self.ghi = np.stack([c[2] for c in cols], axis=1)
        self.n_devices = n_devices
        self._running = self._running_mean()

    def _running_mean(self) -> np.ndarray:
        """EN 16798-1 running mean of daily means (α = 0.8), one row per 24 h from the first hour."""
        days = self.temperature.shape[0] // 24
        daily = self.temperature[: days * 24].reshape(days, 24, -1).mean(axis=1)
        running = np.empty_like(daily)
        running[0] = daily[0]
        for d in range(1, days):
            running[d] = 0.2 * daily[d - 1] + 0.8 * running[d - 1]
        return running

    def at_minutes(self, k0: int, k1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(temperature, RH, GHI) for simulation minutes ``k0 <= k < k1``, each (k1 - k0, homes)."""
        return self.at(np.arange(k0, k1))

    def at(self, minutes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(temperature, RH, GHI) at simulation ``minutes``, each (len(minutes), homes)."""
        x = (np.asarray(minutes) + self.offset) / 60.0
        idx = np.floor(x).astype(int)
        frac = (x - idx)[:, None]

        def at(values: np.ndarray) -> np.ndarray:
            out = values[idx] * (1.0 - frac) + values[idx + 1] * frac
            return np.broadcast_to(out, (len(x), self.n_devices)) if out.shape[1] == 1 else out

        return at(self.temperature), at(self.humidity), at(self.ghi)

    def running_mean_at(self, k: np.ndarray | int) -> np.ndarray:
        """Outdoor running mean temperature (°C) at simulation minutes ``k``, per home."""
        day = (np.asarray(k) + self.offset) // 1440
        out = self._running[np.minimum(day, len(self._running) - 1)]
        return np.broadcast_to(out, (*np.shape(day), self.n_devices)) if out.shape[-1] == 1 else out


def local_clock(
    start: datetime, k0: int, k1: int, tz: str | float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local (day number since the local day of ``start`` - 1, minute of day, weekday) per minute."""
    import pandas as pd

    zone = timezone(timedelta(hours=float(tz))) if isinstance(tz, (int, float)) else tz
    utc = pd.date_range(start + timedelta(minutes=k0), periods=k1 - k0, freq="min", tz="UTC")
    local = utc.tz_convert(zone).tz_localize(None)
    origin = pd.Timestamp(start).tz_localize("UTC").tz_convert(zone).tz_localize(None).normalize()
    day = (local.normalize() - origin).days.to_numpy() + 1
    return day, (local.hour * 60 + local.minute).to_numpy(), local.day_of_week.to_numpy()
