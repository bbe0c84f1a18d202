"""The trade-off pieces: candidates for empty homes, switching costs, personal offsets, fallback counts."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from skynet.control import Appliance, Candidates, ControlConfig
from skynet.control._candidates import candidates
from skynet.control._personal import ALL, Personalizer, offset_for, period_of_day, personal_offsets
from skynet.domain import Fan, Mode


def _modes(cands: Candidates) -> set[str]:
    return {Mode(int(m)).label for m in cands.mode[cands.power]}


def test_an_empty_home_gets_no_dry_or_fan_only_candidates():
    config, appliance = ControlConfig(modes=("cool", "heat", "dry", "fan")), Appliance()
    occupied = candidates(appliance, config, None, 29.0, (21.0, 26.0), people=True)
    empty = candidates(appliance, config, None, 29.0, (16.0, 30.0), people=False)
    assert {"cool", "dry", "fan"} <= _modes(occupied)
    assert _modes(empty) == {"cool"}  # no heating either: the room is far above the band's bottom
    assert not empty.power[0]  # "off" stays row 0


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

    config = ControlConfig(modes=("cool", "heat", "dry", "fan"), empty_band=(16.0, 30.0))
    appliance, models = Appliance(), Models(estimator, comfort_model)
    empty = decide(
        Request(make_context(33.0, occupancy=0), target(), appliance, off_state(600), NOW), models, config
    )
    home = decide(
        Request(make_context(33.0, occupancy=2), target(), appliance, off_state(600), NOW), models, config
    )
    offered = candidates(appliance, config, None, 33.0, config.empty_band, False, fans=("auto",))
    assert empty.reason["candidates"] == len(offered)  # the plan offers the running fan and auto
    assert home.reason["candidates"] > empty.reason["candidates"]
    switch_on = config.switch_penalty + config.power_switch_penalty
    assert empty.reason["chosen"]["command"].startswith("cool")  # 33 °C is above the empty band
    # an empty home hears no beep: its switches cost empty_switch_share of theirs (at most two a
    # plan: switching on now, then off or to another mode)
    empty_switch = empty.reason["chosen"]["cost"]["switch"]
    second = config.switch_penalty + config.mode_switch_penalty
    assert (
        config.empty_switch_share * switch_on
        <= empty_switch
        <= config.empty_switch_share * (switch_on + second) + 1e-9
    )
    assert home.reason["chosen"]["cost"]["switch"] >= switch_on


def _fans_by_setting(cands: Candidates) -> dict[tuple[int, float], set[int]]:
    out: dict[tuple[int, float], set[int]] = {}
    for power, mode, tset, fan in zip(cands.power, cands.mode, cands.set_temperature, cands.fan, strict=True):
        if power:
            out.setdefault((int(mode), round(float(tset), 2)), set()).add(int(fan))
    return out


def test_each_recent_command_and_a_young_setting_make_every_switch_of_a_plan_dearer():
    from datetime import datetime, timedelta

    from skynet.control import Request, SafetyState
    from skynet.control._plan import _switching, make_plan
    from skynet.domain import ApplianceState
    from skynet.tests.control.conftest import make_context, target

    now = datetime(2025, 7, 1, 14, 0)
    config = ControlConfig(repeat_factor=2.0, dwell_minutes=60.0, dwell_weight=4.0)

    def switch_cost(minutes: float, recent: int = 0) -> float:
        state = ApplianceState("d1", now - timedelta(minutes=minutes), True, "cool", 26.0, "auto")
        safety = SafetyState(
            True, now - timedelta(hours=3), tuple(now - timedelta(minutes=5 + m) for m in range(recent))
        )
        plan = make_plan(Request(make_context(27.0), target(), Appliance(), state, now, safety), config, None)
        other = next(i for i in range(1, len(plan.cmds)) if i != plan.hold and plan.cmds.power[i])
        plan.first, plan.second, plan.switch = np.array([other]), np.array([other]), np.array([plan.steps])
        return float(_switching(plan, plan.cmds.power[[other]][:, None], plan.cmds.mode[[other]][:, None],
                                config)[0])  # fmt: skip

    assert switch_cost(600) == pytest.approx(config.switch_penalty)
    assert switch_cost(600, recent=2) == pytest.approx(5.0 * config.switch_penalty)  # 1 + 2 x 2
    assert switch_cost(15) == pytest.approx(config.switch_penalty * (1 + 2.0 * 3.0))  # dwell 4 x (1 - 15/60)
    assert switch_cost(5) > switch_cost(30) > switch_cost(600)


def test_a_running_unit_changes_its_fan_only_with_its_set_point_or_mode():
    from skynet.domain import ApplianceState

    FAN_CODE = {f.label: int(f) for f in Fan}
    MODE_CODE = {m.label: int(m) for m in Mode}

    appliance, every = Appliance(), ("cool", "heat", "dry", "fan")
    cool = ApplianceState("d", pd.Timestamp("2025-07-01 14:00").to_pydatetime(), True, "cool", 26.0, "auto")
    fan_only = ApplianceState("d", cool.timestamp, True, "fan", 26.0, "high")
    strict = _fans_by_setting(candidates(appliance, ControlConfig(modes=every), cool, 27.0, (21.0, 26.0)))
    free = _fans_by_setting(candidates(appliance, ControlConfig(modes=every, fan_alone=True), cool, 27.0,
                                       (21.0, 26.0)))  # fmt: skip
    assert strict[(MODE_CODE["cool"], 26.0)] == {FAN_CODE["auto"]}  # the current state, no fan-only change
    assert free[(MODE_CODE["cool"], 26.0)] == set(FAN_CODE.values())
    assert strict[(MODE_CODE["cool"], 25.0)] == set(FAN_CODE.values())  # a new set point: any fan
    assert strict[(MODE_CODE["dry"], 26.0)] == {FAN_CODE["auto"]}
    in_fan_mode = _fans_by_setting(
        candidates(appliance, ControlConfig(modes=every), fan_only, 27.0, (21.0, 26.0))
    )
    assert in_fan_mode[(MODE_CODE["fan"], 26.0)] == {FAN_CODE["high"]}
    assert len(in_fan_mode[(MODE_CODE["cool"], 26.0)]) == len(FAN_CODE)  # another mode: any fan


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
