"""The arithmetic of the Cassandra adapter, apart from the driver: times, days and partitions.

A record's partition is ``(device_id, day)`` where ``day`` is its UTC day number
(``time_us // US_PER_DAY``, days since 1970-01-01). A write is cut into partitions (first
record of a key wins, as in every store); a read of ``start <= t < end`` asks only the days
that range covers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from skynet.storage._frames import naive_utc
from skynet.storage.cassandra._schema import US_PER_DAY

__all__ = ["Partition", "to_us", "day_range", "time_range", "partitions_of"]

_EPOCH = np.datetime64(0, "us")
#: Bounds for open ends: CQL bigint and the days of years 1 and 9999 (CQL's date goes further).
MIN_US, MAX_US = -(2**63), 2**63 - 1
MIN_DAY, MAX_DAY = -719_162, 2_932_896


def to_us(value: datetime) -> int:
    """A timestamp (naive UTC, aware, or pandas) as microseconds since 1970-01-01 UTC."""
    return int((np.datetime64(naive_utc(value), "us") - _EPOCH).astype("int64"))


def time_range(start: datetime | None, end: datetime | None) -> tuple[int, int]:
    """``[lo, hi)`` in microseconds; open ends become the widest bigint range."""
    return (MIN_US if start is None else to_us(start)), (MAX_US if end is None else to_us(end))


def day_range(start: datetime | None, end: datetime | None) -> tuple[int, int]:
    """The first and last day (inclusive) that ``start <= t < end`` can touch."""
    lo, hi = time_range(start, end)
    first = MIN_DAY if start is None else max(MIN_DAY, lo // US_PER_DAY)
    last = MAX_DAY if end is None else min(MAX_DAY, (hi - 1) // US_PER_DAY)
    return first, last


@dataclasses.dataclass
class Partition:
    """The rows of one write that fall in one partition."""

    device_id: str
    day: int
    times: np.ndarray  # int64 microseconds, ascending, unique
    rows: np.ndarray  # their positions in the written columns


def partitions_of(device_ids: Sequence[Any], timestamps: np.ndarray) -> list[Partition]:
    """Cut a write into partitions, in key order; a key written twice keeps its first row.

    Args:
        device_ids: one per row.
        timestamps: ``datetime64[us]``, one per row.
    """
    times = timestamps.astype("datetime64[us]").astype("int64")
    frame = pd.DataFrame({"device": pd.Series(device_ids, dtype=object), "time": times})
    frame = frame[~frame.duplicated(keep="first")]
    frame = frame.assign(day=frame["time"] // US_PER_DAY).sort_values(["device", "time"], kind="stable")
    out = []
    for (device, day), rows in frame.groupby(["device", "day"], sort=False):
        out.append(Partition(str(device), int(day), rows["time"].to_numpy(), rows.index.to_numpy()))
    return out
