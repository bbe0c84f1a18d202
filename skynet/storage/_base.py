"""The storage contract: what every record store adapter provides.

An adapter stores the domain records of :mod:`skynet.domain`. Writes are idempotent on each
record's key (writing a record again stores nothing new); reads return domain objects or,
for the bulk reads models make, a pandas DataFrame with one column per record field.

:data:`TIMEOUTS` holds how long every adapter of a server (SQL, Redis, MongoDB, Cassandra)
waits before it fails: one place for the defaults, each overridable in the store's URL
under the driver's own name (see :class:`Timeouts`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from skynet.domain import Record

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RecordStore", "R", "Timeouts", "TIMEOUTS"]

R = TypeVar("R", bound=Record)


@dataclass(frozen=True)
class Timeouts:
    """How long a store waits on its server before failing with one line naming the adapter.

    A server that accepts the connection and then says nothing (a dead proxy, a wrong port)
    fails after about ``connect`` seconds (PyMySQL and redis-py wait for its greeting with
    their read timeout, ``read``), never hangs. In a URL, each driver's own option wins:

    ==========  ====================================================================
    MySQL       ``?connect_timeout=&read_timeout=&write_timeout=`` (PyMySQL, seconds)
    PostgreSQL  ``?connect_timeout=`` (seconds), ``?options=-c statement_timeout=`` (ms),
                ``?tcp_user_timeout=`` (ms), ``?keepalives_idle=`` ... (libpq)
    Redis       ``?socket_connect_timeout=&socket_timeout=`` (seconds)
    MongoDB     ``?connectTimeoutMS=&serverSelectionTimeoutMS=&socketTimeoutMS=``
    Cassandra   ``?connect_timeout=&request_timeout=`` (seconds)
    ==========  ====================================================================

    Attributes:
        connect: seconds to open a connection: TCP connect, the server's greeting,
            authentication (MongoDB: finding a server; Cassandra: the control connection).
        read: seconds to wait for the server's answer to one request, or to send one;
            a long answer that keeps streaming is fine (MySQL read/write, Redis socket,
            MongoDB socket, Cassandra request, PostgreSQL unacknowledged data).
        statement: seconds one SQL statement may run on PostgreSQL, enforced by the server
            (``statement_timeout``); long enough for big bulk reads and migrations.
    """

    connect: float = 10.0
    read: float = 10.0
    statement: float = 300.0


#: The defaults of every server adapter (see :class:`Timeouts`).
TIMEOUTS = Timeouts()


class RecordStore(ABC):
    """A store of domain records, chosen by URL (see :func:`skynet.storage.open_store`).

    Public methods raise :class:`~skynet.errors.StorageError` naming the adapter when the
    backend fails; they never leak driver exceptions.
    """

    #: Short adapter name used in error messages, e.g. ``"sql[postgresql]"``.
    name: str = "store"

    @abstractmethod
    def write(self, records: Iterable[Record]) -> int:
        """Store records of any kinds; return how many were new (existing keys are kept)."""

    @abstractmethod
    def write_frame(self, kind: type[Record], frame: pd.DataFrame) -> int:
        """Store a DataFrame of one kind's fields (bulk path); return how many were new."""

    def write_frames(
        self,
        parts: Sequence[tuple[type[Record], pd.DataFrame]],
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, int]:
        """Store several kinds' frames as one unit; return how many were new per kind.

        SQL stores write them in one transaction: all of them, or nothing. The others write
        them in order, each frame at once; as writes skip known keys, running the same
        write again after a failure completes it and stores exactly what one run would have.

        Args:
            parts: ``(kind, frame)`` pairs, written in that order (devices before their data).
            progress: called with the number of rows written after each step.
        """
        added: dict[str, int] = {}
        for kind, frame in parts:
            added[kind.kind] = added.get(kind.kind, 0) + self.write_frame(kind, frame)
            if progress is not None:
                progress(len(frame))
        return added

    @abstractmethod
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
        """Read records of one kind, optionally for one device and ``start <= t < end``."""

    @abstractmethod
    def read_frame(
        self,
        kind: type[Record],
        device_ids: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pd.DataFrame:
        """Read one kind as a DataFrame (columns: the kind's fields), sorted by key."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Return the adapter, its (password-masked) URL and the record count per kind."""

    def latest(self, kind: type[R], device_id: str) -> R | None:
        """Return the newest record of a kind for a device, or None."""
        rows = self.read(kind, device_id, limit=1, newest_first=True)
        return rows[0] if rows else None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> RecordStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
