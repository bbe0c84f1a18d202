"""Application functions for the simulators: generate simulated homes into the record store.

Two engines: skynet's own fleet simulator (:func:`generate`) and EnergyPlus prototype
buildings whose zones are devices (:func:`generate_energyplus`, needs the ``energyplus`` extra).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from skynet.api._context import open_records
from skynet.config import Settings
from skynet.domain import ApplianceState, ControlTarget, Device, Feedback, SensorReading, User, Weather

__all__ = ["generate", "generate_energyplus", "energyplus_catalog"]

#: Rows per write_frame call for the minute kinds (readings: whole days; weather: whole homes).
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
    The sensor readings are stored by a background thread while the simulation runs (whole
    days of every home per write, each one transaction), the other kinds after it; an
    interrupted run keeps whole batches only, and running it again adds what is missing.

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
        store URL, the run's parameters, mean AC energy per home and day, and timings:
        ``simulate_seconds`` (the simulation, writes going on meanwhile), ``write_seconds``
        (time spent writing, mostly overlapping it) and ``seconds`` (all of it).

    Raises:
        DataError: a bad argument, unknown climate or unreadable weather file.
        StorageError: the store failed.
    """
    from tqdm import tqdm

    from skynet.sim import simulate_fleet

    started = time.perf_counter()
    minutes = int(round(days * 1440))
    with contextlib.ExitStack() as stack:
        sim_bar = stack.enter_context(
            tqdm(total=minutes, unit="min", desc="simulate", disable=not progress, leave=False, position=0)
        )
        write_bar = stack.enter_context(
            tqdm(
                total=devices * minutes,
                unit="rec",
                desc="write",
                disable=not progress,
                leave=False,
                position=1,
            )
        )
        writer = stack.enter_context(_Writer(settings, write_bar))

        def advance(_stage: str, done: int, _total: int) -> None:
            sim_bar.update(done - sim_bar.n)

        def store_readings(_first: int, _end: int, make_frame: Callable[[], Any]) -> None:
            writer.submit(SensorReading, make_frame)  # written while the simulation goes on

        result = simulate_fleet(devices, days, seed, climate=climate, start=start, weather_file=weather_file,
                                keep_truth=False, progress=advance, on_readings=store_readings,
                                readings_rows=_BATCH_ROWS)  # fmt: skip
        simulated = time.perf_counter()
        counts = result.counts()
        write_bar.total = sum(counts.values())
        write_bar.refresh()
        for kind in (Device, User, ControlTarget, ApplianceState, Feedback, Weather):
            for frame in result.frames(kind, rows=_BATCH_ROWS):
                writer.submit(kind, lambda frame=frame: frame)
        url = writer.finish()
    added = {kind: writer.added.get(kind, 0) for kind in counts}
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
        "write_seconds": round(writer.seconds, 2),
        "seconds": round(time.perf_counter() - started, 2),
    }


class _Writer:
    """Record frames written into the record store by one background thread, in submission order.

    The simulation goes on while its finished readings are stored: the store's drivers (SQLite
    through ADBC and ``sqlite3``, the server drivers' sockets) let the simulation's thread run
    while they work. The store opens with the first frame, so a run refused before its first
    day (a bad weather file) touches no store. A failed write stops the run at the next
    submission, and no write runs after it (nor after any other error). Each write is one
    transaction and writes are keyed, so an interrupted run leaves whole batches only and the
    same command run again adds what is missing.
    """

    def __init__(self, settings: Settings, bar: Any) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._settings, self._bar = settings, bar
        self._store: Any = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="skynet-sim-write")
        self._pending: list[Any] = []
        self._failed = False
        #: kind name -> new records stored; seconds the thread spent writing.
        self.added: dict[str, int] = {}
        self.seconds = 0.0

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        self._pool.shutdown(wait=True, cancel_futures=exc_type is not None)
        if self._store is not None:
            self._store.close()

    def submit(self, kind: type, make_frame: Callable[[], Any]) -> None:
        """Write ``make_frame()`` (built in the thread) as records of ``kind``."""
        self._raise_failed()
        if self._store is None:
            self._store = open_records(self._settings)
        self._pending.append(self._pool.submit(self._write, kind, make_frame))

    def finish(self) -> str:
        """Wait for every write; return the store's (masked) URL."""
        for future in self._pending:
            future.result()
        self._pending = []
        if self._store is None:
            self._store = open_records(self._settings)
        return self._store.describe()["url"]

    def _write(self, kind: Any, make_frame: Callable[[], Any]) -> None:
        if self._failed:  # nothing after a failed write: the store keeps a prefix of the run
            return
        started = time.perf_counter()
        try:
            frame = make_frame()
            self.added[kind.kind] = self.added.get(kind.kind, 0) + self._store.write_frame(kind, frame)
        except BaseException:
            self._failed = True
            raise
        self._bar.update(len(frame))
        self.seconds += time.perf_counter() - started

    def _raise_failed(self) -> None:
        running = []
        for future in self._pending:
            if not future.done():
                running.append(future)
            elif future.exception() is not None:
                raise future.exception()
        self._pending = running


def generate_energyplus(
    settings: Settings,
    building: str | Path = "apartment-midrise",
    weather: str | Path = "miami",
    start: date | datetime | None = None,
    end: date | datetime | None = None,
    days: float | None = None,
    seed: int = 0,
    timestep_minutes: int = 5,
    progress: bool = True,
) -> dict[str, Any]:
    """Run an EnergyPlus prototype building and write its zones' records into the record store.

    Each thermostat-controlled zone is a device ``eplus-<building>-<zone>`` driven by a seeded
    schedule of set points and off periods (see :func:`skynet.sim.energyplus.run_energyplus`).
    Writes devices, sensor readings and weather at every EnergyPlus timestep, and the applied
    appliance states. Idempotent: the same run again adds nothing.

    Args:
        settings: the effective configuration (``storage.url`` names the store).
        building: a prototype name (``skynet sim buildings``) or an IDF file.
        weather: a city (``skynet sim weather``) or an EPW file.
        start: first simulated day, local to the weather file (default 2025-07-01).
        end: first day not simulated; default ``start`` + ``days`` (whole days), else 3 days.
        days: simulated days when ``end`` is not given.
        seed: seed of the thermostat schedules.
        timestep_minutes: the EnergyPlus zone timestep.
        progress: show progress bars on stderr.

    Returns:
        ``records`` (kind -> rows simulated), ``added`` (kind -> new in the store), the store
        URL, the run's parameters, EnergyPlus warnings and timings.

    Raises:
        DataError: an unknown building or city, a bad file, dates or timestep.
        EnergyPlusError: the ``energyplus`` extra is missing or EnergyPlus failed.
        StorageError: the store failed.
    """
    from tqdm import tqdm

    from skynet.errors import DataError
    from skynet.sim.energyplus import DEFAULT_START, run_energyplus

    started = time.perf_counter()
    first = start or DEFAULT_START
    if end is None and days is not None:
        if days != int(days) or days < 1:
            raise DataError(
                f"EnergyPlus simulates whole days: days must be a whole number >= 1, got {days:g}"
            )
        end = (first.date() if isinstance(first, datetime) else first) + timedelta(days=int(days))
    with tqdm(unit="min", desc="energyplus: sizing, warm-up", disable=not progress, leave=False) as bar:

        def advance(_stage: str, done: int, total: int) -> None:
            bar.total, bar.desc = total, "energyplus"
            bar.update(done - bar.n)

        result = run_energyplus(building, weather, first, end, seed, timestep_minutes=timestep_minutes,
                                progress=advance)  # fmt: skip
    simulated = time.perf_counter()
    written = _write(settings, result, progress)
    return {
        "store": written["store"],
        "engine": "energyplus",
        "building": result.building,
        "weather": result.city,
        "zones": len(result.zones),
        "start": result.start.isoformat(sep=" "),
        "days": result.minutes / 1440,
        "timestep_minutes": result.timestep_minutes,
        "seed": seed,
        "records": written["records"],
        "added": written["added"],
        "energyplus_warnings": result.warnings,
        "simulate_seconds": round(simulated - started, 2),
        "write_seconds": written["write_seconds"],
        "seconds": round(time.perf_counter() - started, 2),
    }


def energyplus_catalog(what: str) -> list[dict[str, Any]]:
    """What the installed EnergyPlus package ships: ``"buildings"`` or ``"weather"`` (cities).

    Raises:
        EnergyPlusError: the ``energyplus`` extra is not installed.
    """
    from skynet.sim.energyplus import list_buildings, list_weather

    return list_buildings() if what == "buildings" else list_weather()


def _write(settings: Settings, result: Any, progress: bool) -> dict[str, Any]:
    """Write every record kind of a simulation result: ``store`` URL, ``records`` and ``added``
    per kind, ``write_seconds``."""
    from tqdm import tqdm

    started = time.perf_counter()
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
    return {
        "store": url,
        "records": counts,
        "added": added,
        "write_seconds": round(time.perf_counter() - started, 2),
    }
