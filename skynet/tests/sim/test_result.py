"""Record frames: the domain's columns, the right counts, valid values; the stepping API."""

from __future__ import annotations

import numpy as np
import pytest

from skynet.domain import RECORD_KINDS, field_names
from skynet.errors import DataError
from skynet.sim import TRUTH_COLUMNS, Commands, Fleet, RulePolicy, run_policy


def test_frames_have_the_domain_columns_and_counts(small_run):
    counts = small_run.counts()
    for kind, cls in RECORD_KINDS.items():
        frame = small_run.frame(kind)
        assert list(frame.columns) == field_names(cls), kind
        assert len(frame) == counts[kind], kind
        assert sum(len(f) for f in small_run.frames(kind, rows=3000)) == counts[kind]
    readings = small_run.frame("sensor_reading")
    lost = small_run.minutes * len(small_run.device_ids) - len(readings)
    assert 0 <= lost < 0.01 * len(readings)  # a few lost readings
    assert readings.temperature.between(5, 45).all() and readings.humidity.between(0, 100).all()
    assert np.allclose(readings.temperature * 10, np.round(readings.temperature * 10))  # 0.1 °C steps
    weather = small_run.frame("weather")
    assert (weather.groupby("device_id").timestamp.diff().dropna() == np.timedelta64(30, "m")).all()


def test_truth_frame_and_energy(small_run):
    truth = small_run.truth_frame(small_run.device_ids[:2])
    assert list(truth.columns) == ["device_id", "timestamp", *TRUTH_COLUMNS]
    assert len(truth) == 2 * small_run.minutes
    energy = small_run.truth["power_w"].sum(axis=0) / 60_000
    assert np.allclose(energy, small_run.energy_kwh, rtol=1e-4)
    with pytest.raises(DataError, match="not a simulated device"):
        small_run.frame("sensor_reading", ["nope"])


def test_a_controller_drives_the_fleet_in_closed_loop():
    """An external policy: keep every AC off except home 0, cooling at 22 °C, fan high."""

    class OnlyHomeZero:
        def decide(self, obs):
            cmd = Commands.keep(obs)
            cmd.power[:] = False
            cmd.power[0], cmd.mode[0], cmd.set_temperature[0], cmd.fan[0] = True, 0, 22.0, 3
            cmd.send[:] = ~obs.user_hold
            return cmd

    fleet = Fleet(3, 0.25, seed=2, climate="hot-humid", occupant_actions=False)
    last = run_policy(fleet, OnlyHomeZero(), fleet.minutes)
    assert last.power.tolist() == [True, False, False]
    assert last.energy_kwh[0] > 0 and (last.energy_kwh[1:] == 0).all()
    with pytest.raises(DataError, match="prepared for"):
        fleet.step()
    skynet = [e for e in fleet.appliance_events if e[-1] == "skynet"]
    assert skynet and all(e[1] in (0, 1, 2) for e in skynet)


def test_the_rule_policy_needs_binding():
    fleet = Fleet(1, 0.01, seed=1)
    with pytest.raises(RuntimeError, match="bind"):
        RulePolicy().decide(fleet.observe())
