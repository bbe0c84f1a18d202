"""The controller behind generated data, and the protocol any controller follows.

A controller is any object with ``decide(observation) -> Commands | None`` (and optionally
``bind(fleet)``, called once before the first minute). :class:`RulePolicy` is a simple
stand-in for skynet's control so the generated data carries commands with origin "skynet":
it acts on each home's control target from the *sensor* readings (never the ground truth):

- **comfort**: with someone home, cool above 25.5 °C (24 °C on a warm day; keeps cooling
  down to 23 °C), heat below 20 °C (keeps heating up to 23.5 °C), dry when humid (RH > 70 %)
  — with a dead band between the modes: within :data:`MODE_SWITCH_MINUTES` of heating it
  cools only above 25.5 °C (not on the warm-day rule), within as long of cooling it heats
  only below 19 °C, so mild weather does not flip a unit between heating and cooling —
  and otherwise switch off; set points 25.5 °C (cool; the room ends up a little cooler, the
  unit senses warm air under the ceiling) / 22.5 °C (heat), nudged by the home's recent
  votes, fan auto. To make the data informative for the estimation model it explores:
  30 % of decisions move the set point by up to ±2 °C and pick a random fan speed. Off once
  the home has been empty for 20 minutes.
- **temperature**: holds the target value with the AC's own thermostat, home or not: a unit
  that is off starts cooling when it is warm outside (above the target - 2 °C) and heating
  otherwise; a running unit keeps its mode until the room is well past the target the other
  way (2.5 °C under it to heat: cooling overshoots; 2 °C over it to cool) with the weather
  agreeing (no flipping with the outdoor temperature around the target - 2 °C).
- **off**: switches the AC off when the target becomes off. **manual**: hands off.

Decisions are taken every 15 minutes, and within 5 minutes when someone comes home or the
target changes. Its random draws come from per-home substreams of the fleet's seed.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from skynet.domain import Fan
from skynet.sim._ac import COOL, DRY, HEAT
from skynet.sim._fleet import Fleet
from skynet.sim._observation import Commands, Observation
from skynet.sim._occupants import TARGET

__all__ = ["Policy", "RulePolicy"]

_COOL, _HEAT, _DRY = COOL, HEAT, DRY
#: Minutes after a unit last heated (cooled) during which the rules do not start the other mode
#: but past the wider dead band (see the module docstring).
MODE_SWITCH_MINUTES = 180


class Policy(Protocol):
    """What :func:`skynet.sim.simulate_fleet` and a closed-loop run need from a controller."""

    def decide(self, obs: Observation) -> Commands | None: ...


class RulePolicy:
    """Rule-based comfort control with exploration (see the module docstring).

    Args:
        interval: minutes between regular decisions.
        check: minutes between looks for arrivals, departures and target changes.
        explore: share of comfort decisions that perturb the set point and fan.
        seed: seed of the exploration (default: the fleet's seed).
    """

    def __init__(
        self, interval: int = 15, check: int = 5, explore: float = 0.3, seed: int | None = None
    ) -> None:
        self.interval = interval
        self.check = check
        self.explore = explore
        self.seed = seed

    def bind(self, fleet: Fleet) -> None:
        """Prepare per-home state and random substreams for ``fleet``."""
        n = fleet.n
        seed = fleet.seed if self.seed is None else self.seed
        self._rngs = [
            np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(i, 99))) for i in range(n)
        ]
        self._left_at = np.full(n, -1_000, dtype=np.int64)  # minute the home last became empty
        self._home = np.zeros(n, dtype=bool)
        self._last_target = np.full(n, -1, dtype=np.int64)
        self._targets_seen: np.ndarray | None = None
        self._feedback_seen: np.ndarray | None = None
        self._no_change = np.zeros(n, dtype=bool)
        self._bias = np.zeros(n)
        self._heated_at = np.full(n, -1_000_000, dtype=np.int64)  # minute a unit was last seen heating
        self._cooled_at = np.full(n, -1_000_000, dtype=np.int64)
        self._block, self._u = -1, np.zeros((0, n, 3))

    def _uniform(self, k: int) -> np.ndarray:
        if k // 1440 != self._block:
            self._block = k // 1440
            self._u = np.stack([g.random((1440, 3)) for g in self._rngs], axis=1)
        return self._u[k % 1440]

    def decide(self, obs: Observation) -> Commands | None:
        """Commands for the homes due for a decision at this minute, or None."""
        if not hasattr(self, "_rngs"):
            raise RuntimeError("RulePolicy.bind(fleet) must be called before decide()")
        k = obs.minute
        if obs.feedback is not self._feedback_seen:  # the fleet hands out new arrays, never edits them
            self._feedback_seen = fb = obs.feedback
            self._bias = np.where(fb == fb, 0.7 * self._bias + 0.3 * fb, self._bias)  # fb == fb: not NaN
        if k % self.check:
            return None
        home = obs.occupants > 0
        arrived, left = home & ~self._home, self._home & ~home
        self._home = home
        if np.count_nonzero(left):
            self._left_at = np.where(left, k, self._left_at)
        changed = self._no_change
        if obs.target_mode is not self._targets_seen:
            changed = obs.target_mode != self._last_target
            self._targets_seen, self._last_target = obs.target_mode, obs.target_mode.copy()
        emptied = ~home & (k - self._left_at >= 20) & (k - self._left_at < 20 + self.check)
        regular = k % self.interval == 0
        if not (
            regular
            or changed is not self._no_change
            or np.count_nonzero(arrived)
            or np.count_nonzero(emptied)
        ):
            return None
        due = (regular | arrived | changed | emptied) & ~obs.user_hold
        due &= ~np.isnan(obs.temperature) & ~np.isnan(obs.humidity)  # no reading, no decision
        u = self._uniform(k)
        cmd = Commands.keep(obs)
        t, rh, t_out = obs.temperature, obs.humidity, obs.outdoor_temperature
        target = obs.target_mode

        # comfort
        running_cool = obs.power & (obs.mode == _COOL)
        running_heat = obs.power & (obs.mode == _HEAT)
        self._heated_at = np.where(running_heat, k, self._heated_at)
        self._cooled_at = np.where(running_cool, k, self._cooled_at)
        heated = k - self._heated_at < MODE_SWITCH_MINUTES
        cooled = k - self._cooled_at < MODE_SWITCH_MINUTES
        warm_day = (t > 24.0) & (t_out > 24.0) & ~heated
        cool = (t > 25.5) | warm_day | (running_cool & (t > 23.0))
        heat = ~cool & ((t < np.where(cooled & ~running_heat, 19.0, 20.0)) | (running_heat & (t < 23.5)))
        dry = ~cool & ~heat & (rh > 70.0) & (t > 21.0)
        exploring = u[:, 0] < self.explore
        nudge = np.where(exploring, np.round(u[:, 1] * 8 - 4) / 2, 0.0) - np.clip(0.7 * self._bias, -2, 2)
        comfort_set = np.where(heat, 22.5, np.where(dry, 25.0, 25.5)) + nudge
        comfort_fan = np.where(exploring, np.floor(u[:, 2] * 4), int(Fan.AUTO)).astype(np.int64)
        comfort_on = home & (cool | heat | dry)
        comfort_mode = np.where(heat, _HEAT, np.where(dry & ~cool, _DRY, _COOL))
        is_comfort = target == TARGET["comfort"]
        comfort_due = is_comfort & (home | (k - self._left_at >= 20))

        # temperature
        v = np.nan_to_num(obs.target_value, nan=24.0)
        season = np.where(t_out >= v - 2.0, _COOL, _HEAT)  # the AC's thermostat holds v
        to_heat = running_cool & (t < v - 2.5) & (season == _HEAT)  # cooling overshoots a little
        to_cool = running_heat & (t > v + 2.0) & (season == _COOL)
        temp_mode = np.where(running_cool, np.where(to_heat, _HEAT, _COOL),
                             np.where(running_heat, np.where(to_cool, _COOL, _HEAT), season))  # fmt: skip
        is_temp = target == TARGET["temperature"]
        is_off = (target == TARGET["off"]) & changed

        cmd.power = np.where(
            is_comfort, comfort_on, np.where(is_temp, True, np.where(is_off, False, obs.power))
        )
        on = cmd.power & (is_comfort | is_temp)
        cmd.mode = np.where(on, np.where(is_comfort, comfort_mode, temp_mode), obs.mode)
        cmd.set_temperature = np.where(on, np.where(is_comfort, comfort_set, v), obs.set_temperature)
        cmd.fan = np.where(on, np.where(is_comfort, comfort_fan, int(Fan.AUTO)), obs.fan)
        differs = (cmd.power != obs.power) | (
            cmd.power
            & (
                (cmd.mode != obs.mode)
                | (np.abs(cmd.set_temperature - obs.set_temperature) > 0.25)
                | (cmd.fan != obs.fan)
            )
        )
        cmd.send = due & (comfort_due | is_temp | is_off) & differs
        return cmd if cmd.send.any() else None
