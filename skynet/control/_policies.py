"""Controllers for the simulator's closed loop (:class:`skynet.sim.Fleet`): skynet and two baselines.

- :class:`FixedThermostat`: a fixed set point (24 °C cooling): the AC on, in cool mode at 24 °C,
  fan auto, while someone is home (always with ``occupancy=False``), off otherwise.
- :class:`DevicePolicy`: every ``interval`` minutes (and when someone arrives or the home
  empties) it builds each home's :class:`~skynet.control.Context` from the *sensor* readings
  (never the ground truth; occupancy when ``occupancy=True``) and asks a decision function —
  :meth:`DevicePolicy.skynet` wraps :func:`skynet.control.decide` with the models,
  :meth:`DevicePolicy.band_thermostat` the rule-based thermostat with the same safety rules
  (the "comfort-band thermostat"). Each home's target is ``target`` (comfort by default), so
  every controller faces the same task; a home a person just took over (``user_hold``) is left
  alone. The homes due a decision are decided in one batch (``decide_many``). With a comfort
  model that has ``personal_offsets``, the homes' votes personalise it by period of the day
  (:class:`~skynet.control.Personalizer`, pooled over the fleet; per person where the comfort
  model personalizes per person: a decision takes the offset of the home's last voter, the
  fleet says how many people are home, not who) every ``personalize_every`` minutes, with the controller's ``ControlConfig.night_offset`` added at night (sleepers feel
  cooler than the people still up who vote at night). Each home's weekly occupancy pattern is
  learned from its own history (:class:`~skynet.control.OccupancyProfile`: the occupancy it
  reports when ``occupancy``, else its votes and its people's changes at the remote) and handed
  to the decisions as a forecast. Fallbacks are counted by their typed kind
  (``decision.fallback.key``); the first of each kind is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import partial

import numpy as np

from skynet.config import ControlConfig
from skynet.control._context import LAGS, WINDOW, context_from_inputs, local_time
from skynet.control._decide import Controller, decide_by_rules
from skynet.control._features import air_speed, vote_row
from skynet.control._occupancy import OccupancyProfile, week_slot
from skynet.control._personal import Personalizer
from skynet.control._safety import SafetyState
from skynet.control._types import Appliance, Context, Decision, Request
from skynet.data.estimation import recent_inputs
from skynet.domain import ApplianceState, ControlTarget, Fan, Mode
from skynet.sim import Commands, Fleet, Observation

__all__ = ["FixedThermostat", "DevicePolicy"]

logger = logging.getLogger("skynet.control")
DecideFn = Callable[[Sequence[Request]], list[Decision]]
_HISTORY = max(*LAGS, WINDOW) + 1  # minutes of readings kept for the lags and means


class FixedThermostat:
    """The AC at a fixed setting while someone is home (see the module docstring)."""

    def __init__(self, set_temperature: float = 24.0, mode: str = "cool", occupancy: bool = True) -> None:
        self.set_temperature, self.mode, self.occupancy = set_temperature, int(Mode.of(mode)), occupancy

    def decide(self, obs: Observation) -> Commands | None:
        cmd = Commands.keep(obs)
        on = obs.occupants > 0 if self.occupancy else np.ones(len(obs.power), dtype=bool)
        cmd.power = on
        cmd.mode = np.where(on, self.mode, obs.mode)
        cmd.set_temperature = np.where(on, self.set_temperature, obs.set_temperature)
        cmd.fan = np.where(on, int(Fan.AUTO), obs.fan)
        differs = (on != obs.power) | (on & ((cmd.mode != obs.mode) | (cmd.set_temperature != obs.set_temperature)
                                             | (cmd.fan != obs.fan)))  # fmt: skip
        cmd.send = differs & ~obs.user_hold
        return cmd if cmd.send.any() else None


class DevicePolicy:
    """Per-home decisions from sensor readings by a decision function (see the module docstring).

    Args:
        decide: ``decide(requests) -> decisions`` (one per request, in order).
        interval: minutes between regular decisions.
        occupancy: give the controller the number of people at home (else: unknown).
        target: the control target of every home.
        personalizer: learns personal offsets from the homes' votes (None: no personalization).
        personalize_every: minutes between updates of the personal offsets.
    """

    def __init__(self, decide: DecideFn, interval: int = 5, occupancy: bool = True,
                 target: ControlTarget | None = None, personalizer: Personalizer | None = None,
                 personalize_every: int = 60) -> None:  # fmt: skip
        self._decide = decide
        self.interval, self.occupancy = interval, occupancy
        self.target = target
        self.personalizer, self.personalize_every = personalizer, personalize_every
        self.decisions = 0
        self.fallbacks: dict[str, int] = {}
        self.latencies: list[float] = []

    @classmethod
    def skynet(cls, controller: Controller, **kwargs) -> DevicePolicy:
        """skynet's controller (the models, the fallback and the safety rules); fallbacks are
        counted here, not logged one by one."""
        controller.log_fallbacks = False
        comfort = controller.models.comfort
        personalizer = (
            Personalizer(comfort, controller.config.night_offset)
            if hasattr(comfort, "personal_offsets")
            else None
        )
        return cls(controller.decide_many, personalizer=personalizer, **kwargs)

    @classmethod
    def band_thermostat(cls, config: ControlConfig | None = None, **kwargs) -> DevicePolicy:
        """The comfort-band thermostat: skynet's rule-based fallback, always (same safety rules)."""
        config = config or ControlConfig()

        def rules(requests: Sequence[Request]) -> list[Decision]:
            return [decide_by_rules(request, config) for request in requests]

        return cls(rules, **kwargs)

    def bind(self, fleet: Fleet) -> None:
        n = fleet.n
        self._ids, self._start = fleet.device_ids, fleet.start
        self._zone = fleet.location.timezone
        self._facts = _facts(fleet)
        # what the homes' AC can do (EnergyPlus homes: cool or heat, fan auto), else everything
        self._appliance = Appliance(modes=getattr(fleet, "ac_modes", Appliance.modes),
                                    fans=getattr(fleet, "ac_fans", Appliance.fans))  # fmt: skip
        self._targets = [self.target or ControlTarget(d, fleet.start, "comfort") for d in self._ids]
        self._t = np.full((_HISTORY, n), np.nan)
        self._rh = np.full((_HISTORY, n), np.nan)
        self._safety: list[SafetyState | None] = [None] * n
        self._states: list[ApplianceState | None] = [None] * n
        self._seen: tuple | None = None
        self._home = np.zeros(n, dtype=bool)
        self._votes: list[dict] = []
        self._occupied = np.zeros((n, 7 * 48))  # minutes someone was home, by half hour of the week
        self._observed = np.zeros((n, 7 * 48))  # minutes with evidence

    def decide(self, obs: Observation) -> Commands | None:
        k = obs.minute
        self._t[k % _HISTORY], self._rh[k % _HISTORY] = obs.temperature, obs.humidity
        self._track_states(obs)
        weekday, hour = local_time(obs.timestamp, self._zone)
        self._track_occupancy(obs, week_slot(weekday, hour))
        if self.personalizer is not None:
            self._track_votes(obs, hour)
            if k and k % self.personalize_every == 0 and self._votes:
                self._update_offsets()
        home = obs.occupants > 0
        changed = home != self._home
        self._home = home
        if k % self.interval and not (self.occupancy and changed.any()):
            return None
        due = (np.full(len(home), k % self.interval == 0) | (changed & self.occupancy)) & ~obs.user_hold
        due &= np.isfinite(obs.temperature) & np.isfinite(obs.humidity)
        if not due.any():
            return None
        cmd, now = Commands.keep(obs), obs.timestamp
        homes = np.flatnonzero(due)
        requests = [Request(self._context(obs, i, k, now, weekday, hour), self._targets[i], self._appliance,
                            self._states[i], now, self._safety[i]) for i in homes]  # fmt: skip
        for i, decision in zip(homes, self._decide(requests), strict=True):
            self._safety[i] = decision.safety
            self.decisions += 1
            self.latencies.append(decision.latency)
            if decision.fallback is not None:
                self._count(decision)
            c = decision.command
            if c is not None:
                cmd.send[i] = True
                cmd.power[i] = c.power
                if c.mode is not None:
                    cmd.mode[i] = Mode.of(c.mode)
                if c.set_temperature is not None:
                    cmd.set_temperature[i] = c.set_temperature
                if c.fan is not None:
                    cmd.fan[i] = Fan.of(c.fan)
        return cmd if cmd.send.any() else None

    def _count(self, decision: Decision) -> None:
        """Count a fallback by its kind; log the first of each kind."""
        key = decision.fallback.key
        self.fallbacks[key] = self.fallbacks.get(key, 0) + 1
        if self.fallbacks[key] == 1:
            logger.warning("control fallback for device %s: %s", decision.device_id, decision.fallback.cause)

    def _context(self, obs: Observation, i: int, k: int, now: datetime, weekday: int, hour: float) -> Context:
        """Home ``i``'s context from its readings of the last half hour (the estimation frame's
        lags and means, :func:`skynet.data.recent_inputs`)."""
        back = np.arange(min(_HISTORY, k + 1))
        rows = (k - back) % _HISTORY
        inputs = recent_inputs(k - back, self._t[rows, i], self._rh[rows, i])
        personal = None if self.personalizer is None else partial(self.personalizer.offset, self._ids[i])
        occupancy = int(obs.occupants[i]) if self.occupancy else None
        profile = OccupancyProfile(self._occupied[i], self._observed[i])
        forecast = partial(profile.forecast, weekday, hour, None if occupancy is None else occupancy > 0)
        running = None if obs.outdoor_running_mean is None else float(obs.outdoor_running_mean[i])
        return context_from_inputs(
            self._ids[i], now, inputs, float(obs.outdoor_temperature[i]), float(obs.outdoor_humidity[i]), hour,
            occupancy=occupancy, comfort_offset=None if personal is None else personal(hour),
            device_facts=self._facts[i], outdoor_running_mean=running, personal=personal,
            occupancy_forecast=forecast,
        )  # fmt: skip

    def _track_occupancy(self, obs: Observation, slot: int) -> None:
        """Each home's evidence of this minute: the people at home when known, else votes and
        changes at the remote (someone is home)."""
        if self.occupancy:
            self._observed[:, slot] += 1.0
            self._occupied[:, slot] += obs.occupants > 0
            return
        present = np.isfinite(obs.feedback) | np.asarray(obs.user_changed, dtype=bool)
        self._observed[present, slot] += 1.0
        self._occupied[present, slot] += 1.0

    def _track_states(self, obs: Observation) -> None:
        """The AC state of each home as records, with the time it began."""
        seen = (obs.power, obs.mode, obs.set_temperature, obs.fan)
        if self._seen is not None and all(a is b for a, b in zip(seen, self._seen, strict=True)):
            return  # the fleet hands out new arrays when settings change
        for i in range(len(obs.power)):
            old = self._states[i]
            power, mode, tset, fan = (
                bool(obs.power[i]),
                Mode(int(obs.mode[i])).label,
                float(obs.set_temperature[i]),
                Fan(int(obs.fan[i])).label,
            )
            if old is None or (old.power, old.mode, old.set_temperature, old.fan) != (power, mode, tset, fan):
                since = obs.timestamp if old is not None else obs.timestamp - timedelta(hours=1)
                self._states[i] = ApplianceState(self._ids[i], since, power, mode, tset, fan, "user")
        self._seen = seen

    def _track_votes(self, obs: Observation, hour: float) -> None:
        votes = np.flatnonzero(np.isfinite(obs.feedback))
        for i in votes:
            speed = float(air_speed(bool(obs.power[i]), int(obs.fan[i]) % 4))
            running = None if obs.outdoor_running_mean is None else float(obs.outdoor_running_mean[i])
            who = -1 if obs.voter is None else int(obs.voter[i])
            user = f"{self._ids[i]}-u{who}" if who >= 0 else None  # as the simulated votes are stored
            self._votes.append(vote_row(self._ids[i], obs.timestamp, hour, float(obs.feedback[i]),
                                        float(obs.temperature[i]), float(obs.humidity[i]), speed,
                                        float(obs.outdoor_temperature[i]), float(obs.outdoor_humidity[i]),
                                        self._facts[i], outdoor_running_mean=running, user_id=user))  # fmt: skip

    def _update_offsets(self) -> None:
        import pandas as pd

        frame = pd.DataFrame(self._votes[-5000:]).dropna(subset=["temperature"])
        self.personalizer.learn(frame)


_FACT_COLUMNS = ("latitude", "climate", "building_type", "cooling_type")


def _facts(fleet: Fleet) -> list[dict]:
    """Each home's device facts the comfort model reads: its device record's (what its votes were
    stored with), or the fleet's location and climate for homes that have no records."""
    if hasattr(fleet, "devices"):
        frame = fleet.devices()
        return [
            {k: row[k] for k in _FACT_COLUMNS if row.get(k) is not None} for row in frame.to_dict("records")
        ]
    return [{"latitude": fleet.location.latitude, "climate": fleet.climate}] * fleet.n
