"""Run a fleet under a controller and collect what it produced: :func:`simulate_fleet`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from skynet.domain import SensorReading, User, field_names
from skynet.errors import DataError
from skynet.sim._fleet import Fleet
from skynet.sim._observation import Observation
from skynet.sim._policy import Policy, RulePolicy
from skynet.sim._result import TRUTH_COLUMNS, SimulationResult, event_frames, minute_frame

__all__ = ["simulate_fleet", "run_policy", "ReadingsReady"]

Progress = Callable[[str, int, int], None]
#: ``on_readings(first, end, make_frame)``: the readings of minutes ``first <= k < end`` are final;
#: ``make_frame()`` builds their SensorReading frame (from any thread, while the run goes on).
ReadingsReady = Callable[[int, int, Callable[[], pd.DataFrame]], None]
_DAY = 1440


def simulate_fleet(
    n_devices: int,
    days: float,
    seed: int = 0,
    *,
    climate: str = "temperate",
    start: datetime | None = None,
    weather_file: str | Path | None = None,
    policy: Policy | str | None = "rule",
    occupant_actions: bool = True,
    weather_interval: int = 30,
    keep_truth: bool = True,
    progress: Progress | None = None,
    on_readings: ReadingsReady | None = None,
    readings_rows: int = 250_000,
) -> SimulationResult:
    """Simulate ``n_devices`` AC-equipped homes for ``days`` days, minute by minute.

    Pure: nothing is written anywhere. Deterministic for a seed; home ``i`` is the same in
    any fleet size.

    Args:
        n_devices: number of homes.
        days: duration (fractions allowed).
        seed: seed of every random draw.
        climate: a preset of :data:`skynet.sim.CLIMATES` (ignored with ``weather_file``).
        start: first minute (naive UTC; default 2025-07-01).
        weather_file: an EPW file replacing the synthetic climate.
        policy: the controller sending commands with origin "skynet": ``"rule"`` (the
            built-in :class:`RulePolicy`), any object with ``decide(obs)``, or None (people only).
        occupant_actions: whether people change the AC themselves (origin "user").
        weather_interval: minutes between weather records (10–60 is typical of weather APIs).
        keep_truth: keep the ground-truth minute series (see :meth:`SimulationResult.truth_frame`).
        progress: called as ``progress("simulate", minutes_done, minutes_total)`` once a day.
        on_readings: called as soon as the sensor readings of about ``readings_rows`` rows (whole
            days) are final, and for the last ones at the end: ``on_readings(first, end,
            make_frame)`` (see :data:`ReadingsReady`), so a caller can store them while the
            simulation runs. The frames are those of :meth:`SimulationResult.frame` cut by time.
        readings_rows: rows (homes x minutes) per ``on_readings`` call.

    Returns:
        The record frames and ground truth.

    Raises:
        DataError: a bad argument, unknown climate or unreadable weather file.
    """
    started = time.perf_counter()
    if not 1 <= weather_interval <= 24 * 60:
        raise DataError(f"weather_interval must be 1..1440 minutes, got {weather_interval}")
    fleet = Fleet(n_devices, days, seed, climate=climate, start=start, weather_file=weather_file,
                  occupant_actions=occupant_actions)  # fmt: skip
    controller = RulePolicy() if policy == "rule" else policy
    if isinstance(controller, str):
        raise DataError(f"unknown policy {policy!r}: use 'rule', a controller object or None")
    t, n = fleet.minutes, fleet.n
    sensors = {name: np.empty((t, n), dtype=np.float32) for name in ("temperature", "humidity", "luminosity")}
    truth = _truth_arrays(t, n) if keep_truth else {}

    def record(obs: Observation) -> None:
        k = obs.minute
        sensors["temperature"][k] = obs.temperature
        sensors["humidity"][k] = obs.humidity
        sensors["luminosity"][k] = obs.luminosity
        if truth:
            for name in TRUTH_COLUMNS:
                if name not in _AFTER_STEP:
                    truth[name][k] = getattr(obs, _TRUTH_SOURCE.get(name, name))

    def after_step(obs: Observation) -> None:
        if truth:
            for name in _AFTER_STEP:  # what the unit did during the minute just simulated
                truth[name][obs.minute - 1] = getattr(obs, name)

    ready = 0  # minutes handed to on_readings

    def advance(stage: str, done: int, total: int) -> None:
        nonlocal ready
        if (
            on_readings is not None
            and ((done - ready) * n >= readings_rows or done == total)
            and done > ready
        ):
            on_readings(ready, done, _readings_frame(fleet, sensors, ready, done))
            ready = done
        if progress is not None:
            progress(stage, done, total)

    run_policy(fleet, controller, t, before_step=record, after_step=after_step, progress=advance)
    minutes = np.arange(0, t, weather_interval)
    t_out, rh_out, _ = fleet.weather.at(minutes)
    weather = {
        "temperature": np.round(t_out, 1),
        "humidity": np.round(rh_out),
        "running_mean_temperature": np.round(fleet.weather.running_mean_at(minutes), 1),
    }
    events = event_frames(fleet)
    return SimulationResult(
        start=fleet.start, minutes=t, seed=seed, climate=fleet.climate, device_ids=fleet.device_ids,
        devices=fleet.devices(), users=_users(fleet), appliance_states=events["appliance_state"],
        control_targets=events["control_target"], feedback=events["feedback"], params=_params(fleet),
        energy_kwh=fleet.energy_kwh.copy(), sensors=sensors, weather_minutes=minutes, weather_values=weather,
        truth=truth, seconds=round(time.perf_counter() - started, 3),
    )  # fmt: skip


def _readings_frame(
    fleet: Fleet, sensors: dict[str, np.ndarray], first: int, end: int
) -> Callable[[], pd.DataFrame]:
    """A builder of the SensorReading frame of minutes ``first .. end`` (rows no step writes again)."""
    values = {name: array[first:end] for name, array in sensors.items()}
    ids, start = list(fleet.device_ids), fleet.start

    def make() -> pd.DataFrame:
        return minute_frame(start, ids, np.arange(len(ids)), np.arange(first, end), values, SensorReading,
                            drop_lost=True)  # fmt: skip

    return make


_TRUTH_SOURCE = {"temperature": "true_temperature", "humidity": "true_humidity"}
_AFTER_STEP = ("compressor", "power_w", "heat_w", "latent_w")


def _truth_arrays(t: int, n: int) -> dict[str, np.ndarray]:
    small = {
        "occupants": np.int8,
        "awake": np.int8,
        "mode": np.int8,
        "fan": np.int8,
        "power": bool,
        "compressor": bool,
    }
    return {name: np.zeros((t, n), dtype=small.get(name, np.float32)) for name in TRUTH_COLUMNS}


def run_policy(fleet: Fleet, policy: Policy | None, minutes: int,
               before_step: Callable[[Observation], None] | None = None,
               after_step: Callable[[Observation], None] | None = None,
               progress: Progress | None = None) -> Observation:  # fmt: skip
    """Drive ``fleet`` for ``minutes`` minutes in closed loop under ``policy`` (None: people only).

    Each minute: observe, ``before_step(obs)``, ``policy.decide(obs)``, step,
    ``after_step(next_obs)``. Calls ``policy.bind(fleet)`` first when the policy has it.

    Returns:
        The observation after the last step.
    """
    if policy is not None and hasattr(policy, "bind"):
        policy.bind(fleet)
    obs = fleet.observe()
    end = min(fleet.minutes, fleet.k + minutes)
    while fleet.k < end:
        if before_step is not None:
            before_step(obs)
        commands = policy.decide(obs) if policy is not None else None
        obs = fleet.step(commands)
        if after_step is not None:
            after_step(obs)
        if progress is not None and (fleet.k % _DAY == 0 or fleet.k == end):
            progress("simulate", fleet.k, end)
    return obs


def _users(fleet: Fleet) -> pd.DataFrame:
    rows = [
        {"user_id": f"{d}-u{p}", "device_id": d, "name": f"Occupant {p + 1} of {d}"}
        for d, present in zip(fleet.device_ids, fleet.present, strict=True)
        for p in np.flatnonzero(present)
    ]
    return pd.DataFrame(rows, columns=field_names(User))


def _params(fleet: Fleet) -> pd.DataFrame:
    rows = []
    for i, device in enumerate(fleet.device_ids):
        hh = fleet.households[i]
        rows.append({
            "device_id": device, **asdict(fleet.room_params[i]), **asdict(fleet.ac_params[i]),
            "people": int(hh.present.sum()), "pref_cool": hh.pref_cool, "pref_heat": hh.pref_heat,
            "comfort_offsets": [round(float(x), 3) for x in hh.comfort_offset[hh.present]],
            "energy_kwh": float(fleet.energy_kwh[i]),
        })  # fmt: skip
    return pd.DataFrame(rows)
