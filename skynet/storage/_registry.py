"""Pick a storage adapter from a URL's scheme.

Each builder imports its driver inside the function, so an unused backend costs nothing and
a missing driver is a clear error naming the extra to install.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from skynet.config import masked
from skynet.errors import StorageError
from skynet.storage._base import RecordStore

__all__ = ["open_store", "known_schemes", "register_scheme", "builder_for"]


def _sql(url: str, **options: object) -> RecordStore:
    from skynet.storage.sql import SqlStore

    return SqlStore(url, **options)  # type: ignore[arg-type]


def _memory(url: str, **options: object) -> RecordStore:
    from skynet.storage.memory import MemoryStore

    return MemoryStore(url)


def _cassandra(url: str, **options: object) -> RecordStore:
    from skynet.storage.cassandra import CassandraStore

    return CassandraStore(url, **options)  # type: ignore[arg-type]


_BUILDERS: dict[str, Callable[..., RecordStore]] = {
    "sqlite": _sql,
    "mysql": _sql,
    "mysql+pymysql": _sql,
    "mariadb+pymysql": _sql,
    "postgresql": _sql,
    "postgresql+psycopg": _sql,
    "memory": _memory,
    "cassandra": _cassandra,
}


def register_scheme(scheme: str, builder: Callable[..., RecordStore]) -> None:
    """Register (or replace) the builder of a URL scheme."""
    _BUILDERS[scheme] = builder


def known_schemes() -> list[str]:
    return sorted(_BUILDERS)


def builder_for(
    url: str, builders: dict[str, Callable[..., Any]], adapter: str = "storage"
) -> Callable[..., Any]:
    """The builder a URL's scheme picks from ``builders`` (shared by the record, decision and live stores).

    Raises:
        StorageError: the scheme is unknown; the message lists the known ones.
    """
    scheme = url.split("://", 1)[0] if "://" in url else ""
    builder = builders.get(scheme)
    if builder is None:
        raise StorageError(
            adapter, f"unknown URL scheme {scheme!r} in {masked(url)!r}; known: {', '.join(sorted(builders))}"
        )
    return builder


def open_store(url: str, **options: object) -> RecordStore:
    """Open the record store a URL names.

    Args:
        url: e.g. ``sqlite:///path.db``, ``postgresql+psycopg://u:p@host/db``, ``memory://``.
        **options: adapter options (e.g. ``auto_migrate`` for SQL).

    Raises:
        StorageError: the scheme is unknown (the message lists the known ones) or the
            backend cannot be reached.
    """
    return builder_for(url, _BUILDERS)(url, **options)
