"""Closed-loop evaluation: the metrics, the command count, the plots, and real small models (on the
simulator and on EnergyPlus zones)."""

from __future__ import annotations

import numpy as np
import pytest

from skynet.control import ControlConfig, Controller, DevicePolicy, FixedThermostat, closed_loop
from skynet.sim import Fleet, simulate_fleet
from skynet.tests.control.conftest import FirstOrderRoomDouble, PmvLikeComfortDouble
from skynet.tests.sim.test_energyplus import needs_energyplus

SEED, HOMES, DAYS = 11, 3, 0.5


def make_fleet(fleets: list | None = None, climate: str = "hot-humid", days: float = DAYS):
    def build() -> Fleet:
        fleet = Fleet(HOMES, days, SEED, climate=climate, occupant_actions=False)
        if fleets is not None:
            fleets.append(fleet)
        return fleet

    return build


def test_metrics_match_the_simulators_ground_truth():
    """The fixed thermostat's metrics equal those recomputed from simulate_fleet's truth."""
    evaluation = closed_loop(make_fleet(), {"fixed": FixedThermostat(24.0)}, band=(21.0, 26.0))
    result = evaluation.results[0]
    truth = simulate_fleet(HOMES, DAYS, SEED, climate="hot-humid", policy=FixedThermostat(24.0),
                           occupant_actions=False).truth  # fmt: skip
    home = truth["occupants"] > 0
    s = truth["sensation"].astype(float)[home]
    assert result.occupied_minutes == home.sum() > 0
    assert result.uncomfortable_minutes == np.count_nonzero(np.abs(s) > 0.5)
    assert result.abs_sensation == pytest.approx(np.abs(s).mean(), rel=1e-5)
    t = truth["temperature"].astype(float)[home]
    degree_hours = (np.maximum(t - 26.0, 0) + np.maximum(21.0 - t, 0)).sum() / 60
    assert result.degree_hours == pytest.approx(degree_hours, rel=1e-4)
    row = evaluation.table()[0]
    assert row["uncomfortable_%"] == round(100 * result.uncomfortable_minutes / result.occupied_minutes, 1)
    assert row["kwh_per_home_day"] == round(result.energy_kwh.sum() / (HOMES * DAYS), 2)


def test_commands_are_counted_as_the_fleet_applied_them():
    fleets: list[Fleet] = []
    controller = Controller(FirstOrderRoomDouble(), PmvLikeComfortDouble(26.0))
    policies = {"band": DevicePolicy.band_thermostat(), "skynet": DevicePolicy.skynet(controller)}
    evaluation = closed_loop(make_fleet(fleets), policies, reference="band")
    for result, fleet in zip(evaluation.results, fleets, strict=True):
        applied = [e for e in fleet.appliance_events if e[-1] == "skynet"]
        assert result.commands == len(applied) > 0, result.name
        assert result.decisions > 0 and result.latency_ms["p99"] > 0
    table = evaluation.table()
    assert [r["controller"] for r in table] == ["band", "skynet"] and table[0]["energy_vs_reference_%"] == 0.0
    assert len(evaluation.plotted) == HOMES


def test_every_controller_faces_the_same_homes_and_weather():
    evaluation = closed_loop(make_fleet(), {"a": FixedThermostat(24.0), "b": FixedThermostat(27.0)})
    a, b = (r.traces for r in evaluation.results)
    assert np.array_equal(a["outdoor_temperature"], b["outdoor_temperature"])
    assert np.array_equal(np.isnan(a["sensation"]), np.isnan(b["sensation"]))  # same people at home
    assert not np.allclose(np.nan_to_num(a["temperature"]), np.nan_to_num(b["temperature"]))


def test_plots_are_written(tmp_path):
    from skynet.control._report import plot_homes

    evaluation = closed_loop(make_fleet(), {"a": FixedThermostat(24.0), "b": FixedThermostat(27.0)},
                             plot_devices=2)  # fmt: skip
    paths = plot_homes(evaluation, tmp_path / "report", days=1)
    assert len(paths) == 2 and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)
    assert not list((tmp_path / "report").glob(".*"))  # no temporary file left behind


def test_skynet_with_real_small_models_beats_the_24_degree_thermostat_on_a_hot_climate(small_models):
    """People in the simulator are neutral near 26-27 °C in summer clothes: a fixed 24 °C set point
    overcools them. A controller that learned their comfort must use less energy and leave them
    closer to neutral (the margins are wide: 24 °C costs ~25 % more energy than 26 °C)."""
    controller = Controller(small_models["estimator"], small_models["comfort"], ControlConfig())
    policies = {"fixed 24 °C": FixedThermostat(24.0), "skynet": DevicePolicy.skynet(controller)}
    evaluation = closed_loop(make_fleet(days=1.0), policies, reference="fixed 24 °C")
    fixed, sky = evaluation.results
    assert sky.fallbacks == {} and sky.decisions > 0
    assert sky.energy_kwh.sum() < fixed.energy_kwh.sum()
    assert sky.abs_sensation < fixed.abs_sensation
    assert sky.commands / sky.home_days < 48  # far under the safety limit of 6 an hour


@needs_energyplus
def test_skynet_with_models_trained_on_the_building_beats_24_degrees_on_energyplus_zones():
    """The same test on EnergyPlus: the estimation model learns the small office from an EnergyPlus
    run of the three days before (random schedules), the comfort model the simulator's people;
    in closed loop on the five zones for a July day in Miami skynet must cool less and leave
    its occupants closer to neutral than a fixed 24 °C."""
    from skynet.api._control_train import train_on_energyplus
    from skynet.sim.energyplus import EnergyPlusHomes

    models = train_on_energyplus("office-small", "miami", "2025-07-15", 3, 5, "hot-humid", sim_devices=6,
                                 sim_days=3, progress=False, estimator_params={"hidden": (32, 32), "epochs": 20},
                                 comfort_params={"max_iter": 60, "calibration_folds": 2})  # fmt: skip
    assert "EnergyPlus office-small" in models["note"]
    controller = Controller(models["estimator"], models["comfort"], ControlConfig())
    policies = {"fixed 24 °C": FixedThermostat(24.0), "skynet": DevicePolicy.skynet(controller)}
    evaluation = closed_loop(lambda: EnergyPlusHomes("office-small", "miami", "2025-07-15", 1, seed=2,
                                                     climate="hot-humid"), policies, reference="fixed 24 °C")  # fmt: skip
    fixed, sky = evaluation.results
    assert sky.fallbacks == {} and sky.decisions > 0
    assert sky.energy_kwh.sum() < fixed.energy_kwh.sum()
    assert sky.abs_sensation < fixed.abs_sensation


class _Result:
    """A controller's result as the best-fixed search reads it."""

    def __init__(self, name: str, uncomfortable: float, kwh: float) -> None:
        self.name, self.uncomfortable, self.energy_kwh = name, uncomfortable, np.array([kwh])


def test_the_best_fixed_set_point_is_the_least_energy_no_less_comfortable_than_the_band():
    from skynet.api._control_evaluate import best_fixed

    # people get uncomfortable above 28 °C; energy falls with the set point
    share = {24.0: 0.8, 25.0: 0.6, 26.0: 0.45, 27.0: 0.40, 28.0: 0.44, 29.0: 0.6, 30.0: 0.8}
    ran = []

    def run(s: float) -> _Result:
        ran.append(s)
        return _Result(f"fixed {s:g} °C", share[s], 10.0 - s / 10)

    band = _Result("comfort band", 0.45, 7.0)
    assert best_fixed(run, band, None, 26.0).name == "fixed 28 °C"
    assert ran == [26.0, 27.0, 28.0, 29.0]  # the walk stops at the first set point worse than the band
    ran.clear()
    strict = _Result("comfort band", 0.42, 7.0)  # people feel cold at the band's top: warmer is better
    assert best_fixed(run, strict, None, 26.0).name == "fixed 27 °C" and ran == [26.0, 27.0, 28.0]
    ran.clear()
    assert best_fixed(run, _Result("comfort band", 0.39, 7.0), None, 26.0) is None
    assert ran == [26.0, 27.0, 28.0, 25.0]  # nothing up there qualifies; colder gets worse at once
    ran.clear()
    hot = {26.0: 0.5, 27.0: 0.6, 25.0: 0.42, 24.0: 0.41}  # too warm at the band's top: walk down
    assert best_fixed(lambda s: _Result(f"fixed {s:g} °C", hot[s], 10.0 - s / 10), _Result("b", 0.42, 7.0),
                      None, 26.0).name == "fixed 25 °C"  # fmt: skip
    assert best_fixed(run, band, [25.0, 26.0], 26.0).name == "fixed 26 °C"


def test_a_baselines_result_is_kept_and_reused(tmp_path):
    from skynet.api._control_evaluate import _Runner
    from skynet.sim import Fleet

    class Counting(FixedThermostat):
        calls = 0

        def decide(self, obs):
            Counting.calls += 1
            return super().decide(obs)

    def runner() -> _Runner:
        return _Runner(lambda: Fleet(2, 0.05, 4, climate="hot-humid"), ControlConfig(), {"case": 1}, 5, True,
                       tmp_path, False, 0.05)  # fmt: skip

    first = runner().run("fixed 26 °C", Counting(26.0), {"set_point": 26.0})
    calls = Counting.calls
    again = runner().run("fixed 26 °C", Counting(26.0), {"set_point": 26.0})
    assert calls > 0 and Counting.calls == calls  # not run again
    assert again.row() == first.row() and np.array_equal(again.traces["temperature"], first.traces["temperature"],
                                                          equal_nan=True)  # fmt: skip
    assert runner().run("fixed 27 °C", Counting(27.0), {"set_point": 27.0}).row() != first.row()
