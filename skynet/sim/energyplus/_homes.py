"""EnergyPlus zones as homes in closed loop: a controller's commands drive each zone's thermostat.

:class:`EnergyPlusHomes` is the EnergyPlus counterpart of :class:`skynet.sim.Fleet` for
:func:`skynet.control.closed_loop`. Each thermostat-controlled zone of a prototype building is a
home with the simulator's people (:mod:`skynet.sim._occupants`: households, day schedules,
clothing by season, personal comfort offsets, votes at their rates), and
:meth:`EnergyPlusHomes.run` runs EnergyPlus at a one-minute zone timestep: after every minute
the controller gets an :class:`~skynet.sim.Observation` of every zone and its commands set the
zone thermostat from the next minute on.

What differs from the simulator's homes:

- **The physics is EnergyPlus's**: the zone's air temperature and humidity, its mean radiant
  temperature (the occupants' PMV uses it) and the sensible heat its air system delivers.
- **The AC is the prototype's HVAC** under a dual set-point thermostat: cool (and dry) at T
  -> cooling set point T; heat at T -> heating set point T; auto at T -> T - 1 / T + 1; off
  or fan only -> both set points out of reach. The fan speed only changes the air speed the
  occupants feel (as in the simulator). ``ac_modes`` / ``ac_fans`` say what these homes' AC
  can do (cool or heat, fan auto), so controllers offer nothing else.
- **AC energy** is the sensible heat delivered divided by a coefficient of performance
  (:data:`COP`, a split heat pump's), whatever the prototype's own equipment (the latent
  heat a cooling coil removes is not counted: the same for every controller).
- **The start**: EnergyPlus's warm-up days run the AC at 26 °C cooling (20 °C heating on a
  cool day), then every controller starts from the same room with the AC off.
- **Sensors** read the zone's values rounded as a skynet device reports them (0.1 °C, 0.5 %RH),
  without noise; nobody changes the AC by hand (``user_hold`` never set).
"""

from __future__ import annotations

import time
from dataclasses import fields
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from skynet.domain import Mode
from skynet.errors import DataError
from skynet.sim._ac import air_speed
from skynet.sim._fleet import _VOTE_GAP, iso_pmv
from skynet.sim._observation import Commands, Observation
from skynet.sim._occupants import (
    MAX_PEOPLE,
    TARGET,
    DaySchedule,
    clothing,
    presence,
    sample_days,
    sample_household,
    vote_rates,
    vote_value,
)
from skynet.sim.energyplus._engine import Progress, run_engine
from skynet.sim.energyplus._idf import OFF_COOLING, OFF_HEATING
from skynet.sim.energyplus._run import HISTORY_DAYS, MAX_DAYS, _day, _devices, _running_mean, prepare_building
from skynet.sim.energyplus._schedule import COOL_ABOVE
from skynet.sim.energyplus._schedule import Commands as Setpoints

__all__ = ["EnergyPlusHomes", "COP"]

#: Sensible heat delivered per unit of electricity (cooling and heating).
COP = 3.0
#: Set points (°C) of the warm-up days, before the controller takes over.
WARMUP_COOL, WARMUP_HEAT = 26.0, 20.0
_COOL, _HEAT, _DRY, _AUTO = (int(m) for m in (Mode.COOL, Mode.HEAT, Mode.DRY, Mode.AUTO))


class EnergyPlusHomes:
    """The zones of a prototype building as homes under a controller (see the module docstring).

    Args:
        building: a prototype name or an IDF path (see :func:`skynet.sim.energyplus.run_energyplus`).
        weather: a city or an EPW path.
        start: the first local day.
        days: whole days to simulate.
        seed: the seed of the people.
        sizing: as :func:`~skynet.sim.energyplus.run_energyplus`.
        climate: the homes' climate label (a device fact the comfort model reads; default the
            city): name the climate its training homes had.

    Raises:
        DataError: an unknown building or city, a bad date or duration.
        EnergyPlusError: the ``energyplus`` extra is missing.
    """

    #: What an EnergyPlus home's AC does: cool or heat, one fan speed.
    ac_modes, ac_fans = ("cool", "heat"), ("auto",)

    def __init__(self, building: str | Path = "apartment-midrise", weather: str | Path = "miami",
                 start: date | datetime | str = date(2025, 7, 15), days: int = 3, seed: int = 0,
                 sizing: str = "weather", climate: str | None = None) -> None:  # fmt: skip
        from skynet.sim._climate import local_clock

        if days != int(days) or not 1 <= days <= MAX_DAYS:
            raise DataError(f"EnergyPlus simulates whole days: days must be 1 to {MAX_DAYS}, got {days:g}")
        first = _day(start, "start")
        b = prepare_building(building, weather, first, first + timedelta(days=int(days)), 1, sizing)
        self.name, self.city, self._epw_path, self._idf, self.zones = (
            b.name,
            b.city,
            b.epw_path,
            b.idf,
            b.zones,
        )
        self.device_ids, self.start, self.location = b.device_ids, b.start, b.epw.location
        self._building = b
        self.n, self.seed, self.minutes = len(self.zones), seed, int(days) * 1440
        self.climate = climate or self.city
        self._running = np.repeat(_running_mean(b.daily)[HISTORY_DAYS:], 1440)
        self.energy_kwh = np.zeros(self.n)
        self.seconds = 0.0
        self._people(local_clock(self.start, 0, self.minutes, self.location.tz))

    def _people(self, clock: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        day, minute, weekday = clock
        gens = [
            [np.random.default_rng(s) for s in np.random.SeedSequence(self.seed, spawn_key=(i,)).spawn(3)]
            for i in range(self.n)
        ]
        self.households = [sample_household(g[0]) for g in gens]
        n_days = int(day.max()) + 1
        weekdays = (weekday[0] + np.arange(n_days) - day[0]) % 7
        drawn = [sample_days(g[1], h, n_days, weekdays) for g, h in zip(gens, self.households, strict=True)]
        schedule = DaySchedule(
            *(np.stack([getattr(d, f.name) for d in drawn], axis=1) for f in fields(DaySchedule))
        )
        self.present = np.stack([h.present for h in self.households])
        self.home, self.asleep = presence(schedule, self.present, day, minute)
        self._offset = np.stack([h.comfort_offset for h in self.households])
        self._clo_offset = np.stack([h.clo_offset for h in self.households])
        self._met = np.stack([h.met for h in self.households])
        self._vote_rate = np.stack([h.vote_rate for h in self.households])
        self._rng = [g[2] for g in gens]

    def devices(self) -> Any:
        """The zones as device records (as ``run_energyplus`` stores them: the building's location,
        its type, its cooling equipment), with the homes' ``climate`` label."""
        b = self._building
        return _devices(b.name, b.city, b.device_ids, b.zones, b.epw, b.text, b.idf_path).assign(
            climate=self.climate
        )

    # -- the closed loop -----------------------------------------------------------------------
    def run(self, policy: Any, minutes: int | None = None, before_step=None,
            progress: Progress | None = None) -> Observation | None:  # fmt: skip
        """Run EnergyPlus with ``policy`` deciding every minute (``policy.bind(self)`` first).

        ``before_step(obs)`` sees every minute's observation before the policy; ``minutes``
        must be the homes' whole run (EnergyPlus runs whole days). Returns the last observation.
        """
        if minutes is not None and minutes != self.minutes:
            raise DataError(f"EnergyPlus homes run their whole {self.minutes} minutes, not {minutes}")
        if hasattr(policy, "bind"):
            policy.bind(self)
        n = self.n
        self.energy_kwh = np.zeros(n)
        self.power, self.mode = np.zeros(n, dtype=bool), np.full(n, _COOL, dtype=np.int64)
        self.set_temperature, self.fan = np.full(n, 26.0), np.zeros(n, dtype=np.int64)
        self._last_vote = np.full((n, MAX_PEOPLE), -_VOTE_GAP, dtype=np.int64)
        last: list[Observation | None] = [None]

        def on_step(k: int, zone: dict[str, np.ndarray], site: dict[str, float]):
            obs = self._observe(k, zone, site)
            last[0] = obs
            if before_step is not None:
                before_step(obs)
            if k + 1 >= self.minutes:
                return None
            commands = policy.decide(obs) if policy is not None else None
            if commands is not None:
                self._apply(commands)
            return self._setpoints()

        # The warm-up days (and the first minute) run the AC as a lived-in home did before: cooling
        # at WARMUP_COOL on a day that calls for cooling, else heating at WARMUP_HEAT; an AC that
        # was off through them would start every controller in a building baked to 34 °C.
        cooling = self._running[0] >= COOL_ABOVE
        shape = (self.minutes, n)
        initial = Setpoints(np.ones(shape, dtype=bool), np.full(shape, 0 if cooling else 1, dtype=np.int8),
                            np.full(shape, WARMUP_COOL if cooling else WARMUP_HEAT))  # fmt: skip
        started = time.perf_counter()
        run_engine(self._idf, self._epw_path, self.zones, initial, 1440, progress, on_step=on_step)
        self.seconds = time.perf_counter() - started
        return last[0]

    def _apply(self, cmd: Commands) -> None:
        send = np.asarray(cmd.send, dtype=bool)
        if not send.any():
            return
        tset = np.clip(np.round(np.asarray(cmd.set_temperature, dtype=float) * 2) / 2, 16.0, 30.0)
        self.power = np.where(send, np.asarray(cmd.power, dtype=bool), self.power)
        self.mode = np.where(send, np.asarray(cmd.mode, dtype=np.int64), self.mode)
        self.set_temperature = np.where(send, tset, self.set_temperature)
        self.fan = np.where(send, np.asarray(cmd.fan, dtype=np.int64), self.fan)

    def _setpoints(self) -> tuple[np.ndarray, np.ndarray]:
        on, mode, tset = self.power, self.mode, self.set_temperature
        cooling = on & ((mode == _COOL) | (mode == _DRY))
        heat = np.where(on & (mode == _HEAT), tset, np.where(on & (mode == _AUTO), tset - 1.0, OFF_HEATING))
        cool = np.where(cooling, tset, np.where(on & (mode == _AUTO), tset + 1.0, OFF_COOLING))
        return heat, cool

    def _observe(self, k: int, zone: dict[str, np.ndarray], site: dict[str, float]) -> Observation:
        n = self.n
        t_air, rh = zone["temperature"], np.clip(zone["humidity"], 1.0, 100.0)
        watts = np.nan_to_num(zone["cooling_w"]) + np.nan_to_num(zone["heating_w"])
        power_w = watts / COP
        self.energy_kwh = self.energy_kwh + power_w / 60_000.0
        home, asleep = self.home[k], self.asleep[k]
        up = home & ~asleep
        clo_up, clo_bed = clothing(self._running[k], self._clo_offset)
        clo = np.where(asleep, clo_bed, clo_up)
        met = np.where(asleep, 0.8, self._met)
        speed = air_speed(self.power, self.fan)
        slots = MAX_PEOPLE
        pmv = iso_pmv(np.repeat(t_air, slots), np.repeat(zone["radiant_temperature"], slots),
                      np.repeat(speed, slots), np.repeat(rh, slots), met.ravel(), clo.ravel())  # fmt: skip
        pmv = np.clip(np.nan_to_num(np.asarray(pmv, dtype=float)), -3.5, 3.5).reshape(n, slots)
        people = home.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_pmv = np.where(people > 0, (pmv * home).sum(axis=1) / people, np.nan)
            sensation_people = pmv + self._offset
            sensation = np.where(people > 0, (sensation_people * home).sum(axis=1) / people, np.nan)
        feedback, voter = self._votes(k, up, sensation_people)
        t_out, rh_out = np.full(n, site["outdoor_temperature"]), np.full(n, site["outdoor_humidity"])
        cooling = np.nan_to_num(zone["cooling_w"]) > 1.0
        return Observation(
            minute=k, timestamp=self.start + timedelta(minutes=k + 1), temperature=np.round(t_air, 1),
            humidity=np.round(rh * 2.0) / 2.0, luminosity=np.full(n, np.nan), true_temperature=t_air.copy(),
            true_humidity=rh.copy(), mass_temperature=zone["radiant_temperature"].copy(), outdoor_temperature=t_out,
            outdoor_humidity=rh_out, occupants=people.astype(np.int64), awake=up.sum(axis=1).astype(np.int64),
            pmv=mean_pmv, sensation=sensation, power=self.power, mode=self.mode, set_temperature=self.set_temperature,
            fan=self.fan, compressor=cooling | (np.nan_to_num(zone["heating_w"]) > 1.0), power_w=power_w,
            heat_w=np.nan_to_num(zone["heating_w"]) - np.nan_to_num(zone["cooling_w"]), latent_w=np.zeros(n),
            energy_kwh=self.energy_kwh, target_mode=np.full(n, TARGET["comfort"], dtype=np.int64),
            target_value=np.full(n, np.nan), user_hold=np.zeros(n, dtype=bool), feedback=feedback,
            user_changed=np.zeros(n, dtype=bool), outdoor_running_mean=np.full(n, round(float(self._running[k]), 1)),
            voter=voter,
        )  # fmt: skip

    def _votes(self, k: int, up: np.ndarray, sensation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One vote at most per home and minute, drawn as the simulator's people vote; and who
        voted (the person's index, -1: nobody)."""
        rate = vote_rates(self._vote_rate, sensation) * up * (k - self._last_vote >= _VOTE_GAP)
        out = np.full(self.n, np.nan)
        voter = np.full(self.n, -1, dtype=np.int64)
        for i in np.flatnonzero(rate.any(axis=1)):
            u = self._rng[i].random(MAX_PEOPLE)
            voting = np.flatnonzero(u < rate[i])
            if len(voting):
                p = int(voting[0])
                out[i] = vote_value(sensation[i, p], self._rng[i].standard_normal())
                voter[i] = p
                self._last_vote[i, p] = k
        return out, voter
