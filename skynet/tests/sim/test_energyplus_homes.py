"""EnergyPlus zones as homes in closed loop: the controller's commands set each zone's thermostat.

The runs use the small-office prototype (5 thermostat zones) in Miami for one July day at the
one-minute timestep the closed loop needs, a few seconds each. Without ``pyenergyplus-lbnl``
these tests skip, except where ``CI`` is set: there they run and fail, since the test
environment installs the extra.
"""

from __future__ import annotations

import numpy as np
import pytest

from skynet.control import DevicePolicy, FixedThermostat, closed_loop
from skynet.domain import AC_MODES
from skynet.errors import DataError
from skynet.sim import Commands
from skynet.sim.energyplus import COP, EnergyPlusHomes
from skynet.sim.energyplus._idf import OFF_COOLING, OFF_HEATING
from skynet.tests.sim.test_energyplus import needs_energyplus

BUILDING, CITY, START = "office-small", "miami", "2025-07-15"
COOL, HEAT, DRY, FAN_ONLY, AUTO = (AC_MODES.index(m) for m in ("cool", "heat", "dry", "fan", "auto"))


def homes(seed: int = 4) -> EnergyPlusHomes:
    return EnergyPlusHomes(BUILDING, CITY, START, 1, seed)


class ZoneZeroAt:
    """Cools zone 0 at ``set_point`` from the first minute, leaves the others off; keeps every observation."""

    def __init__(self, set_point: float) -> None:
        self.set_point, self.seen = set_point, []

    def decide(self, obs):
        self.seen.append(obs)
        if obs.minute:
            return None
        cmd = Commands.keep(obs)
        cmd.power[0], cmd.mode[0], cmd.set_temperature[0], cmd.send[0] = True, COOL, self.set_point, True
        return cmd


@pytest.fixture(scope="module")
def one_zone_cooled():
    fleet, policy = homes(), ZoneZeroAt(25.0)
    fleet.run(policy)
    return fleet, policy.seen


@needs_energyplus
def test_a_command_sets_its_zones_thermostat_from_the_next_minute(one_zone_cooled):
    fleet, seen = one_zone_cooled
    # every minute but the last (no minute follows it to command) goes to the controller
    assert len(seen) == fleet.minutes - 1 == 1439 and [o.minute for o in seen[:3]] == [0, 1, 2]
    t = np.array([o.true_temperature for o in seen])
    assert seen[1].power[0] and not seen[1].power[1:].any() and not seen[0].power.any()
    # the cooled zone stays near its set point (its unit is sized for 24 °C: at most ~0.6 K over in
    # office hours); the others float far warmer all through a Miami July day
    assert np.abs(t[120:, 0] - 25.0).max() < 1.0 and abs(np.mean(t[120:, 0]) - 25.0) < 0.3
    assert (t[600:, 1:].min(axis=1) > t[600:, 0] + 1.5).all()
    energy = fleet.energy_kwh
    # the zones left off still get the office's ventilation air (and its reheat): a little energy
    assert energy[0] > 1.0 and energy[0] > 2.0 * energy[1:].max()
    watts = np.array([o.power_w for o in seen])
    assert seen[-1].energy_kwh[0] == pytest.approx(watts[:, 0].sum() / 60_000.0) and COP > 1


@needs_energyplus
def test_observations_carry_people_sensors_and_ground_truth(one_zone_cooled):
    fleet, seen = one_zone_cooled
    assert [(o.timestamp - fleet.start).total_seconds() for o in seen[:2]] == [60.0, 120.0]
    occupants = np.array([o.occupants for o in seen])
    sensation = np.array([o.sensation for o in seen])
    assert occupants.max() >= 1 and (occupants == 0).any()  # people come and go by their schedules
    assert np.array_equal(np.isfinite(sensation), occupants > 0)
    assert np.abs(sensation[occupants > 0]).max() < 4.5
    t_read, t_true = np.array([o.temperature for o in seen]), np.array([o.true_temperature for o in seen])
    assert np.abs(t_read - t_true).max() <= 0.05 + 1e-9  # rounded to 0.1 °C as a device reports
    votes = np.array([o.feedback for o in seen])
    voted = np.isfinite(votes)
    assert voted.any() and set(np.unique(votes[voted])) <= set(range(-3, 4))
    assert (occupants[voted] > 0).all()
    outdoor = np.array([o.outdoor_temperature for o in seen])
    assert np.ptp(outdoor[:, 0]) > 3.0 and np.all(outdoor == outdoor[:, :1])  # one site, a daily swing


@needs_energyplus
def test_closed_loop_compares_controllers_on_the_same_people():
    """Two identical thermostats give identical results (a run is deterministic); the comfort-band
    thermostat with the homes' capabilities commands only what they can do."""
    policies = {
        "a": FixedThermostat(24.0),
        "b": FixedThermostat(24.0),
        "band": DevicePolicy.band_thermostat(),
    }
    evaluation = closed_loop(homes, policies, reference="a")
    a, b, band = evaluation.results
    assert np.array_equal(a.energy_kwh, b.energy_kwh) and a.uncomfortable_minutes == b.uncomfortable_minutes
    assert a.occupied_minutes == b.occupied_minutes == band.occupied_minutes > 0
    assert band.decisions > 0 and band.commands > 0
    used = np.unique(band.traces["set_temperature"][np.isfinite(band.traces["set_temperature"])])
    assert len(used) and used.min() >= 16.0 and used.max() <= 30.0
    assert evaluation.table()[0]["energy_vs_reference_%"] == 0.0
    assert len(evaluation.device_ids) == 5 and all(
        d.startswith("eplus-office-small-") for d in evaluation.device_ids
    )


def test_commands_become_dual_set_points():
    fleet = object.__new__(EnergyPlusHomes)
    fleet.power = np.array([False, True, True, True, True, True])
    fleet.mode = np.array([COOL, COOL, HEAT, DRY, FAN_ONLY, AUTO])
    fleet.set_temperature = np.full(6, 24.0)
    heat, cool = fleet._setpoints()
    assert heat.tolist() == [OFF_HEATING, OFF_HEATING, 24.0, OFF_HEATING, OFF_HEATING, 23.0]
    assert cool.tolist() == [OFF_COOLING, 24.0, OFF_COOLING, 24.0, OFF_COOLING, 25.0]


@needs_energyplus
def test_bad_days_and_sizing_are_one_line_errors():
    with pytest.raises(DataError, match="whole days"):
        EnergyPlusHomes(BUILDING, CITY, START, 1.5)
    with pytest.raises(DataError, match="sizing"):
        EnergyPlusHomes(BUILDING, CITY, START, 1, sizing="nope")
    with pytest.raises(DataError, match="not"):
        homes().run(FixedThermostat(24.0), minutes=60)
