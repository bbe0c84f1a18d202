"""An in-process decision log for ``memory://`` URLs: for tests and embedded demos.

Logs opened on the same URL in one process share their documents, like :mod:`skynet.storage.memory`.
Documents are kept as their JSON text, so callers can't change what is stored.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from skynet.storage.decisions._base import DecisionLog, Prepared, check_range, prepare_all, restore

__all__ = ["MemoryDecisionLog"]

_SHARED: dict[str, dict[str, Prepared]] = {}
_LOCK = threading.Lock()


class MemoryDecisionLog(DecisionLog):
    """A decision log kept in this process's memory (nothing survives the process).

    Args:
        url: ``memory://`` or ``memory://<name>``; logs with the same URL share documents.
    """

    name = "decisions[memory]"

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        with _LOCK:
            self._docs = _SHARED.setdefault(url, {})

    def __repr__(self) -> str:
        return f"MemoryDecisionLog({self.url!r})"

    def append(self, docs: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> int:
        added = 0
        prepared = prepare_all(docs)
        with _LOCK:
            for item in prepared:
                if item.decision_id not in self._docs:
                    self._docs[item.decision_id] = item
                    added += 1
        return added

    def read(
        self,
        device_id: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[dict[str, Any]]:
        lo, hi = check_range(start, end, limit)
        with _LOCK:
            items = list(self._docs.values())
        chosen = sorted(
            (
                item
                for item in items
                if (device_id is None or item.device_id == device_id)
                and (lo is None or item.time >= lo)
                and (hi is None or item.time < hi)
            ),
            key=lambda item: (item.time, item.decision_id),
            reverse=newest_first,
        )
        return [restore(item.text, item.time) for item in chosen[:limit]]

    def count(self, device_id: str | None = None) -> int:
        with _LOCK:
            if device_id is None:
                return len(self._docs)
            return sum(1 for item in self._docs.values() if item.device_id == device_id)

    def describe(self) -> dict[str, Any]:
        return {"adapter": self.name, "url": self.url, "count": self.count()}
