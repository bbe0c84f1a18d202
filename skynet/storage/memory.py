"""An in-process record store for ``memory://`` URLs: plain dicts, for tests and embedded demos.

Stores opened on the same URL in one process share their records (``memory://demo`` twice is
one store), the way a database name would; use distinct names for independent stores. Rows
are kept as tuples of plain values keyed by the record key, so callers can't mutate what is
stored through the records they wrote or read.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from skynet.domain import RECORD_KINDS, Record, field_names
from skynet.errors import DataError
from skynet.storage._base import R, RecordStore
from skynet.storage._frames import (
    build_frame,
    fields_of,
    frame_columns,
    group_by_kind,
    naive_utc,
    python_values,
    records_columns,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MemoryStore"]

_Tables = dict[str, dict[tuple[Any, ...], tuple[Any, ...]]]
_SHARED: dict[str, _Tables] = {}
_SHARED_LOCK = threading.Lock()


class MemoryStore(RecordStore):
    """A record store kept in this process's memory (nothing survives the process).

    Args:
        url: ``memory://`` or ``memory://<name>``; stores with the same URL share records.
    """

    name = "memory"

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        with _SHARED_LOCK:
            self._tables = _SHARED.setdefault(url, {kind: {} for kind in RECORD_KINDS})
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"MemoryStore({self.url!r})"

    def write(self, records: Iterable[Record]) -> int:
        groups = group_by_kind(records)
        prepared = [(kind, records_columns(kind, rows)) for kind, rows in groups.items()]
        return sum(self._insert(kind, columns) for kind, columns in prepared)

    def write_frame(self, kind: type[Record], frame: pd.DataFrame) -> int:
        return self._insert(kind, frame_columns(kind, frame))

    def _insert(self, kind: type[Record], columns: dict[str, Any]) -> int:
        specs = fields_of(kind)
        names = [spec.name for spec in specs]
        key_at = [names.index(k) for k in kind.key]
        rows = zip(*(python_values(spec, columns[spec.name]) for spec in specs), strict=True)
        added = 0
        with self._lock:
            table = self._tables[kind.kind]
            for row in rows:
                key = tuple(row[i] for i in key_at)
                if key not in table:
                    table[key] = row
                    added += 1
        return added

    def _rows(
        self,
        kind: type[Record],
        device_ids: Sequence[str] | None,
        start: datetime | None,
        end: datetime | None,
        newest_first: bool = False,
    ) -> list[tuple[Any, ...]]:
        if (start is not None or end is not None) and not kind.timed:
            raise DataError(f"{kind.kind} records have no timestamp: start/end do not apply")
        names = field_names(kind)
        dev, ts = names.index("device_id"), names.index("timestamp") if kind.timed else -1
        lo = None if start is None else naive_utc(start)
        hi = None if end is None else naive_utc(end)
        wanted = None if device_ids is None else set(device_ids)
        with self._lock:
            items = list(self._tables[kind.kind].items())
        rows = [
            row
            for _, row in sorted(items, key=lambda item: item[0], reverse=newest_first)
            if (wanted is None or row[dev] in wanted)
            and (lo is None or row[ts] >= lo)
            and (hi is None or row[ts] < hi)
        ]
        return rows

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
        if limit is not None and limit < 0:
            raise DataError(f"limit must be >= 0, got {limit}")
        rows = self._rows(kind, None if device_id is None else [device_id], start, end, newest_first)
        names = field_names(kind)
        return [kind(**dict(zip(names, row, strict=True))) for row in rows[:limit]]

    def read_frame(
        self,
        kind: type[Record],
        device_ids: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pd.DataFrame:
        if isinstance(device_ids, str):
            device_ids = [device_ids]
        rows = self._rows(kind, device_ids, start, end)
        if not rows:
            return build_frame(kind)
        return build_frame(kind, dict(zip(field_names(kind), zip(*rows, strict=True), strict=True)))

    def describe(self) -> dict[str, Any]:
        with self._lock:
            counts = {kind: len(table) for kind, table in self._tables.items()}
        return {"adapter": self.name, "url": self.url, "counts": counts, "schema_revision": None}
