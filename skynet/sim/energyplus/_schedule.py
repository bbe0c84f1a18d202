"""The thermostat commands skynet sends each EnergyPlus zone: random but seeded, or given.

A random schedule cuts each zone's run into segments of 30 minutes to 6 hours (drawn
uniformly, in whole timesteps). In each segment the unit is off (35 % of segments) or on in
the mode the day calls for: ``cool`` when the weather file's daily mean outdoor temperature
is at least :data:`COOL_ABOVE` °C, else ``heat``; with a set point drawn on a 0.5 °C grid from
22–28 °C when cooling or 18–24 °C when heating. Zone ``i`` draws from its own substream
``SeedSequence(seed, spawn_key=(i,))``, so its schedule does not depend on the other zones.

A given schedule is a frame of appliance states (``device_id``, ``timestamp``, ``power``,
``mode``, ``set_temperature``) held until the next one, like a remote control's commands;
a zone without a command before a timestep is off.

Either way the result is one command per (timestep, zone) as the thermostat's heating and
cooling set points: cool at T -> (off, T); heat at T -> (T, off); off -> (off, off).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from skynet.errors import DataError
from skynet.sim.energyplus._idf import OFF_COOLING, OFF_HEATING

__all__ = ["Commands", "random_commands", "given_commands", "COOL_ABOVE"]

#: Daily mean outdoor temperature (°C) from which a day's random schedule cools.
COOL_ABOVE = 16.0
_P_OFF = 0.35
_SEGMENT_HOURS = (0.5, 6.0)
_COOL_SET = np.arange(22.0, 28.01, 0.5)
_HEAT_SET = np.arange(18.0, 24.01, 0.5)
MODES = ("cool", "heat")


@dataclass
class Commands:
    """One thermostat command per (timestep, zone); timestep ``k`` covers ``(t_k, t_k+1]``."""

    power: np.ndarray  # bool (steps, zones)
    mode: np.ndarray  # int8 index in MODES
    set_temperature: np.ndarray  # °C

    @property
    def heating_setpoint(self) -> np.ndarray:
        """The zone thermostat's heating set point per (timestep, zone)."""
        return np.where(self.power & (self.mode == 1), self.set_temperature, OFF_HEATING)

    @property
    def cooling_setpoint(self) -> np.ndarray:
        """The zone thermostat's cooling set point per (timestep, zone)."""
        return np.where(self.power & (self.mode == 0), self.set_temperature, OFF_COOLING)

    def events(self) -> list[tuple[int, int]]:
        """(timestep, zone) where a zone's command changes, the first timestep included."""
        state = np.stack([self.power, self.mode, np.round(self.set_temperature * 10)], axis=-1)
        changed = np.any(state[1:] != state[:-1], axis=-1)
        steps, zones = np.nonzero(np.vstack([np.ones((1, state.shape[1]), bool), changed]))
        order = np.lexsort((steps, zones))
        return list(zip(steps[order].tolist(), zones[order].tolist(), strict=True))


def random_commands(
    n_steps: int, n_zones: int, steps_per_day: int, daily_mean: np.ndarray, seed: int
) -> Commands:
    """A seeded random schedule (see the module docstring).

    Args:
        n_steps, n_zones: the shape; ``steps_per_day`` timesteps make a day.
        daily_mean: outdoor daily mean temperature of each simulated day (°C).
        seed: the run's seed.
    """
    power = np.zeros((n_steps, n_zones), dtype=bool)
    mode = np.zeros((n_steps, n_zones), dtype=np.int8)
    setpoint = np.zeros((n_steps, n_zones), dtype=float)
    steps_per_hour = steps_per_day / 24.0
    for z in range(n_zones):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(z,)))
        k = 0
        while k < n_steps:
            length = max(1, round(rng.uniform(*_SEGMENT_HOURS) * steps_per_hour))
            on = rng.random() >= _P_OFF
            day = min(k // steps_per_day, len(daily_mean) - 1)
            cool = daily_mean[day] >= COOL_ABOVE
            value = rng.choice(_COOL_SET if cool else _HEAT_SET)
            power[k : k + length, z] = on
            mode[k : k + length, z] = 0 if cool else 1
            setpoint[k : k + length, z] = value
            k += length
    return Commands(power, mode, setpoint)


def given_commands(schedule: pd.DataFrame, device_ids: list[str], step_ends: pd.DatetimeIndex) -> Commands:
    """Commands from a frame of appliance states, each held until the next (see the module docstring).

    Args:
        schedule: ``device_id``, ``timestamp`` (naive UTC), ``power``, ``mode`` ("cool" or
            "heat"), ``set_temperature``.
        device_ids: the zones' device ids, in zone order.
        step_ends: the end of each timestep (naive UTC); a command applies to a timestep
            when its timestamp is before the timestep's end.

    Raises:
        DataError: a missing column, an unknown device or mode, or no set temperature when on.
    """
    missing = {"device_id", "timestamp", "power", "mode", "set_temperature"} - set(schedule.columns)
    if missing:
        raise DataError(f"the schedule lacks the columns {', '.join(sorted(missing))}")
    index = {d: i for i, d in enumerate(device_ids)}
    unknown = sorted(set(schedule["device_id"]) - set(index))
    if unknown:
        raise DataError(f"the schedule names devices not in the building: {', '.join(unknown[:3])}")
    n_steps, n_zones = len(step_ends), len(device_ids)
    power = np.zeros((n_steps, n_zones), dtype=bool)
    mode = np.zeros((n_steps, n_zones), dtype=np.int8)
    setpoint = np.zeros((n_steps, n_zones), dtype=float)
    rows = schedule.sort_values(["device_id", "timestamp"], kind="stable")
    for device, group in rows.groupby("device_id", sort=False):
        z = index[device]
        modes = group["mode"].fillna("cool").astype(str)
        bad = sorted(set(modes) - set(MODES))
        if bad:
            raise DataError(f"schedule of {device}: mode {bad[0]!r} is not one of {', '.join(MODES)}")
        on = group["power"].astype(bool).to_numpy()
        temps = pd.to_numeric(group["set_temperature"], errors="coerce").to_numpy(dtype=float)
        if np.any(on & ~np.isfinite(temps)):
            raise DataError(f"schedule of {device}: a command with power on has no set_temperature")
        # The command in force during a timestep: the last one stamped before its end.
        which = (
            np.searchsorted(
                pd.DatetimeIndex(group["timestamp"]).to_numpy(), step_ends.to_numpy(), side="left"
            )
            - 1
        )
        valid = which >= 0
        power[valid, z] = on[which[valid]]
        mode[valid, z] = np.array([MODES.index(m) for m in modes])[which[valid]]
        setpoint[valid, z] = np.nan_to_num(temps[which[valid]], nan=0.0)
    return Commands(power, mode, setpoint)
