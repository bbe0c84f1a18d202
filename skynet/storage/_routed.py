"""One record store made of two: time series in one backend, everything else in another.

``storage.timeseries_url`` puts sensor readings and weather (the bulk of the data) in a store
of their own, e.g. Cassandra, while devices, users, feedback, appliance states and control
targets stay in ``storage.url``. :class:`RoutedStore` presents both as one
:class:`~skynet.storage.RecordStore`, dispatching every call by record kind.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from skynet.domain import RECORD_KINDS, Record, SensorReading, Weather
from skynet.storage._base import R, RecordStore
from skynet.storage._frames import group_by_kind

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RoutedStore", "TIMESERIES_KINDS", "is_timeseries"]

#: The record kinds ``storage.timeseries_url`` holds.
TIMESERIES_KINDS: tuple[type[Record], ...] = (SensorReading, Weather)


def is_timeseries(kind: type[Record]) -> bool:
    """Whether a record kind goes to the time-series store."""
    return kind in TIMESERIES_KINDS


class RoutedStore(RecordStore):
    """Sensor readings and weather in ``timeseries``, every other kind in ``records``.

    A write of mixed kinds writes each store in turn; it is not atomic across the two.
    Closing the routed store closes both.

    Args:
        records: the store of devices, users, feedback, appliance states, control targets.
        timeseries: the store of sensor readings and weather.
    """

    def __init__(self, records: RecordStore, timeseries: RecordStore) -> None:
        self.records = records
        self.timeseries = timeseries
        self.name = f"{records.name}+{timeseries.name}"

    def __repr__(self) -> str:
        return f"RoutedStore({self.records!r}, {self.timeseries!r})"

    def _store(self, kind: type[Record]) -> RecordStore:
        return self.timeseries if is_timeseries(kind) else self.records

    def write(self, records: Iterable[Record]) -> int:
        groups = group_by_kind(records)  # checks every record before either store writes
        series = [r for kind, rows in groups.items() if is_timeseries(kind) for r in rows]
        others = [r for kind, rows in groups.items() if not is_timeseries(kind) for r in rows]
        added = self.records.write(others) if others else 0
        return added + (self.timeseries.write(series) if series else 0)

    def write_frame(self, kind: type[Record], frame: pd.DataFrame) -> int:
        return self._store(kind).write_frame(kind, frame)

    def read(
        self,
        kind: type[R],
        device_id: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[R]:
        return self._store(kind).read(kind, device_id, start, end, limit=limit, newest_first=newest_first)

    def read_frame(
        self,
        kind: type[Record],
        device_ids: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pd.DataFrame:
        return self._store(kind).read_frame(kind, device_ids, start, end)

    def latest(self, kind: type[R], device_id: str) -> R | None:
        return self._store(kind).latest(kind, device_id)

    def describe(self) -> dict[str, Any]:
        """The records store's description, counts of the time-series kinds from the other store,
        and both stores' own descriptions under ``stores``."""
        records, series = self.records.describe(), self.timeseries.describe()
        counts = {
            name: (series if is_timeseries(kind) else records)["counts"].get(name, 0)
            for name, kind in RECORD_KINDS.items()
        }
        return {
            **records,
            "adapter": self.name,
            "counts": counts,
            "timeseries_url": series["url"],
            "stores": {"records": records, "timeseries": series},
        }

    def close(self) -> None:
        try:
            self.timeseries.close()
        finally:
            self.records.close()
