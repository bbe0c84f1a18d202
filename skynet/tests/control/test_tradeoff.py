"""The comfort/energy trade-off pieces: candidates for empty homes, cost weights, personal offsets."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from skynet.control import Appliance, Candidates, ControlConfig
from skynet.control._candidates import Setting, candidates
from skynet.control._cost import costs
from skynet.control._personal import ALL, Personalizer, offset_for, period_of_day, personal_offsets
from skynet.domain import Fan, Mode
from skynet.tests.control.conftest import FirstOrderRoomDouble

OFF = Setting(False, int(Mode.COOL), np.nan, int(Fan.AUTO))  # the AC is off


def _modes(cands: Candidates) -> set[str]:
    return {Mode(int(m)).label for m in cands.mode[cands.power]}


def test_an_empty_home_gets_no_dry_or_fan_only_candidates():
    config, appliance = ControlConfig(), Appliance()
    occupied = candidates(appliance, config, None, 29.0, (21.0, 26.0), people=True)
    empty = candidates(appliance, config, None, 29.0, (16.0, 30.0), people=False)
    assert {"cool", "dry", "fan"} <= _modes(occupied)
    assert _modes(empty) == {"cool"}  # no heating either: the room is far above the band's bottom
    assert not empty.power[0]  # "off" stays row 0


def _forecast(cands: Candidates, temperature: float = 28.0, outdoor: float = 33.0):
    out = FirstOrderRoomDouble().predict_candidates(
        {"temperature": temperature, "outdoor_temperature": outdoor, "humidity": 60.0}, cands.array
    )
    return out["temperature"], out["humidity"]


def test_switching_share_scales_only_the_switching_term():
    config = ControlConfig()
    cands = candidates(Appliance(), config, None, 28.0, (16.0, 30.0), people=False)
    t, rh = _forecast(cands)
    full = costs(cands, t, rh, None, "comfort", None, (16.0, 30.0), OFF, config)
    quarter = costs(cands, t, rh, None, "comfort", None, (16.0, 30.0), OFF, config, switch_share=0.25)
    assert full["switch"][1:].min() > 0.0 and full["switch"][0] == 0.0
    np.testing.assert_allclose(quarter["switch"], 0.25 * full["switch"])
    np.testing.assert_allclose(quarter["energy"], full["energy"])


def test_comfort_weight_scales_the_comfort_term():
    cands = candidates(Appliance(), ControlConfig(), None, 28.0, (21.0, 26.0))
    t, rh = _forecast(cands)
    feedback = np.clip((t - 25.0) / 2.0, -3, 3)
    one = costs(cands, t, rh, feedback, "comfort", None, None, None, ControlConfig(comfort_weight=1.0))
    three = costs(cands, t, rh, feedback, "comfort", None, None, None, ControlConfig(comfort_weight=3.0))
    assert one["comfort"].max() > 0
    np.testing.assert_allclose(three["comfort"], 3.0 * one["comfort"])


def test_dry_mode_costs_the_energy_of_cooling_to_the_same_set_point():
    config = ControlConfig()
    cands = Candidates.of_rows([[0, 0, 26, 0], [1, Mode.COOL, 24, 0], [1, Mode.DRY, 24, 0]])
    t = np.array([[28.0, 28.5, 29.0], [25.0, 24.0, 24.0], [25.0, 24.0, 24.0]])  # same climate
    rh = np.full((3, 3), 60.0)
    terms = costs(cands, t, rh, None, "comfort", None, None, None, config)
    assert terms["energy"][2] == pytest.approx(terms["energy"][1]) and terms["energy"][1] > terms["energy"][0]


class ResidualMeanDouble:
    """Comfort model double: predicts 0; ``personal_offsets`` = sum of votes / (votes + k), as UserModel."""

    def __init__(self, shrinkage: float = 4.0) -> None:
        self.shrinkage = shrinkage
        self.frames: list[pd.DataFrame] = []

    def personal_offsets(self, frame: pd.DataFrame) -> dict[str, tuple[float, int]]:
        self.frames.append(frame)
        grouped = frame.groupby(frame["device_id"].astype(str))["value"]
        return {d: (float(v.sum() / (len(v) + self.shrinkage)), len(v)) for d, v in grouped}


def _votes(rows: list[tuple[str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"device_id": d, "hour": h, "value": v, "temperature": 26.0, "humidity": 60.0} for d, h, v in rows]
    )


def test_a_device_with_few_votes_gets_about_the_fleet_offset_not_zero():
    """Every home votes +1 above the model by day: a home with one vote gets close to +1 (pooled),
    not the 1 / (1 + k) = 0.2 that shrinking it alone towards zero would give."""
    rows = [(f"h{i}", 14.0, 1.0) for i in range(10) for _ in range(8)] + [("new", 15.0, 1.0)]
    offsets = personal_offsets(ResidualMeanDouble(4.0), _votes(rows))
    pooled = offsets[(ALL, "day")]
    assert pooled == pytest.approx(81 / 85)  # many votes: hardly shrunk
    assert offsets[("new", "day")] == pytest.approx(pooled + (1.0 - pooled) / 5)
    alone = personal_offsets(ResidualMeanDouble(4.0), _votes(rows), pool=False)
    assert alone[("new", "day")] == pytest.approx(0.2) and (ALL, "day") not in alone


def test_a_device_that_differs_from_the_fleet_moves_away_from_it_with_its_votes():
    rows = [(f"h{i}", 14.0, 0.0) for i in range(10) for _ in range(8)]
    few = personal_offsets(ResidualMeanDouble(4.0), _votes(rows + [("cold", 14.0, -2.0)] * 2))
    many = personal_offsets(ResidualMeanDouble(4.0), _votes(rows + [("cold", 14.0, -2.0)] * 40))
    assert many[("cold", "day")] < few[("cold", "day")] < few[(ALL, "day")] <= 0.0


def test_offsets_are_by_period_of_the_day_and_fall_back_to_the_pooled_one():
    rows = [("a", 14.0, 1.0)] * 6 + [("a", 23.0, -1.0)] * 6 + [("b", 2.0, -1.0)] * 6
    offsets = personal_offsets(ResidualMeanDouble(1.0), _votes(rows))
    assert offsets[("a", "day")] > 0 > offsets[("a", "night")]
    assert offset_for(offsets, "a", 13.0) == offsets[("a", "day")]
    assert offset_for(offsets, "a", 6.5) == offsets[("a", "night")]
    assert offset_for(offsets, "b", 12.0) == offsets[(ALL, "day")]  # no day vote of its own
    assert offset_for({}, "b", 12.0) is None
    assert [period_of_day(h) for h in (21.9, 22.0, 3.0, 7.0)] == ["day", "night", "night", "day"]
    assert personal_offsets(ResidualMeanDouble(), _votes([])) == {}


def test_an_evaluation_logs_each_fallback_cause_once_with_its_count(caplog):
    """No models: every skynet decision falls back; the log says so once, then counts (from the
    decisions' typed fallbacks: no logging filter is involved)."""
    from skynet.api._control_evaluate import _Runner
    from skynet.control import Controller, DevicePolicy
    from skynet.sim import Fleet

    policy = DevicePolicy.skynet(Controller(None, None))
    runner = _Runner(lambda: Fleet(2, 0.1, 5, climate="hot-humid", occupant_actions=False), ControlConfig(), {}, 5,
                     True, None, False, 0.1)  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="skynet.control"):
        result = runner.run("skynet", policy)
    runner.close()
    decisions = result.decisions
    assert decisions > 2 and policy.fallbacks == {"no estimation model": decisions}
    lines = [r.getMessage() for r in caplog.records if r.name == "skynet.control"]
    assert len(lines) == 2, lines
    assert lines[0].startswith("control fallback for device ") and lines[0].endswith(": no estimation model")
    assert lines[1] == f"control fallback (no estimation model): {decisions} decisions in this evaluation"
    assert not logging.getLogger("skynet.control").filters


def test_fallback_keys_drop_the_particulars():
    from skynet.control import FailureKind, Fallback

    slow = Fallback(FailureKind.SLOW, "estimation model", detail="312 ms (budget 250 ms)")
    assert (
        slow.key == "estimation model took too long"
        and slow.cause == "estimation model took 312 ms (budget 250 ms)"
    )
    raised = Fallback(FailureKind.RAISED, "comfort model", "ValueError", "bad row 7")
    assert raised.key == "comfort model raised ValueError" and raised.cause.endswith(": bad row 7")
    assert Fallback(FailureKind.MISSING, "comfort model").key == "no comfort model"


def test_a_decision_for_an_empty_home_scores_no_dry_or_fan_candidate_and_switches_cheaper(
    estimator, comfort_model
):
    from skynet.control import Models, Request, decide
    from skynet.tests.control.conftest import NOW, make_context, off_state, target

    config, appliance = ControlConfig(), Appliance()
    models = Models(estimator, comfort_model)
    empty = decide(
        Request(make_context(33.0, occupancy=0), target(), appliance, off_state(600), NOW), models, config
    )
    home = decide(
        Request(make_context(33.0, occupancy=2), target(), appliance, off_state(600), NOW), models, config
    )
    assert empty.reason["candidates"] == len(
        candidates(appliance, config, None, 33.0, config.empty_band, False)
    )
    assert home.reason["candidates"] > empty.reason["candidates"]
    switch_on = config.switch_penalty + config.power_switch_penalty
    assert empty.reason["chosen"]["command"].startswith("cool")  # 33 °C is above the empty band
    assert empty.reason["chosen"]["cost"]["switch"] == pytest.approx(config.empty_switch_share * switch_on)
    assert home.reason["chosen"]["cost"]["switch"] == pytest.approx(switch_on)


def _fans_by_setting(cands: Candidates) -> dict[tuple[int, float], set[int]]:
    out: dict[tuple[int, float], set[int]] = {}
    for power, mode, tset, fan in zip(cands.power, cands.mode, cands.set_temperature, cands.fan, strict=True):
        if power:
            out.setdefault((int(mode), round(float(tset), 2)), set()).add(int(fan))
    return out


def test_a_running_unit_changes_its_fan_only_with_its_set_point_or_mode():
    from skynet.domain import ApplianceState

    FAN_CODE = {f.label: int(f) for f in Fan}
    MODE_CODE = {m.label: int(m) for m in Mode}

    appliance = Appliance()
    cool = ApplianceState("d", pd.Timestamp("2025-07-01 14:00").to_pydatetime(), True, "cool", 26.0, "auto")
    fan_only = ApplianceState("d", cool.timestamp, True, "fan", 26.0, "high")
    strict = _fans_by_setting(candidates(appliance, ControlConfig(), cool, 27.0, (21.0, 26.0)))
    free = _fans_by_setting(candidates(appliance, ControlConfig(fan_alone=True), cool, 27.0, (21.0, 26.0)))
    assert strict[(MODE_CODE["cool"], 26.0)] == {FAN_CODE["auto"]}  # the current state, no fan-only change
    assert free[(MODE_CODE["cool"], 26.0)] == set(FAN_CODE.values())
    assert strict[(MODE_CODE["cool"], 25.0)] == set(FAN_CODE.values())  # a new set point: any fan
    assert strict[(MODE_CODE["dry"], 26.0)] == {FAN_CODE["auto"]}
    in_fan_mode = _fans_by_setting(candidates(appliance, ControlConfig(), fan_only, 27.0, (21.0, 26.0)))
    assert in_fan_mode[(MODE_CODE["fan"], 26.0)] == {FAN_CODE["high"]}
    assert len(in_fan_mode[(MODE_CODE["cool"], 26.0)]) == len(FAN_CODE)  # another mode: any fan


def test_each_recent_command_adds_repeat_factor_switching_penalties():
    config = ControlConfig(repeat_factor=2.0)
    cands = candidates(Appliance(), config, None, 28.0, (21.0, 26.0))
    t, rh = _forecast(cands)
    fresh = costs(cands, t, rh, None, "comfort", None, None, OFF, config)
    busy = costs(cands, t, rh, None, "comfort", None, None, OFF, config, recent_commands=2)
    assert fresh["switch"][1:].min() > 0.0
    np.testing.assert_allclose(busy["switch"], 5.0 * fresh["switch"])  # 1 + 2 x 2
    np.testing.assert_allclose(busy["energy"], fresh["energy"])


def test_the_night_offset_is_added_at_night_only():
    offsets = {("a", "day"): 0.3, ("a", "night"): 0.2, (ALL, "night"): 0.1}
    assert offset_for(offsets, "a", 23.0, night=-0.6) == pytest.approx(-0.4)
    assert offset_for(offsets, "a", 12.0, night=-0.6) == pytest.approx(0.3)
    assert offset_for(offsets, "b", 3.0, night=-0.6) == pytest.approx(-0.5)  # the pooled one
    assert offset_for({}, "b", 3.0, night=-0.6) == pytest.approx(-0.6)
    assert offset_for({}, "b", 12.0, night=-0.6) is None


def test_skynet_policy_takes_the_night_offset_from_the_controllers_config():
    from skynet.control import Controller, DevicePolicy

    policy = DevicePolicy.skynet(
        Controller(comfort_model=ResidualMeanDouble(), config=ControlConfig(night_offset=-0.3))
    )
    assert policy.personalizer.night_offset == -0.3
    assert DevicePolicy.band_thermostat().personalizer is None


def test_a_young_setting_counts_as_more_recent_commands_fading_with_its_age():
    from datetime import datetime, timedelta

    from skynet.control._cost import dwell
    from skynet.domain import ApplianceState

    now, config = datetime(2025, 7, 1, 14, 0), ControlConfig(dwell_minutes=60.0, dwell_weight=4.0)

    def state(minutes: float) -> ApplianceState:
        return ApplianceState("d", now - timedelta(minutes=minutes), True, "cool", 26.0, "auto")

    assert dwell(state(0), now, config) == pytest.approx(4.0)
    assert dwell(state(15), now, config) == pytest.approx(3.0)
    assert dwell(state(60), now, config) == 0.0 and dwell(state(600), now, config) == 0.0
    assert dwell(None, now, config) == 0.0
    assert dwell(state(0), now, ControlConfig(dwell_minutes=0.0)) == 0.0


def test_a_command_that_would_undo_a_young_one_needs_a_larger_gain(estimator, comfort_model):
    from datetime import timedelta

    from skynet.control import Models, Request, decide
    from skynet.domain import ApplianceState
    from skynet.tests.control.conftest import NOW, make_context, target

    def switch_cost(minutes: float) -> float:
        state = ApplianceState("d1", NOW - timedelta(minutes=minutes), True, "cool", 28.0, "auto")
        models = Models(estimator, comfort_model)
        decision = decide(
            Request(make_context(29.0), target(), Appliance(), state, NOW), models, ControlConfig()
        )
        assert decision.reason["chosen"]["command"] != "cool 28 °C fan auto"  # far too warm: change
        return decision.reason["chosen"]["cost"]["switch"]

    config = ControlConfig()
    assert switch_cost(5) > switch_cost(60) > switch_cost(600)
    assert switch_cost(600) == pytest.approx(config.switch_penalty)


def test_one_personalizer_pooled_in_the_closed_loop_per_device_in_the_worker():
    votes = _votes([("a", 14.0, 1.0)] * 6 + [("a", 23.0, -1.0)] * 6 + [("b", 2.0, -1.0)] * 6)
    pooled = Personalizer(ResidualMeanDouble(1.0), night_offset=-0.6)
    pooled.learn(votes)
    assert pooled.offset("b", 12.0) == pooled.offsets[(ALL, "day")]  # no day vote of its own: the fleet's
    assert pooled.offset("a", 23.0) == pytest.approx(pooled.offsets[("a", "night")] - 0.6)
    assert pooled.offset("a", 23.0, night=False) == pooled.offsets[("a", "night")]
    alone = Personalizer(ResidualMeanDouble(1.0), night_offset=-0.6, pool=False)
    alone.learn(votes[votes["device_id"] == "a"])
    alone.learn(votes[votes["device_id"] == "b"])  # another device's votes keep a's offsets
    assert alone.knows("a") and alone.knows("b") and not alone.knows("c")
    assert alone.offset("a", 14.0) == pytest.approx(6 / 7) and alone.offset("b", 12.0) is None
    assert alone.offset("c", 12.0) is None and alone.offset("c", 2.0) == pytest.approx(-0.6)
