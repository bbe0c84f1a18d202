"""Physics sanity of the simulated rooms and AC units (held at fixed settings, nobody acting)."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from skynet.domain import Fan

WINTER = datetime(2025, 1, 15)


def test_cooling_brings_the_room_down_to_the_set_point(run_fixed):
    fleet, off = run_fixed(power=False, room=(32.0, 40.0))
    _, cool = run_fixed(power=True, mode="cool", set_temperature=24.0, room=(32.0, 40.0))
    offset = fleet.unit["sensor_offset"]
    last_hour = cool["true_temperature"][-60:].mean(axis=0)
    assert (last_hour < off["true_temperature"][-60:].mean(axis=0) - 3).all()
    # The unit holds its own sensor (which reads `offset` warmer) within its deadband of 24 °C.
    assert (np.abs(last_hour + offset - 24.0) < 1.5).all(), last_hour + offset


def test_heating_raises_the_room_towards_the_set_point(run_fixed):
    args = dict(climate="cold", start=WINTER, room=(15.0, 40.0))
    _, off = run_fixed(power=False, **args)
    _, heat = run_fixed(power=True, mode="heat", set_temperature=22.0, **args)
    assert (heat["true_temperature"][-1] > heat["first_temperature"] + 4).all()
    assert (
        heat["true_temperature"][-60:].mean(axis=0) > off["true_temperature"][-60:].mean(axis=0) + 4
    ).all()
    assert (heat["true_temperature"][-60:].max(axis=0) < 24.0).all()


def test_a_room_left_alone_drifts_towards_the_outdoor_temperature(run_fixed):
    _, hot = run_fixed(power=False, hours=72, climate="temperate", room=(35.0, 40.0))
    _, cool = run_fixed(power=False, hours=72, climate="temperate", room=(17.0, 40.0))
    outdoor = hot["outdoor_temperature"]
    assert (hot["true_temperature"][-1] < 35.0 - 4).all()
    gap_start = hot["first_temperature"] - cool["first_temperature"]
    gap_end = hot["true_temperature"][-1] - cool["true_temperature"][-1]
    assert (np.abs(gap_end) < 0.35 * gap_start).all()  # both forget where they started
    # ... and settle some degrees above outdoors (people, appliances, sun; windows stay shut here).
    settled = (hot["true_temperature"][-1440:] + cool["true_temperature"][-1440:]).mean(axis=0) / 2
    excess = settled - outdoor[-1440:].mean(axis=0)
    assert ((excess > 0) & (excess < 15)).all(), excess


def test_dry_mode_lowers_the_humidity_more_than_the_fan(run_fixed):
    args = dict(hours=3, climate="hot-humid", room=(28.0, 80.0))
    _, dry = run_fixed(power=True, mode="dry", set_temperature=26.0, **args)
    _, fan = run_fixed(power=True, mode="fan", set_temperature=26.0, **args)
    assert (dry["true_humidity"][-1] < dry["first_humidity"] - 10).all()
    assert (dry["true_humidity"][-1] < fan["true_humidity"][-1] - 5).all()
    assert (dry["latent_w"].sum(axis=0) > 0).all() and (fan["latent_w"] == 0).all()


def test_cooling_capacity_limits_are_respected(run_fixed):
    for fan, share in ((Fan.HIGH, 1.15), (Fan.LOW, 0.85)):
        fleet, cool = run_fixed(power=True, mode="cool", set_temperature=16.0, fan=fan, room=(34.0, 50.0))
        removed = cool["latent_w"] - cool["heat_w"]  # sensible + latent taken out, less the fan's heat
        limit = fleet.unit["capacity_cool"] * 1.2 * share  # best outdoor factor x the fan's cap
        assert (removed.max(axis=0) <= limit).all()
        assert (removed.max(axis=0) > 0.3 * fleet.unit["capacity_cool"]).all()  # it did run hard


def test_heating_capacity_limits_are_respected(run_fixed):
    fleet, heat = run_fixed(power=True, mode="heat", set_temperature=30.0, climate="cold", start=WINTER,
                            room=(12.0, 40.0))  # fmt: skip
    fan_w = fleet.unit["fan_power"] + 3.0
    assert (heat["heat_w"].max(axis=0) <= fleet.unit["capacity_heat"] * 1.2 * 1.15 + fan_w).all()


def test_electric_power_only_while_the_unit_is_on(run_fixed):
    _, off = run_fixed(power=False, hours=2)
    assert (off["power_w"] == 0).all() and (off["energy_kwh"][-1] == 0).all()
    _, cool = run_fixed(power=True, mode="cool", set_temperature=25.0, hours=2, room=(30.0, 50.0))
    assert (cool["power_w"] > 0).all()  # the fan at least
    running = cool["compressor"]
    assert (cool["power_w"][running] > cool["power_w"][~running].max()).all()  # compressor >> fan
    assert np.allclose(cool["energy_kwh"][-1], cool["power_w"].sum(axis=0) / 60_000)


def _runs(on: np.ndarray, value: bool) -> list[int]:
    """Lengths of the complete runs of ``value`` (not touching either end of the series)."""
    edges = np.flatnonzero(np.diff(on.astype(int))) + 1
    pieces = np.split(on, edges)
    return [len(p) for p in pieces[1:-1] if p[0] == value]


def test_compressor_cycles_with_minimum_off_and_on_times(run_fixed):
    # A mild day and a set point near the room temperature: units cycle on their thermostat.
    fleet, cool = run_fixed(n=8, hours=12, climate="temperate", power=True, mode="cool",
                            set_temperature=23.0, fan=Fan.HIGH)  # fmt: skip
    cycles = 0
    for i in range(fleet.n):
        off_runs = _runs(cool["compressor"][:, i], False)
        on_runs = _runs(cool["compressor"][:, i], True)
        cycles += len(off_runs)
        assert all(n >= fleet.unit["min_off"][i] for n in off_runs)
        assert all(n >= fleet.unit["min_on"][i] for n in on_runs)
    assert cycles > 0  # the test saw the thermostat at work
