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
  alone. With a comfort model that has ``personal_offsets``, the homes' votes personalise it
  by period of the day (:mod:`._personal`) every ``personalize_every`` minutes; skynet's policy
  adds the controller's ``ControlConfig.night_offset`` to the night period's offset (sleepers
  feel cooler than the people still up who vote at night).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np

from skynet.control._context import LAGS, WINDOW, local_hour
from skynet.control._decide import Controller, decide_by_rules
from skynet.control._personal import offset_for, personal_offsets
from skynet.control._predict import AIR_SPEED_BY_FAN, AIR_SPEED_OFF
from skynet.control._safety import SafetyState
from skynet.control._types import Appliance, Context, ControlConfig, Decision
from skynet.domain import AC_MODES, FAN_SPEEDS, ApplianceState, ControlTarget
from skynet.sim import Commands, Fleet, Observation

__all__ = ["FixedThermostat", "DevicePolicy"]

DecideFn = Callable[
    [Context, ControlTarget, Appliance, "ApplianceState | None", datetime, "SafetyState | None"], Decision
]
_HISTORY = max(*LAGS, WINDOW) + 1  # minutes of readings kept for the lags and means


class FixedThermostat:
    """The AC at a fixed setting while someone is home (see the module docstring)."""

    def __init__(self, set_temperature: float = 24.0, mode: str = "cool", occupancy: bool = True) -> None:
        self.set_temperature, self.mode, self.occupancy = set_temperature, AC_MODES.index(mode), occupancy

    def decide(self, obs: Observation) -> Commands | None:
        cmd = Commands.keep(obs)
        on = obs.occupants > 0 if self.occupancy else np.ones(len(obs.power), dtype=bool)
        cmd.power = on
        cmd.mode = np.where(on, self.mode, obs.mode)
        cmd.set_temperature = np.where(on, self.set_temperature, obs.set_temperature)
        cmd.fan = np.where(on, FAN_SPEEDS.index("auto"), obs.fan)
        differs = (on != obs.power) | (on & ((cmd.mode != obs.mode) | (cmd.set_temperature != obs.set_temperature)
                                             | (cmd.fan != obs.fan)))  # fmt: skip
        cmd.send = differs & ~obs.user_hold
        return cmd if cmd.send.any() else None


class DevicePolicy:
    """Per-home decisions from sensor readings by a decision function (see the module docstring).

    Args:
        decide: ``decide(context, target, appliance, state, now, safety) -> Decision``.
        interval: minutes between regular decisions.
        occupancy: give the controller the number of people at home (else: unknown).
        target: the control target of every home.
        personalize: a comfort model with ``personal_offsets(frame)`` to personalise from votes
            (by period of the day, :mod:`._personal`).
        personalize_every: minutes between updates of the personal offsets.
    """

    def __init__(self, decide: DecideFn, interval: int = 5, occupancy: bool = True,
                 target: ControlTarget | None = None, personalize=None, personalize_every: int = 60) -> None:  # fmt: skip
        self._decide = decide
        self.interval, self.occupancy = interval, occupancy
        self.target = target
        self.personalize, self.personalize_every = personalize, personalize_every
        self.night_offset = 0.0
        self.decisions = 0
        self.fallbacks: dict[str, int] = {}
        self.latencies: list[float] = []

    @classmethod
    def skynet(cls, controller: Controller, **kwargs) -> DevicePolicy:
        """skynet's controller (the models, the fallback and the safety rules)."""
        policy = cls(
            controller.decide,
            personalize=(
                controller.models.comfort if hasattr(controller.models.comfort, "personal_offsets") else None
            ),
            **kwargs,
        )
        policy.night_offset = controller.config.night_offset
        return policy

    @staticmethod
    def fallback_kind(cause: str) -> str:
        """A fallback's cause without its particulars (``"estimation model took 312 ms (budget 250 ms)"``
        -> ``"estimation model took too long"``; an exception's message is dropped)."""
        if " took " in cause:
            return cause.split(" took ")[0] + " took too long"
        return cause.split(":")[0]

    @classmethod
    def band_thermostat(cls, config: ControlConfig | None = None, **kwargs) -> DevicePolicy:
        """The comfort-band thermostat: skynet's rule-based fallback, always (same safety rules)."""
        config = config or ControlConfig()

        def rules(context, target, appliance, state, now, safety):
            return decide_by_rules(context, target, appliance, state, config, now, safety)

        return cls(rules, **kwargs)

    def bind(self, fleet: Fleet) -> None:
        n = fleet.n
        self._ids, self._start = fleet.device_ids, fleet.start
        self._zone = fleet.location.timezone
        self._facts = {"latitude": fleet.location.latitude, "climate": fleet.climate}
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
        self._offsets: dict[tuple[str, str], float] = {}

    def decide(self, obs: Observation) -> Commands | None:
        k = obs.minute
        self._t[k % _HISTORY], self._rh[k % _HISTORY] = obs.temperature, obs.humidity
        self._track_states(obs)
        if self.personalize is not None:
            self._track_votes(obs, local_hour(obs.timestamp, self._zone))
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
        cmd, now, hour = Commands.keep(obs), obs.timestamp, local_hour(obs.timestamp, self._zone)
        for i in np.flatnonzero(due):
            context = self._context(obs, i, k, now, hour)
            decision = self._decide(
                context, self._targets[i], self._appliance, self._states[i], now, self._safety[i]
            )
            self._safety[i] = decision.safety
            self.decisions += 1
            self.latencies.append(decision.latency)
            if decision.fallback:
                cause = self.fallback_kind(decision.fallback)
                self.fallbacks[cause] = self.fallbacks.get(cause, 0) + 1
            c = decision.command
            if c is not None:
                cmd.send[i] = True
                cmd.power[i] = c.power
                if c.mode is not None:
                    cmd.mode[i] = AC_MODES.index(c.mode)
                if c.set_temperature is not None:
                    cmd.set_temperature[i] = c.set_temperature
                if c.fan is not None:
                    cmd.fan[i] = FAN_SPEEDS.index(c.fan)
        return cmd if cmd.send.any() else None

    def _context(self, obs: Observation, i: int, k: int, now: datetime, hour: float) -> Context:
        t, rh = self._t[:, i], self._rh[:, i]
        lags_t = {lag: float(t[(k - lag) % _HISTORY]) if k >= lag else np.nan for lag in LAGS}
        lags_rh = {lag: float(rh[(k - lag) % _HISTORY]) if k >= lag else np.nan for lag in LAGS}
        window = [(k - j) % _HISTORY for j in range(min(WINDOW, k + 1))]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a window of lost readings: NaN
            t_mean, rh_mean = float(np.nanmean(t[window])), float(np.nanmean(rh[window]))
        return Context(
            device_id=self._ids[i], timestamp=now, temperature=float(obs.temperature[i]),
            humidity=float(obs.humidity[i]), outdoor_temperature=float(obs.outdoor_temperature[i]),
            outdoor_humidity=float(obs.outdoor_humidity[i]), hour=hour, temperature_lags=lags_t,
            humidity_lags=lags_rh, temperature_mean=t_mean, humidity_mean=rh_mean, occupancy=int(obs.occupants[i]) if self.occupancy else None,
            comfort_offset=offset_for(self._offsets, self._ids[i], hour, self.night_offset), device_facts=self._facts,
        )  # fmt: skip

    def _track_states(self, obs: Observation) -> None:
        """The AC state of each home as records, with the time it began."""
        seen = (obs.power, obs.mode, obs.set_temperature, obs.fan)
        if self._seen is not None and all(a is b for a, b in zip(seen, self._seen, strict=True)):
            return  # the fleet hands out new arrays when settings change
        for i in range(len(obs.power)):
            old = self._states[i]
            power, mode, tset, fan = (
                bool(obs.power[i]),
                AC_MODES[obs.mode[i]],
                float(obs.set_temperature[i]),
                FAN_SPEEDS[obs.fan[i]],
            )
            if old is None or (old.power, old.mode, old.set_temperature, old.fan) != (power, mode, tset, fan):
                since = obs.timestamp if old is not None else obs.timestamp - timedelta(hours=1)
                self._states[i] = ApplianceState(self._ids[i], since, power, mode, tset, fan, "user")
        self._seen = seen

    def _track_votes(self, obs: Observation, hour: float) -> None:
        votes = np.flatnonzero(np.isfinite(obs.feedback))
        for i in votes:
            speed = AIR_SPEED_BY_FAN[int(obs.fan[i]) % 4] if obs.power[i] else AIR_SPEED_OFF
            self._votes.append({
                "device_id": self._ids[i], "timestamp": obs.timestamp, "hour": hour, "value": float(obs.feedback[i]),
                "temperature": float(obs.temperature[i]), "humidity": float(obs.humidity[i]), "air_speed": speed,
                "outdoor_temperature": float(obs.outdoor_temperature[i]),
                "outdoor_humidity": float(obs.outdoor_humidity[i]), **self._facts,
            })  # fmt: skip

    def _update_offsets(self) -> None:
        import pandas as pd

        frame = pd.DataFrame(self._votes[-5000:]).dropna(subset=["temperature"])
        self._offsets = personal_offsets(self.personalize, frame)
