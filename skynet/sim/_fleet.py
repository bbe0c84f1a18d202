"""The fleet: every simulated home stepped together, one minute at a time.

:class:`Fleet` holds the rooms, AC units, households and weather of ``n_devices`` homes and
advances them all together: inputs that do not depend on the AC (weather, presence, gains,
noise) are prepared a day at a time as numpy arrays, and each minute's physics is one call of
the compiled kernel (``_kernel.py``). A controller drives it in closed loop: read an
:class:`Observation`, send :class:`Commands`, call :meth:`Fleet.step`. The people in the homes
act too (they vote, change the AC, open windows, come and go); with ``occupant_actions=False``
they only come, go and vote.

Determinism: each home draws everything — its room, unit, household, weather, schedules and
all per-minute noise — from its own substream ``SeedSequence(seed, spawn_key=(i, ...))``, so
home ``i`` behaves the same in a fleet of 3 or of 300, and the noise it sees does not depend
on what a controller does (two controllers on the same seed face the same weather, people
and sensor noise).
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from skynet.domain import Fan, Mode
from skynet.errors import DataError
from skynet.sim import _kernel as kern
from skynet.sim._ac import COOL, HEAT, air_speed, outdoor_limits, sample_ac
from skynet.sim._climate import CLIMATES, Location, WeatherSeries, local_clock, read_epw
from skynet.sim._observation import Commands, Observation
from skynet.sim._occupants import (
    MAX_PEOPLE,
    TARGET,
    DaySchedule,
    clothing,
    presence,
    sample_days,
    sample_household,
    sample_targets,
    user_change,
    vote_rates,
    vote_value,
)
from skynet.sim._psychro import H_FG, RHO_AIR, humidity_ratio, relative_humidity
from skynet.sim._room import (
    PERSON_MOISTURE_ASLEEP,
    PERSON_MOISTURE_AWAKE,
    PERSON_SENSIBLE_ASLEEP,
    PERSON_SENSIBLE_AWAKE,
    infiltration,
    sample_room,
)

__all__ = ["Fleet", "Observation", "Commands", "DEFAULT_START"]

DEFAULT_START = datetime(2025, 7, 1)
_BLOCK = 1440  # minutes of inputs and noise prepared at a time
_VOTE_GAP = 20  # minutes between two votes of one person
_DROPOUT = 0.001  # share of sensor readings lost
_OFF, _MANUAL = TARGET["off"], TARGET["manual"]


class Fleet:
    """``n_devices`` simulated AC-equipped homes, stepped together minute by minute.

    Args:
        n_devices: number of homes.
        days: how long the run may last (weather and schedules are prepared for it).
        seed: the seed of every random draw.
        climate: a preset of :data:`skynet.sim.CLIMATES` (ignored with a weather file).
        start: the first minute (naive UTC); default 2025-07-01 00:00.
        weather_file: an EPW file to use instead of the synthetic climate.
        occupant_actions: whether people change the AC themselves.
        user_hold_minutes: after a person changes the AC, skynet's commands are ignored this long.
        comfort_interval: minutes between PMV evaluations of the people at home.

    Raises:
        DataError: a bad argument, unknown climate or unreadable weather file.
    """

    def __init__(self, n_devices: int, days: float, seed: int = 0, *, climate: str = "temperate",
                 start: datetime | None = None, weather_file: str | Path | None = None,
                 occupant_actions: bool = True, user_hold_minutes: int = 120,
                 comfort_interval: int = 10) -> None:  # fmt: skip
        if n_devices < 1 or days <= 0:
            raise DataError(
                f"need at least one device and a positive duration (got {n_devices} devices, {days} days)"
            )
        epw = read_epw(weather_file) if weather_file else None
        if epw is None and climate not in CLIMATES:
            raise DataError(f"unknown climate {climate!r}; known: {', '.join(CLIMATES)}")
        self.n, self.seed, self.minutes = n_devices, seed, int(round(days * 1440))
        self.start = (start or DEFAULT_START).replace(second=0, microsecond=0, tzinfo=None)
        self.climate = "epw" if epw else climate
        c = CLIMATES.get(climate)
        self.location = (
            epw.location
            if epw
            else Location(c.city, c.country, c.latitude, c.longitude, c.timezone, c.timezone)
        )
        self.device_ids = [f"sim-{seed}-{i:04d}" for i in range(n_devices)]
        self.occupant_actions, self.hold_minutes = occupant_actions, user_hold_minutes
        self.comfort_interval = max(1, comfort_interval)
        streams = [np.random.SeedSequence(seed, spawn_key=(i,)).spawn(5) for i in range(n_devices)]
        # Per home: parameters, weather, people, per-minute noise, choices (votes, actions).
        gen = [[np.random.default_rng(s) for s in ss] for ss in streams]
        self._noise_rngs = [g[3] for g in gen]  # a fixed number of draws per minute
        self._choice_rngs = [g[4] for g in gen]  # drawn when someone votes or acts

        self.room_params = [sample_room(g[0]) for g in gen]
        self.ac_params = [sample_ac(g[0], r.floor_area) for g, r in zip(gen, self.room_params, strict=True)]
        self.households = [sample_household(g[0]) for g in gen]
        self.room = _columns(self.room_params)
        self.unit = _columns(self.ac_params)
        packed = {
            **self.room,
            **self.unit,
            "infiltration": np.array([infiltration(r) for r in self.room_params]),
        }
        self._p = np.ascontiguousarray(np.stack([packed[name].astype(float) for name in kern.PARAMS]))
        self.weather = WeatherSeries(
            self.start, self.minutes, n_devices, None if epw else c, epw, [g[1] for g in gen]
        )
        self._clock = local_clock(self.start, 0, self.minutes + 1, self.location.tz)  # + the final minute
        self._init_people(gen)
        self._init_state()
        self.k = 0
        self._block_k0 = -_BLOCK
        self.observe()

    # -- setup ---------------------------------------------------------------------------------
    def _init_people(self, gen: list[list[np.random.Generator]]) -> None:
        hh = self.households
        day, _, weekday = self._clock
        n_days = int(day.max()) + 1
        weekdays = (weekday[0] + np.arange(n_days) - day[0]) % 7
        days = [sample_days(g[2], h, n_days, weekdays) for g, h in zip(gen, hh, strict=True)]
        self.days = DaySchedule(
            *(np.stack([getattr(d, f.name) for d in days], axis=1) for f in fields(DaySchedule))
        )
        self.present = np.stack([h.present for h in hh])
        self.comfort_offset = np.stack([h.comfort_offset for h in hh])
        self.clo_offset = np.stack([h.clo_offset for h in hh])
        self.met = np.stack([h.met for h in hh])
        self.vote_rate = np.stack([h.vote_rate for h in hh])
        self.fiddle_rate = np.array([h.fiddle_rate for h in hh])
        self.off_on_leave = np.array([h.off_on_leave for h in hh])
        volume = np.array([r.volume for r in self.room_params])
        self.window_flow = np.array([h.window_ach for h in hh]) * volume * RHO_AIR / 3600.0  # kg/s
        self.window_above = np.array([h.window_above for h in hh])
        self._vent = np.zeros(self.n)
        self.warm = self.weather.running_mean_at(0) > 16.0
        self._targets: dict[int, list[tuple[int, int, float | None]]] = {}
        for i, (g, h) in enumerate(zip(gen, hh, strict=True)):
            trips = []
            trip_days = np.flatnonzero(self.days.trip[:, i])
            for run in (
                np.split(trip_days, np.flatnonzero(np.diff(trip_days) > 1) + 1) if len(trip_days) else []
            ):
                begin, end = np.searchsorted(day, [run[0], run[-1] + 1])
                if begin < self.minutes:
                    trips.append((int(begin), int(end)))
            for minute, code, value in sample_targets(g[2], h, self.minutes, bool(self.warm[i]), trips):
                self._targets.setdefault(minute, []).append((i, code, value))

    def _init_state(self) -> None:
        n, hh = self.n, self.households
        t_out, rh_out, _ = self.weather.at_minutes(0, 1)
        t0 = np.clip(self.weather.running_mean_at(0) + 3.0, 17.0, 31.0)
        w0 = np.minimum(humidity_ratio(t_out[0], rh_out[0]), humidity_ratio(t0, 70.0))
        self._x = np.zeros((len(kern.STATE), n))
        self._x[kern.X_TAIR], self._x[kern.X_TMASS], self._x[kern.X_W] = t0, t0, w0
        self._x[kern.X_TIMER], self._x[kern.X_AUTO] = 10_000.0, 1.0
        self._set(np.zeros(n, dtype=bool), np.where(self.warm, COOL, HEAT),
                  np.array([h.pref_cool if w else h.pref_heat for h, w in zip(hh, self.warm, strict=True)]),
                  np.array([h.pref_fan for h in hh]))  # fmt: skip
        self.target_mode = np.full(n, TARGET["comfort"], dtype=np.int64)
        self.target_value = np.full(n, np.nan)
        self.hold_until = np.zeros(n, dtype=np.int64)
        self.energy_kwh = np.zeros(n)
        self._out = np.zeros((len(kern.OUTPUTS), n))
        self.last_vote = np.full((n, MAX_PEOPLE), -_VOTE_GAP, dtype=np.int64)
        self._pmv_at = -1
        self._last_home = np.zeros(n, dtype=np.int64)
        #: Events as they happen (minute, home, ...): turned into record frames by simulate_fleet.
        self.appliance_events: list[tuple] = []
        self.feedback_events: list[tuple] = []
        self.target_events: list[tuple] = []
        self._acting, self._votes = np.zeros(n, dtype=bool), np.zeros((n, MAX_PEOPLE), dtype=bool)
        self._none = np.full(n, np.nan)
        self._nobody = np.full(n, -1, dtype=np.int64)
        self._false = np.zeros(n, dtype=bool)
        self._feedback, self._user_changed = self._none, self._false
        self._voter = self._nobody

    def _set(self, power: np.ndarray, mode: np.ndarray, tset: np.ndarray, fan: np.ndarray) -> None:
        """New AC settings (whole arrays: observers may hold the old ones)."""
        self.power, self.mode = power.astype(bool), mode.astype(np.int64)
        self.set_temperature, self.fan = tset.astype(float), fan.astype(np.int64)
        self._s = np.stack([self.power, self.mode, self.set_temperature, self.fan, self._vent]).astype(float)
        self._air_speed = air_speed(self.power, self.fan)

    def _load_block(self, k0: int) -> None:
        """Prepare the inputs and noise of minutes ``k0 .. k0 + _BLOCK``."""
        k1 = min(k0 + _BLOCK, self.minutes + 1)
        r = self.room
        t_out, rh_out, ghi = self.weather.at_minutes(k0, k1)
        day, minute, _ = (a[k0:k1] for a in self._clock)
        home, asleep = presence(self.days, self.present, day, minute)
        up = home & ~asleep
        n_home, n_up, n_asleep = _count(home), _count(up), _count(asleep)
        someone_up, dark = n_up > 0, ghi < 80.0
        q_int = r["base_gain"] + PERSON_SENSIBLE_AWAKE * n_up + PERSON_SENSIBLE_ASLEEP * n_asleep
        q_int = q_int + someone_up * (r["activity_gain"] + dark * r["light_gain"])
        solar = r["solar_aperture"] * ghi
        water = (
            PERSON_MOISTURE_AWAKE * n_up
            + PERSON_MOISTURE_ASLEEP * n_asleep
            + someone_up * r["activity_moisture"]
        )
        inputs = {"t_out": t_out, "w_out": humidity_ratio(t_out, rh_out), "q_air": 0.6 * q_int + 0.3 * solar,
                  "q_mass": 0.4 * q_int + 0.7 * solar, "water": water}  # fmt: skip
        limits = outdoor_limits(self.ac_params, t_out)
        stacked = np.concatenate(
            [np.stack([inputs[name] for name in kern.INPUTS[:5]], axis=1), limits], axis=1
        )
        normal = np.stack([g.standard_normal((k1 - k0, 3)) for g in self._noise_rngs], axis=1)
        uniform = np.stack([g.random((k1 - k0, 5)) for g in self._noise_rngs], axis=1)
        lost = np.where(uniform[:, :, 0] < _DROPOUT, np.nan, 0.0)  # NaN propagates to the readings
        lux = (ghi * r["daylight_factor"] + someone_up * dark * r["light_lux"]) * (
            1.0 + 0.03 * normal[:, :, 2]
        )
        left = (n_home == 0) & (np.vstack([self._last_home[None], n_home[:-1]]) > 0)
        # Clothing of the day: 1.0 clo at a running-mean outdoor temperature of 5 °C, 0.5 at 25 °C.
        clo, bed_clo = clothing(self.weather.running_mean_at(k0), self.clo_offset)
        self._last_home = n_home[-1]
        self._b = {
            "inputs": np.ascontiguousarray(stacked), "t_out": t_out, "rh_out": rh_out,
            "home": home, "up": up, "asleep": asleep, "n_home": n_home, "n_up": n_up, "is_home": n_home > 0,
            "left": left, "any_left": left.any(axis=1),
            "t_noise": np.ascontiguousarray(r["sensor_bias_t"] + 0.05 * normal[:, :, 0] + lost),
            "rh_noise": np.ascontiguousarray(r["sensor_bias_rh"] + 0.5 * normal[:, :, 1] + lost),
            "lux": np.round(np.maximum(lux, 0.0)) + lost, "clo": clo,
            "bed_clo": bed_clo,
            "u_vote": np.ascontiguousarray(uniform[:, :, 1:4]), "u_act": np.ascontiguousarray(uniform[:, :, 4]),
        }  # fmt: skip
        self._block_k0 = k0

    def set_room(self, temperature: float | np.ndarray, humidity: float | np.ndarray | None = None) -> None:
        """Put every room (air and building mass) at ``temperature`` °C and ``humidity`` %RH.

        For scenarios (a hot flat at noon, a cold morning); the default start is the outdoor
        running mean + 3 °C with the outdoor air's moisture.
        """
        t = np.broadcast_to(np.asarray(temperature, dtype=float), (self.n,))
        self._x[kern.X_TAIR], self._x[kern.X_TMASS] = t, t
        if humidity is not None:
            self._x[kern.X_W] = humidity_ratio(
                t, np.broadcast_to(np.asarray(humidity, dtype=float), (self.n,))
            )
        self._pmv_at = -1

    # -- stepping ------------------------------------------------------------------------------
    def devices(self) -> Any:
        """The homes as device records: a frame of :class:`skynet.domain.Device` fields (location,
        climate, building and cooling type: what ``simulate_fleet`` stores and the comfort model reads)."""
        import pandas as pd

        from skynet.domain import Device, field_names

        loc, rng = self.location, np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(2**31,)))
        n = self.n
        jitter = rng.uniform(-0.3, 0.3, (n, 2)) if self.climate != "epw" else np.zeros((n, 2))
        frame = pd.DataFrame({
            "device_id": self.device_ids,
            "name": [f"Simulated home {i}" for i in range(n)],
            "timezone": loc.timezone, "latitude": np.round(loc.latitude + jitter[:, 0], 3),
            "longitude": np.round(loc.longitude + jitter[:, 1], 3), "country": loc.country, "city": loc.city,
            "climate": self.climate,
            "building_type": np.where(self.room["floor_area"] < 25, "apartment", "house"),
            "cooling_type": np.where(self.unit["inverter"], "split inverter heat pump", "split fixed-speed heat pump"),
            "min_set_temperature": 16.0, "max_set_temperature": 30.0,
        })  # fmt: skip
        return frame[field_names(Device)]

    @property
    def time(self) -> datetime:
        """The current minute (naive UTC)."""
        return self.start + timedelta(minutes=self.k)

    def observe(self) -> Observation:
        """The fleet at the current minute (sensors read now; nothing advances)."""
        if self.k - self._block_k0 >= _BLOCK:
            self._load_block(self.k)
        j, b, x, out = self.k - self._block_k0, self._b, self._x, self._out
        if self.k - self._pmv_at >= self.comfort_interval or self._pmv_at < 0:
            self._update_comfort(j)
        read = np.empty((len(kern.READINGS), self.n))
        kern.read_homes(
            x, b["t_noise"][j], b["rh_noise"][j], self.pmv_people, self.sensation_people, b["home"][j], read
        )
        return Observation(
            minute=self.k, timestamp=self.time, temperature=read[kern.R_TEMPERATURE],
            humidity=read[kern.R_HUMIDITY], luminosity=b["lux"][j], true_temperature=x[kern.X_TAIR].copy(),
            true_humidity=read[kern.R_RH], mass_temperature=x[kern.X_TMASS].copy(),
            outdoor_temperature=b["t_out"][j], outdoor_humidity=b["rh_out"][j],
            occupants=b["n_home"][j], awake=b["n_up"][j], pmv=read[kern.R_PMV], sensation=read[kern.R_SENSATION],
            power=self.power, mode=self.mode, set_temperature=self.set_temperature, fan=self.fan,
            compressor=x[kern.X_COMP] > 0.5, power_w=out[kern.O_ELECTRIC], heat_w=out[kern.O_SENSIBLE],
            latent_w=out[kern.O_LATENT] * H_FG, energy_kwh=self.energy_kwh, target_mode=self.target_mode,
            target_value=self.target_value, user_hold=self.hold_until > self.k,
            feedback=self._feedback, user_changed=self._user_changed, voter=self._voter,
            outdoor_running_mean=np.round(self.weather.running_mean_at(self.k), 1),
        )  # fmt: skip

    def _update_comfort(self, j: int) -> None:
        """PMV of every person (pythermalcomfort, ISO 7730), and the vote and action rates it sets."""
        b, x, slots = self._b, self._x, MAX_PEOPLE
        up, asleep = b["up"][j], b["asleep"][j]
        t_air = x[kern.X_TAIR]
        clo = np.where(asleep, b["bed_clo"], b["clo"])
        met = np.where(asleep, 0.8, self.met)
        rh = np.clip(relative_humidity(t_air, x[kern.X_W]), 1.0, 100.0)
        result = iso_pmv(np.repeat(t_air, slots), np.repeat(0.4 * t_air + 0.6 * x[kern.X_TMASS], slots),
                         np.repeat(self._air_speed, slots), np.repeat(rh, slots), met.ravel(), clo.ravel())  # fmt: skip
        pmv = np.clip(np.nan_to_num(np.asarray(result, dtype=float)), -3.5, 3.5).reshape(up.shape)
        s = pmv + self.comfort_offset
        self.pmv_people, self.sensation_people, self._clo, self._met = pmv, s, clo, met
        self._vote_rate = vote_rates(self.vote_rate, s)
        self._vote_rate *= self.k - self.last_vote >= _VOTE_GAP
        worst_up, worst_asleep = (np.abs(s) * up).max(axis=1), (np.abs(s) * asleep).max(axis=1)
        self._act_rate = 0.02 * np.maximum(worst_up - 1.0, 0.0) ** 1.5 + self.fiddle_rate * up.any(axis=1)
        self._act_rate += 0.01 * np.maximum(worst_asleep - 2.0, 0.0)
        self._pmv_at = self.k
        if self.occupant_actions:  # open windows: AC off, someone up, warm inside, cooler outside
            t_out = b["inputs"][j, kern.U_TOUT]
            opened = ~self.power & up.any(axis=1) & (t_air > self.window_above) & (t_out < t_air - 2.0)
            vent = opened * self.window_flow
            if not np.array_equal(vent, self._vent):
                self._vent = vent
                self._set(self.power, self.mode, self.set_temperature, self.fan)

    def step(self, commands: Commands | None = None) -> Observation:
        """Apply a controller's commands (origin "skynet"), let people act, advance one minute.

        Returns:
            The observation at the next minute.

        Raises:
            DataError: the fleet has already run the minutes it was prepared for.
        """
        if self.k >= self.minutes:
            raise DataError(f"the fleet was prepared for {self.minutes} minutes; it has run them all")
        k, j, b = self.k, self.k - self._block_k0, self._b
        before = (self.power, self.mode, self.set_temperature, self.fan)
        origin = np.zeros(self.n, dtype=np.int8) if k == 0 else None  # 1 skynet, 2 user
        for i, code, value in self._targets.get(k, ()):
            self.target_mode, self.target_value = self.target_mode.copy(), self.target_value.copy()
            self.target_mode[i], self.target_value[i] = code, np.nan if value is None else value
            self.target_events.append((k, i, code, value))
        if commands is not None:
            sel = np.asarray(commands.send, dtype=bool) & (self.hold_until <= k)
            if np.count_nonzero(sel):
                tset = np.clip(
                    np.round(np.asarray(commands.set_temperature, dtype=float) * 2) / 2, 16.0, 30.0
                )
                self._set(np.where(sel, commands.power, self.power),
                          np.where(sel, np.clip(commands.mode, 0, len(Mode) - 1), self.mode),
                          np.where(sel, tset, self.set_temperature),
                          np.where(sel, np.clip(commands.fan, 0, len(Fan) - 1), self.fan))  # fmt: skip
                origin = np.zeros(self.n, dtype=np.int8) if origin is None else origin
                origin[sel] = 1
        self._feedback, self._user_changed = self._none, self._false
        self._voter = self._nobody
        if kern.draw_events(b["u_act"][j], self._act_rate, b["is_home"][j], b["u_vote"][j], self._vote_rate,
                            b["up"][j], self._acting, self._votes) or b["any_left"][j]:  # fmt: skip
            if self.occupant_actions:
                origin = np.zeros(self.n, dtype=np.int8) if origin is None else origin
                self._people_act(k, j, self._acting, origin)
            if self._votes.any():
                self._vote(k, self._votes)

        self._out = np.empty((len(kern.OUTPUTS), self.n))
        kern.step_homes(self._p, self._s, self._x, b["inputs"][j], self._out)
        self.energy_kwh = self.energy_kwh + self._out[kern.O_ELECTRIC] * (1.0 / 60_000.0)
        if origin is not None:
            self._record_settings(k, before, origin)
        self.k += 1
        return self.observe()

    def _record_settings(self, k: int, before: tuple, origin: np.ndarray) -> None:
        changed = (self.power != before[0]) | (self.mode != before[1]) | (self.set_temperature != before[2])
        changed |= self.fan != before[3]
        if k == 0:  # the state the run starts from
            changed[:], origin[origin == 0] = True, 2
        for i in changed.nonzero()[0]:
            self.appliance_events.append((k, i, bool(self.power[i]), int(self.mode[i]),
                                          float(self.set_temperature[i]), int(self.fan[i]),
                                          "skynet" if origin[i] == 1 else "user"))  # fmt: skip

    def _people_act(self, k: int, j: int, acting: np.ndarray, origin: np.ndarray) -> None:
        """People change the AC when uncomfortable, now and then for no reason, or when leaving."""
        b = self._b
        up, asleep, s = b["up"][j], b["asleep"][j], self.sensation_people
        leaving = b["left"][j] & self.power & ((self.target_mode == _OFF) | (self.target_mode == _MANUAL))
        power, mode, tset, fan = (
            self.power.copy(),
            self.mode.copy(),
            self.set_temperature.copy(),
            self.fan.copy(),
        )
        acted = False
        for i in (acting | leaving).nonzero()[0]:
            u = self._choice_rngs[i].random()
            if leaving[i] and not acting[i]:
                if u >= self.off_on_leave[i]:
                    continue
                new = (False, int(mode[i]), float(tset[i]), int(fan[i]))
            else:
                who = int(np.argmax(np.where(up[i] | asleep[i], np.abs(s[i]), -1.0)))
                new = user_change(bool(power[i]), int(mode[i]), float(tset[i]), int(fan[i]), float(s[i, who]),
                                  float(self._x[kern.X_TAIR, i]), self.households[i], u,
                                  fiddle=abs(s[i, who]) < 1.0)  # fmt: skip
            if new is None:
                continue
            power[i], mode[i], tset[i], fan[i] = new
            origin[i], acted = 2, True
            if self._user_changed is self._false:
                self._user_changed = self._false.copy()
            self._user_changed[i] = True
            if self.target_mode[i] not in (_OFF, _MANUAL):
                self.hold_until[i] = k + self.hold_minutes
        if acted:
            self._set(power, mode, tset, fan)

    def _vote(self, k: int, votes: np.ndarray) -> None:
        """Record the votes drawn this minute (one per home: the record key is home and minute)."""
        self._feedback = self._none.copy()
        self._voter = self._nobody.copy()
        for i in votes.any(axis=1).nonzero()[0]:
            p = int(np.argmax(votes[i]))
            value = vote_value(self.sensation_people[i, p], self._choice_rngs[i].standard_normal())
            self.last_vote[i, p] = k
            self._vote_rate[i, p] = 0.0  # until the gap has passed (next comfort update)
            self._feedback[i] = value
            self._voter[i] = p
            self.feedback_events.append((k, i, p, value, float(self._clo[i, p]), float(self._met[i, p])))


def iso_pmv(tdb: np.ndarray, tr: np.ndarray, vr: np.ndarray, rh: np.ndarray, met: np.ndarray,
            clo: np.ndarray) -> np.ndarray:  # fmt: skip
    """PMV (ISO 7730) per person: ``pythermalcomfort.models.pmv_ppd_iso(..., limit_inputs=False,
    round_output=False).pmv``, the same numbers from the same compiled function.

    The public function checks its inputs and computes PPD and the sensation categories on every
    call; every 10 simulated minutes of a run those cost more than the PMV itself (about 1 ms a
    call), so the simulator calls pythermalcomfort's compiled PMV directly when it is there.
    """
    global _PMV
    if _PMV is None:
        try:
            from pythermalcomfort.models._pmv_ppd_optimized import _pmv_ppd_optimized as compiled

            _PMV = lambda *a: compiled(*a, 0.0)  # noqa: E731 - wme = 0, as pmv_ppd_iso's default
        except ImportError:  # another pythermalcomfort layout: the public function
            from pythermalcomfort.models import pmv_ppd_iso

            _PMV = lambda *a: pmv_ppd_iso(*a, limit_inputs=False, round_output=False).pmv  # noqa: E731
    return _PMV(tdb, tr, vr, rh, met, clo)


_PMV = None


def _count(people: np.ndarray) -> np.ndarray:
    """People per home from a (minutes, homes, slots) mask (faster than a sum over the last axis)."""
    as_int = people.view(np.uint8)
    return sum(as_int[:, :, p].astype(np.int64) for p in range(people.shape[2]))


def _columns(params: list) -> dict[str, np.ndarray]:
    """A list of parameter dataclasses as one array per field."""
    return {f.name: np.array([getattr(p, f.name) for p in params]) for f in fields(params[0])}
