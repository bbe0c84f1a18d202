"""Application functions for the simulator: generate simulated homes into the record store."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

from skynet.api._context import open_records
from skynet.config import Settings
from skynet.domain import ApplianceState, ControlTarget, Device, Feedback, SensorReading, User, Weather

__all__ = ["generate"]

#: Rows per write_frame call for the minute kinds (whole homes per frame).
_BATCH_ROWS = 250_000


def generate(
    settings: Settings,
    devices: int,
    days: float,
    seed: int = 0,
    climate: str = "temperate",
    start: datetime | None = None,
    weather_file: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Simulate AC-equipped homes and write their records into the record store.

    Devices, users, sensor readings (every minute), weather (every 30 minutes), appliance
    states, control targets and feedback. Deterministic for a seed; writing the same run
    again adds nothing (records are keyed by device and time; device ids carry the seed).

    Args:
        settings: the effective configuration (``storage.url`` names the store).
        devices: number of homes.
        days: simulated days.
        seed: seed of every random draw.
        climate: a preset of :data:`skynet.sim.CLIMATES` (ignored with ``weather_file``).
        start: first minute (naive UTC; default 2025-07-01).
        weather_file: an EPW weather file to use instead of the synthetic climate.
        progress: show progress bars on stderr.

    Returns:
        ``records`` (kind -> rows simulated), ``added`` (kind -> new in the store), the
        store URL, the run's parameters, mean AC energy per home and day, and timings.

    Raises:
        DataError: a bad argument, unknown climate or unreadable weather file.
        StorageError: the store failed.
    """
    from tqdm import tqdm

    from skynet.sim import simulate_fleet

    started = time.perf_counter()
    with tqdm(
        total=int(round(days * 1440)), unit="min", desc="simulate", disable=not progress, leave=False
    ) as bar:

        def advance(_stage: str, done: int, _total: int) -> None:
            bar.update(done - bar.n)

        result = simulate_fleet(devices, days, seed, climate=climate, start=start, weather_file=weather_file,
                                keep_truth=False, progress=advance)  # fmt: skip
    simulated = time.perf_counter()
    counts = result.counts()
    kinds = (Device, User, ControlTarget, ApplianceState, Feedback, Weather, SensorReading)
    added = {kind.kind: 0 for kind in kinds}
    with (
        open_records(settings) as store,
        tqdm(total=sum(counts.values()), unit="rec", desc="write", disable=not progress, leave=False) as bar,
    ):
        for kind in kinds:
            for frame in result.frames(kind, rows=_BATCH_ROWS):
                added[kind.kind] += store.write_frame(kind, frame)
                bar.update(len(frame))
        url = store.describe()["url"]
    finished = time.perf_counter()
    return {
        "store": url,
        "devices": devices,
        "days": days,
        "seed": seed,
        "climate": result.climate,
        "start": result.start.isoformat(sep=" "),
        "records": counts,
        "added": added,
        "ac_kwh_per_home_day": round(float(result.energy_kwh.mean()) / days, 2),
        "simulate_seconds": round(simulated - started, 2),
        "write_seconds": round(finished - simulated, 2),
        "seconds": round(finished - started, 2),
    }
