"""Outdoor weather: synthetic climates and EPW files."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from skynet.errors import DataError
from skynet.sim import CLIMATES, Fleet, read_epw, simulate_fleet


def _write_epw(path, temperature, humidity, offset=8.0, ghi=None):
    """A full-year EPW file: 8 header lines and 8760 rows of 35 columns."""
    head = [f"LOCATION,Testville,XX,TST,synthetic,000000,22.30,114.17,{offset},10.0"]
    head += ["DESIGN CONDITIONS,0", "TYPICAL/EXTREME PERIODS,0", "GROUND TEMPERATURES,0",
             "HOLIDAYS/DAYLIGHT SAVINGS,No,0,0,0", "COMMENTS 1,test", "COMMENTS 2,test",
             "DATA PERIODS,1,1,Data,Sunday, 1/ 1,12/31"]  # fmt: skip
    rows, start = [], datetime(2001, 1, 1)
    for h in range(8760):
        t = start + timedelta(hours=h)
        cols = [2001, t.month, t.day, t.hour + 1, 60, "?9?9?9?9E0?9?9?9?9?9?9?9?9?9?9?9?9?9?9*9*9?9?9?9",
                temperature(h), 10.0, humidity(h), 101325, 0, 0, 300, 0 if ghi is None else ghi(h), 0, 0]  # fmt: skip
        cols += [0] * (35 - len(cols))
        rows.append(",".join(map(str, cols)))
    path.write_text("\n".join(head + rows) + "\n")
    return path


def test_epw_file_is_read_and_interpolated_to_minutes(tmp_path):
    # Temperature = hour of the year / 100 (row h is the value at local hour h + 1), RH alternates.
    path = _write_epw(tmp_path / "t.epw", lambda h: round((h + 1) / 100, 2), lambda h: 40 if h % 2 else 60)
    epw = read_epw(path)
    assert epw.location.city == "Testville" and epw.location.timezone == "Etc/GMT-8"
    assert len(epw.temperature) == 8760 and epw.temperature[0] == 0.01
    # Jan 2 00:00 local = Jan 1 16:00 UTC: 24 hours into the year.
    fleet = Fleet(2, 0.1, seed=1, start=datetime(2025, 1, 1, 16, 0), weather_file=path)
    t, rh, ghi = fleet.weather.at(np.array([0, 30, 60]))
    assert np.allclose(t[:, 0], [0.24, 0.245, 0.25]) and np.allclose(t[:, 1], t[:, 0])
    assert np.allclose(rh[0, 0], 40.0) and np.allclose(rh[1, 0], 50.0)  # hour 24 is row 23 (odd: 40)
    result = simulate_fleet(2, 0.1, seed=1, start=datetime(2025, 1, 1, 16, 0), weather_file=path)
    assert set(result.devices.city) == {"Testville"} and set(result.devices.climate) == {"epw"}


def test_bad_epw_files_are_one_line_errors(tmp_path):
    missing = tmp_path / "none.epw"
    with pytest.raises(DataError, match="cannot read EPW file"):
        read_epw(missing)
    bad = tmp_path / "bad.epw"
    bad.write_text("this is not,an epw\n")
    with pytest.raises(DataError, match="not an EPW file"):
        read_epw(bad)
    short = _write_epw(tmp_path / "short.epw", lambda h: 20.0, lambda h: 50.0)
    short.write_text("\n".join(short.read_text().splitlines()[:100]))
    with pytest.raises(DataError, match="8760"):
        read_epw(short)


def test_unknown_climate_lists_the_presets():
    with pytest.raises(DataError, match="hot-humid"):
        simulate_fleet(1, 0.1, climate="martian")


def test_synthetic_climates_have_daily_cycles_and_differ():
    runs = {name: Fleet(6, 10, seed=4, climate=name) for name in ("hot-humid", "hot-dry", "cold")}
    for name, fleet in runs.items():
        t, rh, ghi = fleet.weather.at_minutes(0, fleet.minutes)
        clock_hour = (np.arange(fleet.minutes) // 60) % 24  # UTC
        solar_hour = (clock_hour + CLIMATES[name].longitude / 15.0) % 24
        afternoon, night = (solar_hour >= 13) & (solar_hour < 17), (solar_hour >= 0.5) & (solar_hour < 4)
        assert t[afternoon].mean() > t[night].mean() + 2, name
        assert (ghi[night] == 0).all() and ghi[afternoon].mean() > 100
        assert ((rh >= 0) & (rh <= 100)).all()
    hot_dry, hot_humid = (runs[n].weather.at_minutes(0, 1440) for n in ("hot-dry", "hot-humid"))
    assert hot_dry[1].mean() < hot_humid[1].mean() - 20  # RH
    cold = runs["cold"].weather.at_minutes(0, 1440)[0].mean()
    assert cold < hot_humid[0].mean()  # July in Montreal is cooler than in Hong Kong
