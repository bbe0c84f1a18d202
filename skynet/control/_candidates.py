"""Candidate AC commands: power off, and each mode × set temperature grid × fan speed.

Candidates are rows of a float array ``(n, 4)``: power (0/1), mode code, set temperature,
fan code (codes index :data:`skynet.domain.AC_MODES` / :data:`~skynet.domain.FAN_SPEEDS`),
the layout the estimation model's ``predict_candidates`` reads. Row 0 is always "off"; the
current state is always a row too, so "no change" can win. Modes that cannot help are left
out: no heating when the room is 2 °C above the target band's bottom, no cooling or drying
when it is colder than the band's bottom - 2 °C, no dry or fan-only mode for an empty home or the
away target (they serve people, not a band). Dry mode runs its own fan (one row per set point);
fan-only mode keeps the current set point (one row per fan speed). Unless ``fan_alone``, a
running unit's fan changes only with its set point or mode: no row differs from the current
state by the fan speed alone (each command beeps).
"""

from __future__ import annotations

import math

import numpy as np

from skynet.control._safety import allowed_set_range
from skynet.control._types import Appliance, ControlConfig
from skynet.domain import AC_MODES, FAN_SPEEDS, ApplianceState

__all__ = ["candidates", "to_state", "MODE_CODE", "FAN_CODE"]

MODE_CODE = {m: i for i, m in enumerate(AC_MODES)}
FAN_CODE = {f: i for i, f in enumerate(FAN_SPEEDS)}


def candidates(
    appliance: Appliance,
    config: ControlConfig,
    current: ApplianceState | None,
    temperature: float,
    band: tuple[float, float],
    people: bool = True,
) -> np.ndarray:
    """The candidate commands for a room at ``temperature`` °C under a target ``band`` (°C).

    ``people=False`` (an empty home or the away target: only a band to keep) leaves out the
    modes that only serve people: dry and fan-only.
    """
    low, high = allowed_set_range(appliance, config)
    step = config.set_temperature_step
    grid = np.arange(math.ceil(low / step - 1e-9) * step, high + 1e-9, step)
    modes = [m for m in config.modes if m in appliance.modes]
    fans = [FAN_CODE[f] for f in config.fans if f in appliance.fans] or [FAN_CODE["auto"]]
    cur_mode = MODE_CODE.get(current.mode, 0) if current is not None and current.mode else 0
    cur_set = current.set_temperature if current is not None and current.set_temperature is not None else None
    mid = float(np.clip(cur_set if cur_set is not None else 0.5 * (low + high), low, high))
    cur_fan = FAN_CODE.get(current.fan, 0) if current is not None and current.fan else 0
    rows: list[tuple[float, float, float, float]] = [(0.0, cur_mode, mid, cur_fan)]
    for mode in modes:
        code = MODE_CODE[mode]
        if mode == "heat" and temperature >= band[0] + 2.0:
            continue
        if mode in ("cool", "dry", "auto") and temperature <= band[0] - 2.0:
            continue
        if mode in ("dry", "fan") and not people:
            continue
        if mode == "fan":
            rows += [(1.0, code, mid, fan) for fan in fans]
        elif mode == "dry":
            rows += [(1.0, code, t, FAN_CODE["auto"]) for t in grid]
        else:
            rows += [(1.0, code, t, fan) for t in grid for fan in fans]
    array = np.array(rows, dtype=float)
    running = current is not None and current.power and current.mode is not None
    if running and not config.fan_alone:  # the fan changes only with the set point or the mode
        same = (array[:, 0] > 0.5) & (array[:, 1] == cur_mode)
        if MODE_CODE[current.mode] != MODE_CODE["fan"]:
            same &= np.abs(array[:, 2] - (cur_set if cur_set is not None else mid)) < 0.25
        array = array[~(same & (array[:, 3] != cur_fan))]
    if running:
        now = np.array([1.0, MODE_CODE[current.mode], cur_set if cur_set is not None else mid, cur_fan])
        if not (np.abs(array - now) < 1e-6).all(axis=1).any():
            array = np.vstack([array, now])
    return array


def to_state(row: np.ndarray, device_id: str, now, current: ApplianceState | None) -> ApplianceState:
    """A candidate row as an AC state with origin "skynet" (off keeps the current settings)."""
    if row[0] < 0.5:
        if current is None:
            return ApplianceState(device_id, now, power=False, origin="skynet")
        return ApplianceState(
            device_id, now, False, current.mode, current.set_temperature, current.fan, "skynet"
        )
    return ApplianceState(
        device_id, now, True, AC_MODES[int(row[1])], float(row[2]), FAN_SPEEDS[int(row[3])], "skynet"
    )


def describe(row: np.ndarray) -> str:
    """A candidate in a few words: ``off`` or ``cool 26 °C fan auto``."""
    if row[0] < 0.5:
        return "off"
    mode = AC_MODES[int(row[1])]
    if mode == "fan":
        return f"fan only, fan {FAN_SPEEDS[int(row[3])]}"
    return f"{mode} {row[2]:g} °C fan {FAN_SPEEDS[int(row[3])]}"
