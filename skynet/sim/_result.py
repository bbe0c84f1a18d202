"""What a simulation run produced: record frames for the store, and the ground truth.

Minute arrays are kept as (minutes, homes) numpy arrays and turned into long DataFrames on
demand (whole, or a few homes at a time for bulk writes), with exactly the columns of
:func:`skynet.domain.field_names` of each record kind.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from skynet.domain import (
    AC_MODES,
    FAN_SPEEDS,
    TARGET_MODES,
    ApplianceState,
    ControlTarget,
    Device,
    Feedback,
    Record,
    SensorReading,
    User,
    Weather,
    field_names,
)
from skynet.errors import DataError

__all__ = ["SimulationResult", "TRUTH_COLUMNS", "minute_frame"]

#: Decimals of the stored minute values (sensor resolutions; kept as float32 in memory).
_DECIMALS = {"temperature": 1, "humidity": 1, "luminosity": 0, "running_mean_temperature": 1}

#: Ground-truth minute series kept per home (see :meth:`SimulationResult.truth_frame`).
TRUTH_COLUMNS = (
    "temperature", "humidity", "mass_temperature", "outdoor_temperature", "outdoor_humidity", "occupants",
    "awake", "pmv", "sensation", "power", "mode", "set_temperature", "fan", "compressor", "power_w", "heat_w",
    "latent_w",
)  # fmt: skip


@dataclass
class SimulationResult:
    """A simulated fleet's records and ground truth.

    Attributes:
        start: the first minute (naive UTC).
        minutes: minutes simulated.
        seed, climate: how it was made.
        device_ids: the homes, in order.
        devices, users, appliance_states, control_targets, feedback: record frames.
        params: ground truth per home (room, AC unit, household parameters).
        energy_kwh: electric energy of each home's AC over the run.
        seconds: wall time of the simulation.
    """

    start: datetime
    minutes: int
    seed: int
    climate: str
    device_ids: list[str]
    devices: pd.DataFrame
    users: pd.DataFrame
    appliance_states: pd.DataFrame
    control_targets: pd.DataFrame
    feedback: pd.DataFrame
    params: pd.DataFrame
    energy_kwh: np.ndarray
    sensors: dict[str, np.ndarray]  # temperature, humidity, luminosity: (minutes, homes), NaN = lost
    weather_minutes: np.ndarray  # the minutes with a weather record
    weather_values: dict[str, np.ndarray]  # temperature, humidity, running_mean_temperature
    truth: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0

    KINDS = (Device, User, SensorReading, Weather, ApplianceState, ControlTarget, Feedback)

    def counts(self) -> dict[str, int]:
        """Rows per record kind."""
        lost = int(np.isnan(self.sensors["temperature"]).sum())
        return {
            "device": len(self.devices),
            "user": len(self.users),
            "sensor_reading": self.sensors["temperature"].size - lost,
            "weather": self.weather_values["temperature"].size,
            "appliance_state": len(self.appliance_states),
            "control_target": len(self.control_targets),
            "feedback": len(self.feedback),
        }

    def frame(self, kind: type[Record] | str, device_ids: Sequence[str] | None = None) -> pd.DataFrame:
        """One record kind as a DataFrame (columns: the kind's fields), optionally some homes only."""
        cls = _kind(kind)
        cols = self._columns(device_ids)
        if cls is SensorReading:
            return self._minute_frame(
                cols, np.arange(self.minutes), self.sensors, SensorReading, drop_lost=True
            )
        if cls is Weather:
            return self._minute_frame(cols, self.weather_minutes, self.weather_values, Weather)
        frame = {Device: self.devices, User: self.users, ApplianceState: self.appliance_states,
                 ControlTarget: self.control_targets, Feedback: self.feedback}[cls]  # fmt: skip
        if device_ids is None:
            return frame
        return frame[frame["device_id"].isin(set(device_ids))].reset_index(drop=True)

    def frames(self, kind: type[Record] | str, rows: int = 500_000) -> Iterator[pd.DataFrame]:
        """One kind in frames of about ``rows`` rows (whole homes each), for bulk writes."""
        cls = _kind(kind)
        per_home = {SensorReading: self.minutes, Weather: len(self.weather_minutes)}.get(cls)
        if per_home is None:
            yield self.frame(cls)
            return
        step = max(1, rows // max(per_home, 1))
        for first in range(0, len(self.device_ids), step):
            yield self.frame(cls, self.device_ids[first : first + step])

    def truth_frame(self, device_ids: Sequence[str] | None = None) -> pd.DataFrame:
        """Ground truth per home and minute: ``device_id``, ``timestamp`` and :data:`TRUTH_COLUMNS`.

        Raises:
            DataError: the run was made with ``keep_truth=False``.
        """
        if not self.truth:
            raise DataError("this simulation kept no ground truth (run it with keep_truth=True)")
        cols = self._columns(device_ids)
        return self._minute_frame(cols, np.arange(self.minutes), self.truth, None)

    def _columns(self, device_ids: Sequence[str] | None) -> np.ndarray:
        if device_ids is None:
            return np.arange(len(self.device_ids))
        index = {d: i for i, d in enumerate(self.device_ids)}
        unknown = [d for d in device_ids if d not in index]
        if unknown:
            raise DataError(f"not a simulated device: {', '.join(unknown[:3])}")
        return np.array([index[d] for d in device_ids], dtype=int)

    def _minute_frame(self, cols: np.ndarray, minutes: np.ndarray, values: dict[str, np.ndarray],
                      cls: type[Record] | None, drop_lost: bool = False) -> pd.DataFrame:  # fmt: skip
        return minute_frame(self.start, self.device_ids, cols, minutes, values, cls, drop_lost)


def minute_frame(start: datetime, device_ids: Sequence[str], cols: np.ndarray, minutes: np.ndarray,
                 values: dict[str, np.ndarray], cls: type[Record] | None, drop_lost: bool = False) -> pd.DataFrame:  # fmt: skip
    """A long frame (home by home, minute by minute) of (minutes, homes) arrays.

    Args:
        start: the run's first minute.
        device_ids: every home of the run; ``cols`` picks some (indexes).
        minutes: the run's minutes the rows of ``values`` hold.
        values: column name -> (len(minutes), homes) array.
        cls: the record kind (rounds values to the sensors' resolution, adds its missing fields
            as None and orders the columns), or None for the raw arrays (ground truth).
        drop_lost: leave out rows whose temperature is NaN (lost readings).
    """
    import pyarrow as pa

    stamps = pd.Timestamp(start) + pd.to_timedelta(minutes, unit="min")
    n = len(minutes)
    # the ids repeated in C, as the Arrow-backed str column pandas makes of them anyway
    ids = pa.array(list(device_ids), type=pa.large_string()).take(
        np.repeat(np.asarray(cols, dtype=np.int64), n)
    )
    data: dict[str, Any] = {
        "device_id": pd.Series(pd.array(ids, dtype="str"), copy=False),
        "timestamp": np.tile(stamps.to_numpy(dtype="datetime64[ns]"), len(cols)),
    }
    for name, array in values.items():
        column = array[:, cols].T.ravel()
        decimals = _DECIMALS.get(name) if cls is not None else None
        data[name] = column if decimals is None else np.round(column.astype(np.float64), decimals)
    frame = pd.DataFrame(data)
    if drop_lost:
        frame = frame[frame["temperature"].notna().to_numpy()].reset_index(drop=True)
    if cls is None:
        return frame
    for name in field_names(cls):
        if name not in frame:
            frame[name] = None
    return frame[field_names(cls)]


def _kind(kind: type[Record] | str) -> type[Record]:
    from skynet.domain import RECORD_KINDS

    if isinstance(kind, str):
        if kind not in RECORD_KINDS:
            raise DataError(f"unknown record kind {kind!r}; known: {', '.join(RECORD_KINDS)}")
        return RECORD_KINDS[kind]
    return kind


def event_frames(fleet: Any) -> dict[str, pd.DataFrame]:
    """The fleet's events (appliance states, control targets, feedback) as record frames."""
    start, ids = pd.Timestamp(fleet.start), np.array(fleet.device_ids, dtype=object)

    def base(events: list[tuple]) -> tuple[np.ndarray, dict[str, Any]]:
        minutes = np.array([e[0] for e in events], dtype=np.int64)
        homes = np.array([e[1] for e in events], dtype=np.int64)
        return homes, {"device_id": ids[homes], "timestamp": start + pd.to_timedelta(minutes, unit="min")}

    ev = fleet.appliance_events
    _, data = base(ev)
    appliance = pd.DataFrame({
        **data, "power": np.array([e[2] for e in ev], dtype=bool),
        "mode": np.array(AC_MODES, dtype=object)[np.array([e[3] for e in ev], dtype=np.int64)],
        "set_temperature": np.array([e[4] for e in ev], dtype=float),
        "fan": np.array(FAN_SPEEDS, dtype=object)[np.array([e[5] for e in ev], dtype=np.int64)],
        "origin": np.array([e[6] for e in ev], dtype=object),
    })  # fmt: skip
    ev = fleet.target_events
    _, data = base(ev)
    targets = pd.DataFrame({
        **data, "mode": np.array(TARGET_MODES, dtype=object)[np.array([e[2] for e in ev], dtype=np.int64)],
        "value": np.array([np.nan if e[3] is None else e[3] for e in ev], dtype=float),
        "origin": np.full(len(ev), "user", dtype=object),
    })  # fmt: skip
    ev = fleet.feedback_events
    homes, data = base(ev)
    feedback = pd.DataFrame({
        **data, "value": np.array([e[3] for e in ev], dtype=float),
        "user_id": np.array([f"{ids[h]}-u{e[2]}" for h, e in zip(homes, ev, strict=True)], dtype=object),
        "clothing": np.round(np.array([e[4] for e in ev], dtype=float), 2),
        "metabolic_rate": np.round(np.array([e[5] for e in ev], dtype=float), 2),
    })  # fmt: skip
    return {
        "appliance_state": appliance[field_names(ApplianceState)],
        "control_target": targets[field_names(ControlTarget)],
        "feedback": feedback[field_names(Feedback)],
    }
