"""What an EnergyPlus run produced: record frames for the store, and the ground truth.

The frames have exactly the columns of :func:`skynet.domain.field_names` of each record
kind, as :class:`skynet.sim.SimulationResult` gives them, so the same code writes both.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from skynet.domain import (
    ApplianceState,
    ControlTarget,
    Device,
    Feedback,
    Record,
    SensorReading,
    User,
    Weather,
)
from skynet.errors import DataError
from skynet.sim._result import _kind

__all__ = ["EnergyPlusResult", "TRUTH_COLUMNS"]

#: Ground-truth columns per zone and timestep (see :attr:`EnergyPlusResult.truth`).
TRUTH_COLUMNS = (
    "temperature", "humidity", "outdoor_temperature", "outdoor_humidity", "power", "mode",
    "set_temperature", "heating_setpoint", "cooling_setpoint", "cooling_w", "heating_w",
)  # fmt: skip


@dataclass
class EnergyPlusResult:
    """An EnergyPlus run's records (one device per thermostat-controlled zone) and ground truth.

    Attributes:
        building: the prototype's name (or the IDF file's stem).
        city: the weather file's city (or the EPW file's stem); ``weather_file`` its path.
        start: the start of the first timestep (naive UTC); ``steps`` timesteps of
            ``timestep_minutes`` follow.
        seed: the schedule's seed (None when a schedule was given).
        zones, device_ids: the controlled zones and their device ids, in the same order.
        devices, users, sensor_readings, weather, appliance_states, control_targets, feedback:
            record frames (users, control targets and feedback are empty: nobody lives in a
            prototype building, and the set points come from skynet itself).
        truth: per zone and timestep: ``device_id``, ``timestamp`` and :data:`TRUTH_COLUMNS`
            (unrounded values, set points actually applied, air-system heating and cooling).
        warnings: EnergyPlus warnings in ``eplusout.err``.
        seconds: wall time; ``engine_seconds`` of it in EnergyPlus.
    """

    building: str
    city: str
    weather_file: Path
    start: datetime
    steps: int
    timestep_minutes: int
    seed: int | None
    zones: list[str]
    device_ids: list[str]
    devices: pd.DataFrame
    users: pd.DataFrame
    sensor_readings: pd.DataFrame
    weather: pd.DataFrame
    appliance_states: pd.DataFrame
    control_targets: pd.DataFrame
    feedback: pd.DataFrame
    truth: pd.DataFrame
    warnings: int = 0
    seconds: float = 0.0
    engine_seconds: float = 0.0

    KINDS = (Device, User, SensorReading, Weather, ApplianceState, ControlTarget, Feedback)

    @property
    def minutes(self) -> int:
        """Simulated minutes."""
        return self.steps * self.timestep_minutes

    def counts(self) -> dict[str, int]:
        """Rows per record kind."""
        return {cls.kind: len(self.frame(cls)) for cls in self.KINDS}

    def frame(self, kind: type[Record] | str, device_ids: Sequence[str] | None = None) -> pd.DataFrame:
        """One record kind as a DataFrame (columns: the kind's fields), optionally some devices only."""
        cls = _kind(kind)
        frame = {Device: self.devices, User: self.users, SensorReading: self.sensor_readings,
                 Weather: self.weather, ApplianceState: self.appliance_states,
                 ControlTarget: self.control_targets, Feedback: self.feedback}[cls]  # fmt: skip
        if device_ids is None:
            return frame
        unknown = sorted(set(device_ids) - set(self.device_ids))
        if unknown:
            raise DataError(f"not a simulated device: {', '.join(unknown[:3])}")
        return frame[frame["device_id"].isin(set(device_ids))].reset_index(drop=True)

    def frames(self, kind: type[Record] | str, rows: int = 500_000) -> Iterator[pd.DataFrame]:
        """One kind in frames of about ``rows`` rows (whole devices each), for bulk writes."""
        cls = _kind(kind)
        if cls not in (SensorReading, Weather):
            yield self.frame(cls)
            return
        step = max(1, rows // max(self.steps, 1))
        for first in range(0, len(self.device_ids), step):
            yield self.frame(cls, self.device_ids[first : first + step])

    def truth_frame(self, device_ids: Sequence[str] | None = None) -> pd.DataFrame:
        """Ground truth per zone and timestep (see :attr:`truth`), optionally some devices only."""
        if device_ids is None:
            return self.truth
        return self.truth[self.truth["device_id"].isin(set(device_ids))].reset_index(drop=True)
