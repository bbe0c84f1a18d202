"""Application functions for data: importing data sets, checking what arrived, building model-ready frames.

These are the only places that read records for the user comfort model: the api modules of
models call :func:`load_comfort_frame`, :func:`latest_context` and :func:`device_history`.
:func:`collect_report` is the nightly DAGs' first step: did the interval's data arrive?
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from skynet.api._context import open_records, records_url
from skynet.config import Settings, masked
from skynet.domain import Device, Feedback, Record, SensorReading, User, Weather
from skynet.errors import DataError

__all__ = [
    "import_ashrae",
    "load_comfort_frame",
    "latest_context",
    "device_history",
    "collect_report",
    "TIMED_KINDS",
]


def import_ashrae(
    settings: Settings, measurements: str | Path, metadata: str | Path, progress: bool = True
) -> dict[str, Any]:
    """Import the ASHRAE Global Thermal Comfort Database II into the record store.

    Validates every row (impossible values are counted and skipped, never stored) and writes
    devices, users, sensor readings, weather and feedback, in one transaction on SQL stores.
    Idempotent: every key comes from the record itself (DB II's ``record_id``), so importing
    the same files again adds nothing, and importing a corrected file after a faulty one
    leaves the store as a fresh import of the corrected file would. On a store without
    transactions (Cassandra), an import that was cut short is completed by running it again.

    Args:
        settings: the effective configuration (``storage.url`` names the store).
        measurements: path of ``db_measurements_v2.1.0.csv.gz``.
        metadata: path of ``db_metadata.csv``.
        progress: show a progress bar on stderr.

    Returns:
        ``rows_read``, ``skipped`` (reason → count), ``added`` (kind → new records),
        ``seconds`` and the masked store URL.

    Raises:
        DataError: a file is missing or is not DB II.
        StorageError: the store failed.
    """
    from tqdm import tqdm

    from skynet.data import read_ashrae

    started = time.perf_counter()
    data = read_ashrae(measurements, metadata)
    parts: list[tuple[type[Record], pd.DataFrame]] = [
        (Device, data.devices),
        (User, data.users),
        (Weather, data.weather),
        (SensorReading, data.readings),
        (Feedback, data.feedback),
    ]
    total = sum(len(frame) for _, frame in parts)
    with (
        open_records(settings) as store,
        tqdm(total=total, unit="rec", desc="import ashrae-db2", disable=not progress, leave=False) as bar,
    ):
        added = {kind.kind: 0 for kind, _ in parts} | store.write_frames(parts, progress=bar.update)
    return {
        "source": str(measurements),
        "store": masked(records_url(settings)),
        "rows_read": data.rows_read,
        "votes_imported": len(data.feedback),
        "skipped": dict(data.skipped),
        "added": added,
        "seconds": round(time.perf_counter() - started, 2),
    }


def load_comfort_frame(
    settings: Settings,
    device_ids: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> pd.DataFrame:
    """The comfort frame (one row per vote with its context) from the record store.

    Args:
        settings: the effective configuration.
        device_ids: only these devices (default all).
        start, end: only votes with ``start <= timestamp < end``.

    Returns:
        A frame with :data:`skynet.data.COMFORT_COLUMNS`.

    Raises:
        DataError: the store holds no feedback in that selection.
    """
    from skynet.data import comfort_frame

    with open_records(settings) as store:
        feedback = store.read_frame(Feedback, device_ids, start, end)
        if feedback.empty:
            where = f" for {', '.join(device_ids)}" if device_ids else ""
            raise DataError(
                f"no feedback in the store{where} (import some: skynet data import ashrae-db2 ...)"
            )
        # Context may precede the first vote: widen the reads by the join tolerances.
        lo = None if start is None else start - pd.Timedelta("36h")
        readings = store.read_frame(SensorReading, device_ids, lo, end)
        weather = store.read_frame(Weather, device_ids, lo, end)
        devices = store.read_frame(Device, device_ids)
    return comfort_frame(feedback, readings, weather, devices)


def latest_context(settings: Settings, device_id: str, at: datetime | None = None) -> pd.DataFrame:
    """A one-row comfort frame (no vote) of a device's latest readings and weather.

    Raises:
        DataError: the device is unknown or has no sensor reading.
    """
    from skynet.data import context_frame

    with open_records(settings) as store:
        reading = store.latest(SensorReading, device_id)
        if reading is None:
            known = store.read(Device, device_id)
            what = "has no sensor readings" if known else "is not in the store"
            raise DataError(f"device {device_id!r} {what}")
        when = at or reading.timestamp
        readings = store.read_frame(
            SensorReading, [device_id], when - pd.Timedelta("1h"), when + pd.Timedelta("1us")
        )
        weather = store.read_frame(
            Weather, [device_id], when - pd.Timedelta("36h"), when + pd.Timedelta("1us")
        )
        devices = store.read_frame(Device, [device_id])
        last = store.latest(Feedback, device_id)
    moment = pd.DataFrame({"device_id": [device_id], "timestamp": [pd.Timestamp(when)]})
    if last is not None:  # what the user last said they wore / did is the best guess for now
        moment["clothing"] = last.clothing
        moment["metabolic_rate"] = last.metabolic_rate
    return context_frame(moment, readings, weather, devices, reading_tolerance=pd.Timedelta("1h"))


def device_history(settings: Settings, device_id: str, end: datetime | None = None) -> pd.DataFrame:
    """A device's votes with their context (for personalizing a prediction); may be empty."""
    try:
        return load_comfort_frame(settings, [device_id], None, end)
    except DataError:
        from skynet.data import COMFORT_COLUMNS

        return pd.DataFrame(columns=COMFORT_COLUMNS)


def newest_records(settings: Settings, kind: str, device_id: str | None, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` records of a kind (optionally one device's), as dicts."""
    from dataclasses import asdict

    from skynet.domain import RECORD_KINDS

    with open_records(settings) as store:
        records = store.read(RECORD_KINDS[kind], device_id, limit=limit, newest_first=True)
    return [asdict(r) for r in records]


#: The record kinds that arrive over time (what ``data collect`` can check).
TIMED_KINDS = ("sensor_reading", "weather", "feedback", "appliance_state", "control_target")


def collect_report(
    settings: Settings,
    start: datetime,
    end: datetime,
    kinds: Sequence[str] = ("sensor_reading",),
    *,
    min_devices: int = 1,
    max_gap: dict[str, float] | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """What arrived in the store for ``start <= t < end``, per kind, checked.

    Each kind must have records from at least ``min_devices`` devices, and no stretch of the
    interval longer than its ``max_gap`` (minutes) without any record of the kind (from any
    device; the interval's edges count), which is what an ingestion outage leaves.

    Args:
        settings: the effective configuration.
        start, end: the interval (naive UTC).
        kinds: record kinds to check (:data:`TIMED_KINDS`).
        min_devices: the fewest devices each kind must have records from.
        max_gap: kind -> longest gap allowed, in minutes (kinds not in it: no gap check).
        progress: show a progress bar on stderr (one step per kind).

    Returns:
        ``start``, ``end``, ``store`` (masked URL) and ``kinds``: per kind its ``rows``,
        ``devices``, ``first``, ``last``, ``largest_gap_min`` with ``gap_from`` / ``gap_to``,
        and ``max_gap_min``.

    Raises:
        DataError: a kind is unknown, the interval is empty, or a check failed (one line
            naming every kind that failed and why).
        StorageError: the store failed.
    """
    from tqdm import tqdm

    from skynet.domain import RECORD_KINDS

    unknown = [k for k in [*kinds, *(max_gap or {})] if k not in TIMED_KINDS]
    if unknown:
        raise DataError(f"collect: unknown kind {unknown[0]!r} (known: {', '.join(TIMED_KINDS)})")
    if end <= start:
        raise DataError(f"collect: the interval is empty ({start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M})")
    limits = max_gap or {}
    rows, problems = [], []
    with open_records(settings) as store:
        # (disable=None: a bar only where stderr is a terminal)
        for kind in tqdm(kinds, desc="collect", unit="kind", disable=None if progress else True, leave=False):
            frame = store.read_frame(RECORD_KINDS[kind], None, start, end)
            row = {"kind": kind, **_arrival(frame, start, end), "max_gap_min": limits.get(kind)}
            rows.append(row)
            problems += [f"{kind}: {why}" for why in _problems(row, min_devices)]
        url = store.describe()["url"]
    if problems:
        raise DataError(
            f"collect {start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} in {url}: {'; '.join(problems)}"
        )
    return {"start": start, "end": end, "store": url, "kinds": rows}


def _arrival(frame: pd.DataFrame, start: datetime, end: datetime) -> dict[str, Any]:
    """Rows, devices, first and last time, and the longest stretch without a record."""
    import numpy as np

    times = np.unique(frame["timestamp"].to_numpy(dtype="datetime64[us]"))
    edges = np.concatenate([[np.datetime64(start, "us")], times, [np.datetime64(end, "us")]])
    widest = int(np.argmax(np.diff(edges)))
    gap = (edges[widest + 1] - edges[widest]) / np.timedelta64(1, "m")
    return {
        "rows": len(frame),
        "devices": int(frame["device_id"].nunique()),
        "first": pd.Timestamp(times[0]).to_pydatetime() if len(times) else None,
        "last": pd.Timestamp(times[-1]).to_pydatetime() if len(times) else None,
        "largest_gap_min": round(float(gap), 1),
        "gap_from": pd.Timestamp(edges[widest]).to_pydatetime(),
        "gap_to": pd.Timestamp(edges[widest + 1]).to_pydatetime(),
    }


def _problems(row: dict[str, Any], min_devices: int) -> list[str]:
    if not row["rows"]:
        return ["no records"]
    out = []
    if row["devices"] < min_devices:
        out.append(f"records from {row['devices']} devices (at least {min_devices})")
    limit = row["max_gap_min"]
    if limit is not None and row["largest_gap_min"] > limit:
        out.append(f"no record for {row['largest_gap_min']:g} min, {row['gap_from']:%Y-%m-%d %H:%M} .. "
                   f"{row['gap_to']:%Y-%m-%d %H:%M} (at most {limit:g})")  # fmt: skip
    return out
