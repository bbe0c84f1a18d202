"""The simulator's rule-based controller keeps a dead band between heating and cooling."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from skynet.domain import Mode
from skynet.sim import Fleet, RulePolicy
from skynet.sim._occupants import TARGET


def _policy_and_obs():
    fleet = Fleet(1, 1, 3, climate="temperate", occupant_actions=False)
    policy = RulePolicy(explore=0.0)
    policy.bind(fleet)
    return policy, fleet.observe()


def _at(obs, minute, t, t_out, power, mode, target="temperature", value=24.0, home=1):
    one = lambda v, dtype=float: np.array([v], dtype=dtype)  # noqa: E731
    return replace(obs, minute=minute, temperature=one(t), humidity=one(50.0), outdoor_temperature=one(t_out),
                   power=one(power, bool), mode=one(Mode.of(mode), np.int64), set_temperature=one(value),
                   target_mode=one(TARGET[target], np.int64), target_value=one(value if target == "temperature" else np.nan),
                   occupants=one(home, np.int64), user_hold=one(False, bool))  # fmt: skip


def _mode(cmd, obs) -> str:
    code = int(cmd.mode[0]) if cmd is not None and cmd.send[0] else int(obs.mode[0])
    return Mode(code).label


def test_a_temperature_target_does_not_flip_modes_with_the_outdoor_temperature():
    policy, obs = _policy_and_obs()
    # cooling to 24 °C; the evening cools outside below 22 °C while the room sits a little under 24
    cooling = _at(obs, 0, 22.8, 20.0, True, "cool")
    assert _mode(policy.decide(cooling), cooling) == "cool"
    # the room really is cold: now it heats
    cold = _at(obs, 15, 21.0, 20.0, True, "cool")
    assert _mode(policy.decide(cold), cold) == "heat"
    # heating, a warm afternoon: it keeps heating until the room is well above the target
    warm = _at(obs, 30, 25.0, 25.0, True, "heat")
    assert _mode(policy.decide(warm), warm) == "heat"
    hot = _at(obs, 45, 26.5, 25.0, True, "heat")
    assert _mode(policy.decide(hot), hot) == "cool"
    # a unit that is off starts in the season's mode
    off = _at(obs, 60, 23.0, 25.0, False, "heat")
    assert _mode(policy.decide(off), off) == "cool"


def test_comfort_control_does_not_cool_on_a_warm_day_right_after_heating():
    policy, obs = _policy_and_obs()
    heating = _at(obs, 0, 19.0, 15.0, True, "heat", target="comfort")
    assert _mode(policy.decide(heating), heating) == "heat"
    # an hour later the room overshot to 24.5 °C and it is 26 °C outside: no cooling yet (off)
    after = _at(obs, 60, 24.5, 26.0, False, "heat", target="comfort")
    cmd = policy.decide(after)
    assert cmd is None or not cmd.send[0] or not cmd.power[0] or int(cmd.mode[0]) != Mode.COOL
    # long after the heating, the warm-day rule cools again
    later = _at(obs, 60 + 240, 24.5, 26.0, False, "heat", target="comfort")
    cmd = policy.decide(later)
    assert cmd is not None and cmd.send[0] and cmd.power[0] and int(cmd.mode[0]) == Mode.COOL
