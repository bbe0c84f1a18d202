"""Candidate AC commands: power off, and each mode × set temperature grid × fan speed.

:class:`Candidates` holds them as typed columns (power, :class:`~skynet.domain.Mode` code, set
temperature, :class:`~skynet.domain.Fan` code). Row 0 is always "off"; the current setting is
always a row too, so "no change" can win. Modes that cannot help are left out: no heating when
the room is 2 °C above the target band's bottom, no cooling or drying when it is colder than the
band's bottom - 2 °C, no dry or fan-only mode for an empty home or the away target (they serve
people, not a band). Dry mode runs its own fan (one row per set point); fan-only mode keeps the
current set point (one row per fan speed). Unless ``fan_alone``, a running unit's fan changes
only with its set point or mode: no row differs from the current setting by the fan speed alone
(each command beeps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

import numpy as np

from skynet.config import ControlConfig
from skynet.control._safety import allowed_set_range
from skynet.control._types import Appliance
from skynet.domain import ApplianceState, Fan, Mode

__all__ = ["Candidates", "Setting", "candidates"]


class Setting(NamedTuple):
    """An AC setting as codes (the current state, for the switching cost): mode or fan -1 when unknown."""

    power: bool
    mode: int
    set_temperature: float
    fan: int

    @classmethod
    def of(cls, state: ApplianceState | None) -> Setting | None:
        """The setting of an AC state (None when the state is unknown)."""
        if state is None:
            return None
        if not state.power:
            return cls(False, int(Mode.COOL), math.nan, int(Fan.AUTO))
        tset = state.set_temperature if state.set_temperature is not None else math.nan
        mode = int(Mode.of(state.mode)) if state.mode else -1
        return cls(True, mode, tset, int(Fan.of(state.fan)) if state.fan else -1)


@dataclass(frozen=True)
class Candidates:
    """Candidate commands, one row each (see the module docstring).

    Attributes:
        power: whether the command runs the AC.
        mode: :class:`~skynet.domain.Mode` codes.
        set_temperature: °C.
        fan: :class:`~skynet.domain.Fan` codes.
    """

    power: np.ndarray
    mode: np.ndarray
    set_temperature: np.ndarray
    fan: np.ndarray
    _array: np.ndarray = field(repr=False, compare=False, default=None)  # type: ignore[assignment]

    @classmethod
    def of_rows(cls, rows: list[tuple[float, float, float, float]] | np.ndarray) -> Candidates:
        """From rows of (power, mode code, set temperature, fan code)."""
        array = np.asarray(rows, dtype=float).reshape(-1, 4)
        return cls(array[:, 0] > 0.5, array[:, 1].astype(np.int64), array[:, 2].copy(),
                   array[:, 3].astype(np.int64), array)  # fmt: skip

    def __len__(self) -> int:
        return len(self.power)

    @property
    def array(self) -> np.ndarray:
        """The ``(n, 4)`` float array of the estimation model's command fields (power, mode,
        set temperature, fan: :data:`skynet.models.estimation.COMMAND_FIELDS`)."""
        if self._array is None:
            return np.column_stack([self.power, self.mode, self.set_temperature, self.fan]).astype(float)
        return self._array

    def command(
        self, i: int, device_id: str, now: datetime, current: ApplianceState | None
    ) -> ApplianceState:
        """Row ``i`` as an AC state with origin "skynet" (off keeps the current settings)."""
        if not self.power[i]:
            if current is None:
                return ApplianceState(device_id, now, power=False, origin="skynet")
            return ApplianceState(
                device_id, now, False, current.mode, current.set_temperature, current.fan, "skynet"
            )
        return ApplianceState(device_id, now, True, Mode(int(self.mode[i])).label,
                              float(self.set_temperature[i]), Fan(int(self.fan[i])).label, "skynet")  # fmt: skip

    def describe(self, i: int) -> str:
        """Row ``i`` in a few words: ``off`` or ``cool 26 °C fan auto``."""
        if not self.power[i]:
            return "off"
        mode, fan = Mode(int(self.mode[i])), Fan(int(self.fan[i])).label
        if mode is Mode.FAN:
            return f"fan only, fan {fan}"
        return f"{mode.label} {self.set_temperature[i]:g} °C fan {fan}"


def candidates(
    appliance: Appliance,
    config: ControlConfig,
    current: ApplianceState | None,
    temperature: float,
    band: tuple[float, float],
    people: bool = True,
    fans: tuple[str, ...] | None = None,
) -> Candidates:
    """The candidate commands for a room at ``temperature`` °C under a target ``band`` (°C).

    ``people=False`` (an empty home or the away target: only a band to keep) leaves out the
    modes that only serve people: dry and fan-only. ``fans``: the fan speeds to offer (default:
    the configured ones), always within the appliance's.
    """
    low, high = allowed_set_range(appliance, config)
    step = config.set_temperature_step
    grid = np.arange(math.ceil(low / step - 1e-9) * step, high + 1e-9, step)
    modes = [Mode.of(m) for m in config.modes if m in appliance.modes]
    fans = [int(Fan.of(f)) for f in config.fans if f in appliance.fans and (fans is None or f in fans)] or [
        int(Fan.AUTO)
    ]
    cur_mode = int(Mode.of(current.mode)) if current is not None and current.mode else 0
    cur_set = current.set_temperature if current is not None and current.set_temperature is not None else None
    mid = float(np.clip(cur_set if cur_set is not None else 0.5 * (low + high), low, high))
    cur_fan = int(Fan.of(current.fan)) if current is not None and current.fan else 0
    rows: list[tuple[float, float, float, float]] = [(0.0, cur_mode, mid, cur_fan)]
    for mode in modes:
        code = int(mode)
        if mode is Mode.HEAT and temperature >= band[0] + 2.0:
            continue
        if mode in (Mode.COOL, Mode.DRY, Mode.AUTO) and temperature <= band[0] - 2.0:
            continue
        if mode in (Mode.DRY, Mode.FAN) and not people:
            continue
        if mode is Mode.FAN:
            rows += [(1.0, code, mid, fan) for fan in fans]
        elif mode is Mode.DRY:
            rows += [(1.0, code, t, int(Fan.AUTO)) for t in grid]
        else:
            rows += [(1.0, code, t, fan) for t in grid for fan in fans]
    array = np.array(rows, dtype=float)
    running = current is not None and current.power and current.mode is not None
    if running and not config.fan_alone:  # the fan changes only with the set point or the mode
        same = (array[:, 0] > 0.5) & (array[:, 1] == cur_mode)
        if Mode.of(current.mode) is not Mode.FAN:
            same &= np.abs(array[:, 2] - (cur_set if cur_set is not None else mid)) < 0.25
        array = array[~(same & (array[:, 3] != cur_fan))]
    if running:
        now = np.array([1.0, cur_mode, cur_set if cur_set is not None else mid, cur_fan])
        if not (np.abs(array - now) < 1e-6).all(axis=1).any():
            array = np.vstack([array, now])
    return Candidates.of_rows(array)
