"""EnergyPlus as a data source: prototype zones become devices, set points drive the physics.

The EnergyPlus runs use the small-office prototype (5 thermostat zones) in Miami for two July
days at a 15-minute timestep, a few seconds each; the random-schedule run is shared by the
module. Without ``pyenergyplus-lbnl`` these tests skip, except where ``CI`` is set: there
they run and fail, since the test environment installs the extra.
"""

from __future__ import annotations

import importlib.util
import os
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from skynet.domain import ApplianceState, Device, SensorReading, Weather, field_names
from skynet.errors import DataError
from skynet.sim.energyplus import (
    EnergyPlusError,
    EnergyPlusResult,
    list_buildings,
    list_weather,
    run_energyplus,
)
from skynet.sim.energyplus._idf import parse_idf, prepare_idf
from skynet.sim.energyplus._schedule import random_commands

HAVE_ENERGYPLUS = importlib.util.find_spec("pyenergyplus") is not None
needs_energyplus = pytest.mark.skipif(
    not HAVE_ENERGYPLUS and not os.environ.get("CI"),
    reason="pyenergyplus-lbnl is not installed (pip install 'skynet[energyplus]'); with CI set these tests run",
)

BUILDING, CITY, START, END = "office-small", "miami", date(2025, 7, 1), date(2025, 7, 3)
MIAMI_UTC_OFFSET = timedelta(hours=5)  # the TMY3 file's standard time is UTC-5
STEP = 15


@pytest.fixture(scope="module")
def run() -> EnergyPlusResult:
    """Two July days of the small office in Miami under the random schedule of seed 3."""
    return run_energyplus(BUILDING, CITY, START, END, seed=3, timestep_minutes=STEP)


def _local(frame: pd.DataFrame) -> pd.Series:
    return frame["timestamp"] - MIAMI_UTC_OFFSET


@needs_energyplus
def test_each_thermostat_zone_becomes_a_device(run):
    zones = [o.fields[1] for o in parse_idf(_prototype_text()) if o.key == "zonecontrol:thermostat"]
    assert run.zones == zones and len(zones) >= 2
    assert list(run.devices.columns) == field_names(Device)
    assert run.devices["device_id"].tolist() == run.device_ids
    assert all(d.startswith(f"eplus-{BUILDING}-") for d in run.device_ids)
    assert run.devices["building_type"].eq(BUILDING).all() and run.devices["climate"].eq(CITY).all()
    assert run.devices["timezone"].eq("Etc/GMT+5").all()


@needs_energyplus
def test_readings_at_every_timestep_in_utc(run):
    steps = 2 * 24 * 60 // STEP
    for cls, frame in ((SensorReading, run.sensor_readings), (Weather, run.weather)):
        assert list(frame.columns) == field_names(cls)
        assert len(frame) == steps * len(run.zones)
        per_device = frame.groupby("device_id")["timestamp"]
        assert (per_device.min() == datetime(2025, 7, 1) + MIAMI_UTC_OFFSET + timedelta(minutes=STEP)).all()
        assert (per_device.max() == datetime(2025, 7, 3) + MIAMI_UTC_OFFSET).all()
        assert per_device.diff().dropna().eq(pd.Timedelta(minutes=STEP)).all()
    assert run.counts()["sensor_reading"] == steps * len(run.zones)


@needs_energyplus
def test_outdoor_weather_is_the_weather_file_on_the_hour(run):
    from skynet.sim._climate import read_epw

    epw = read_epw(run.weather_file)
    one = run.weather[run.weather["device_id"] == run.device_ids[0]]
    local = _local(one)
    on_hour = (local.dt.minute == 0).to_numpy()
    # EPW row j holds the hour ending at j + 1 h after Jan 1 00:00 local standard time.
    rows = ((local[on_hour] - pd.Timestamp("2025-01-01")) / pd.Timedelta(hours=1)).astype(int) - 1
    np.testing.assert_allclose(one["temperature"][on_hour], epw.temperature[rows], atol=0.05)
    np.testing.assert_allclose(one["humidity"][on_hour], epw.humidity[rows], atol=1.0)
    # The running mean is one value per local day, within the range of the fortnight's daily means.
    day = (local - pd.Timedelta(minutes=STEP)).dt.normalize()
    assert one.groupby(day)["running_mean_temperature"].nunique().eq(1).all()
    daily = epw.temperature.reshape(365, 24).mean(axis=1)
    for when, value in one.groupby(day)["running_mean_temperature"].first().items():
        doy = when.day_of_year - 1
        assert daily[doy - 14 : doy].min() - 0.01 <= value <= daily[doy - 14 : doy].max() + 0.01


@needs_energyplus
def test_indoor_conditions_are_plausible(run):
    readings = run.sensor_readings
    assert readings["temperature"].between(15, 40).all()
    assert readings["humidity"].between(15, 100).all()
    assert readings["temperature"].std() > 0.5  # the schedule makes the zones move


@needs_energyplus
def test_appliance_states_are_the_schedule_sent_by_skynet(run):
    states = run.appliance_states
    assert list(states.columns) == field_names(ApplianceState)
    assert states["origin"].eq("skynet").all() and states["mode"].eq("cool").all()  # Miami July: cooling days
    assert set(states["device_id"]) == set(run.device_ids)
    assert states.groupby("device_id")["timestamp"].min().eq(datetime(2025, 7, 1) + MIAMI_UTC_OFFSET).all()
    on = states[states["power"]]
    assert on["set_temperature"].between(22, 28).all() and (~states["power"]).any()


@needs_energyplus
def test_zones_follow_their_set_points_and_warm_when_off(run):
    truth = run.truth
    on = truth[truth["power"]]
    # Once a cooling zone has reached its set point the thermostat holds it there.
    assert (on["temperature"] - on["set_temperature"]).median() == pytest.approx(0.0, abs=0.3)
    # Above its set point a cooling zone is pulled down (at the unit's capacity, so not at once).
    falls = truth.groupby("device_id")["temperature"].shift(-1) - truth["temperature"]
    above = truth["power"] & (truth["temperature"] > truth["set_temperature"] + 0.5) & falls.notna()
    assert above.sum() >= 10 and (falls[above] < 0).mean() > 0.7
    assert truth.loc[~truth["power"], "temperature"].mean() > on["temperature"].mean() + 1.0
    assert truth.loc[~truth["power"], "cooling_w"].mean() < on["cooling_w"].mean() / 5


@needs_energyplus
def test_lowering_the_set_point_cools_every_zone():
    """Day 1 every zone cools at 27 °C, day 2 at 22 °C: each zone ends day 2 far cooler."""
    from skynet.sim.energyplus import zone_devices

    zones = [o.fields[1] for o in parse_idf(_prototype_text()) if o.key == "zonecontrol:thermostat"]
    ids = zone_devices(BUILDING, zones)
    day1, day2 = datetime(2025, 7, 1) + MIAMI_UTC_OFFSET, datetime(2025, 7, 2) + MIAMI_UTC_OFFSET
    schedule = pd.DataFrame(
        [{"device_id": d, "timestamp": t, "power": True, "mode": "cool", "set_temperature": sp}
         for d in ids for t, sp in ((day1, 27.0), (day2, 22.0))]
    )  # fmt: skip
    result = run_energyplus(BUILDING, CITY, START, END, timestep_minutes=STEP, schedule=schedule)
    assert result.seed is None and len(result.appliance_states) == 2 * len(ids)
    temps = result.truth.set_index(["device_id", "timestamp"])["temperature"].unstack(0)
    afternoon1 = temps.loc[day1 + timedelta(hours=12) : day1 + timedelta(hours=18)].mean()
    afternoon2 = temps.loc[day2 + timedelta(hours=12) : day2 + timedelta(hours=18)].mean()
    assert (afternoon1 > 26.5).all() and (afternoon2 < 24.0).all()
    assert (afternoon1 - afternoon2 > 3.0).all()


@needs_energyplus
def test_a_run_is_deterministic_for_its_seed(run):
    again = run_energyplus(BUILDING, CITY, START, END, seed=3, timestep_minutes=STEP)
    for kind in ("device", "sensor_reading", "weather", "appliance_state"):
        pd.testing.assert_frame_equal(again.frame(kind), run.frame(kind))


def test_the_schedule_depends_on_the_seed_only():
    daily = np.full(3, 28.0)
    a, b, c = (random_commands(288, 4, 96, daily, seed) for seed in (3, 3, 4))
    assert np.array_equal(a.set_temperature, b.set_temperature) and np.array_equal(a.power, b.power)
    assert not np.array_equal(a.set_temperature, c.set_temperature)
    # Zone i's schedule does not depend on how many zones there are.
    assert np.array_equal(random_commands(288, 2, 96, daily, 3).power, a.power[:, :2])
    cold = random_commands(288, 2, 96, np.full(3, 5.0), 3)
    assert (cold.mode == 1).all() and cold.set_temperature.min() >= 18 and cold.set_temperature.max() <= 24


@needs_energyplus
def test_a_bad_idf_is_one_line_with_the_first_severe_error(tmp_path):
    bad = tmp_path / "bad.idf"
    bad.write_text(_prototype_text() + "\nZone, skynet broken zone, not-a-number;\n", encoding="latin-1")
    with pytest.raises(EnergyPlusError) as info:
        run_energyplus(bad, CITY, START, START + timedelta(days=1), timestep_minutes=60)
    message = str(info.value)
    assert message.startswith("EnergyPlus failed") and "not-a-number" in message and "\n" not in message


def test_an_unclosed_object_is_reported_with_its_line():
    with pytest.raises(DataError, match=r"open\.idf:3: object 'Zone' is not closed"):
        parse_idf("Version, 25.2;\n\nZone,\n  Kitchen,  ! name; not the end\n  0\n", "open.idf")


def test_an_idf_without_thermostats_has_no_devices():
    with pytest.raises(DataError, match="plain.idf: no ZoneControl:Thermostat"):
        prepare_idf("Version, 25.2;\nZone, Kitchen;\n", START, END, 15, "plain.idf")


def test_prepare_idf_replaces_the_run_period_and_thermostats():
    text = """Version, 25.2;  ! a comment; with a semicolon
Timestep, 4;
RunPeriod, annual, 1, 1, , 12, 31, , Sunday, No, No, Yes, Yes, Yes;
Zone, Kitchen;
Zone, Bedroom;
ZoneList, Rooms, Kitchen, Bedroom;
ZoneControl:Thermostat, Rooms Thermostat, Rooms, Control Type, ThermostatSetpoint:SingleCooling, Cool SP;
SizingPeriod:DesignDay, Denver summer, 7, 21;
"""
    out, zones = prepare_idf(text, date(2025, 12, 30), date(2026, 1, 2), 10, "two.idf", sizing_days=[(8, 1)])
    assert zones == ["Kitchen", "Bedroom"]
    objects = {o.key: o for o in parse_idf(out)}
    assert [o.key for o in parse_idf(out)].count("runperiod") == 1
    assert objects["runperiod"].fields[1:7] == ("12", "30", "2025", "1", "1", "2026")
    assert objects["timestep"].fields == ("6",)
    assert objects["zonecontrol:thermostat"].fields[1:4] == (
        "Rooms",
        "skynet dual setpoint control type",
        "ThermostatSetpoint:DualSetpoint",
    )
    assert "sizingperiod:designday" not in objects and objects["sizingperiod:weatherfiledays"].fields[
        1:3
    ] == ("8", "1")
    assert out.startswith("Version, 25.2;  ! a comment; with a semicolon")


def test_prepare_idf_runs_the_weather_file_period_of_a_2004_reference_model():
    """The DOE reference 2004 models switch weather-file runs off: they ran zero timesteps."""
    text = """Version, 25.2;
SimulationControl, YES, YES, YES, YES, NO, No, 1;
Zone, Kitchen;
ZoneControl:Thermostat, T, Kitchen, Control Type, ThermostatSetpoint:SingleCooling, Cool SP;
"""
    out, _ = prepare_idf(text, START, END, 10, "ref2004.idf")
    control = next(o for o in parse_idf(out) if o.key == "simulationcontrol")
    assert control.fields == ("YES", "YES", "YES", "No", "Yes", "No", "1")


@needs_energyplus
def test_missing_weather_file_and_unknown_names(tmp_path):
    with pytest.raises(DataError, match=r"weather file not found: .*nowhere\.epw"):
        run_energyplus(BUILDING, tmp_path / "nowhere.epw", START, END)
    with pytest.raises(DataError, match=r"unknown weather city 'atlantis'; known: .*miami"):
        run_energyplus(BUILDING, "atlantis", START, END)
    with pytest.raises(DataError, match=r"unknown building 'igloo'; known: .*apartment-midrise"):
        run_energyplus("igloo", CITY, START, END)
    not_epw = tmp_path / "notes.epw"
    not_epw.write_text("hello\n")
    with pytest.raises(DataError, match="not an EPW file"):
        run_energyplus(BUILDING, not_epw, START, END)


@needs_energyplus
def test_bad_period_and_timestep():
    with pytest.raises(DataError, match="1 to 366 days"):
        run_energyplus(BUILDING, CITY, END, START)
    with pytest.raises(DataError, match="timestep_minutes must be one of"):
        run_energyplus(BUILDING, CITY, START, END, timestep_minutes=7)
    with pytest.raises(DataError, match="is not a date"):
        run_energyplus(BUILDING, CITY, "July 1st")


@needs_energyplus
def test_listings_name_the_shipped_buildings_and_cities():
    buildings = {row["building"]: row for row in list_buildings()}
    assert buildings["apartment-midrise"]["thermostats"] == 24
    assert buildings[BUILDING]["thermostats"] == 5
    cities = {row["city"] for row in list_weather()}
    assert {"miami", "chicago", "denver", "las-vegas", "san-francisco"} <= cities


def test_missing_extra_names_the_install_command(monkeypatch):
    import skynet.sim.energyplus._catalog as catalog
    import skynet.sim.energyplus._engine as engine

    monkeypatch.setattr(catalog.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(
        EnergyPlusError, match=r"EnergyPlus is not installed: pip install 'skynet\[energyplus\]'"
    ):
        run_energyplus("apartment-midrise", "miami")
    monkeypatch.setattr(engine, "_API", None)
    monkeypatch.setitem(__import__("sys").modules, "pyenergyplus.api", None)
    with pytest.raises(EnergyPlusError, match=r"pip install 'skynet\[energyplus\]'"):
        engine._api()


def _prototype_text() -> str:
    from skynet.sim.energyplus._catalog import buildings

    return buildings()[BUILDING].path.read_text(encoding="latin-1")
