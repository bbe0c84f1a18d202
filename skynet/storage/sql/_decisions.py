"""The decision log in a SQL database: the ``decisions`` table of skynet's schema (revision 0002).

It shares the record store's engine and migrations: opening it brings the schema up to date
like :class:`~skynet.storage.sql.SqlStore`. Appends are one ``executemany`` that skips known
``decision_id`` values (``ON CONFLICT DO NOTHING``, ``INSERT IGNORE`` on MySQL/MariaDB).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from skynet.config import masked
from skynet.storage.decisions._base import DecisionLog, check_range, prepare_all, restore
from skynet.storage.sql._engine import _adapter, _engine, _guard
from skynet.storage.sql._store import _datetimes, ensure_schema

__all__ = ["SqlDecisionLog"]

_TABLE = "decisions"


class SqlDecisionLog(DecisionLog):
    """A decision log in a SQL database (SQLite, MySQL/MariaDB, PostgreSQL).

    Args:
        url: a SQLAlchemy URL, as for :class:`~skynet.storage.sql.SqlStore`.
        auto_migrate: upgrade a schema that is behind when opened (else that is an error).

    Raises:
        StorageError: the URL is wrong, the server cannot be reached, or the schema is not usable.
    """

    def __init__(self, url: str, auto_migrate: bool = True) -> None:
        self.url = url
        self._engine = _engine(url)
        self.dialect = self._engine.dialect.name
        self.name = "decisions[" + _adapter(self._engine) + "]"
        dbapi = getattr(self._engine.dialect, "loaded_dbapi", None) or self._engine.dialect.dbapi
        self._marker = "?" if dbapi.paramstyle == "qmark" else "%s"
        self._quote = self._engine.dialect.identifier_preparer.quote
        ensure_schema(url, auto_migrate)

    def __repr__(self) -> str:
        return f"SqlDecisionLog({masked(self.url)!r})"

    def _time(self, value: datetime) -> Any:
        return value.isoformat(" ", "microseconds") if self.dialect == "sqlite" else value

    def append(self, docs: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> int:
        prepared = prepare_all(docs)
        if not prepared:
            return 0
        q, m = self._quote, self._marker
        columns = ", ".join(q(c) for c in ("decision_id", "device_id", "time", "document"))
        verb = "INSERT IGNORE INTO" if self.dialect in ("mysql", "mariadb") else "INSERT INTO"
        sql = f"{verb} {q(_TABLE)} ({columns}) VALUES ({m}, {m}, {m}, {m})"
        if self.dialect not in ("mysql", "mariadb"):
            sql += " ON CONFLICT DO NOTHING"
        rows = [(p.decision_id, p.device_id, self._time(p.time), p.text) for p in prepared]
        with self._guard("appending decisions"), self._engine.begin() as connection:
            cursor = connection.connection.cursor()
            try:
                cursor.executemany(sql, rows)
                added = cursor.rowcount
            finally:
                cursor.close()
        if added is None or added < 0:  # a driver that doesn't count executemany rows
            return len(rows)
        return added

    def _where(
        self, device_id: str | None, start: datetime | None, end: datetime | None
    ) -> tuple[str, list[Any]]:
        q, m = self._quote, self._marker
        where, params = [], []
        if device_id is not None:
            where.append(f"{q('device_id')} = {m}")
            params.append(device_id)
        if start is not None:
            where.append(f"{q('time')} >= {m}")
            params.append(self._time(start))
        if end is not None:
            where.append(f"{q('time')} < {m}")
            params.append(self._time(end))
        return (f" WHERE {' AND '.join(where)}" if where else ""), params

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
        q = self._quote
        where, params = self._where(device_id, lo, hi)
        order = " DESC" if newest_first else ""
        sql = f"SELECT {q('time')}, {q('document')} FROM {q(_TABLE)}{where}"
        sql += f" ORDER BY {q('time')}{order}, {q('decision_id')}{order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._guard("reading decisions"), self._engine.connect() as connection:
            cursor = connection.connection.cursor()
            try:
                cursor.execute(sql, params)
                rows = cursor.fetchall()
            finally:
                cursor.close()
        if not rows:
            return []
        times = _datetimes([row[0] for row in rows]).tolist()
        return [restore(row[1], time) for row, time in zip(rows, times, strict=True)]

    def count(self, device_id: str | None = None) -> int:
        where, params = self._where(device_id, None, None)
        with self._guard("counting decisions"), self._engine.connect() as connection:
            cursor = connection.connection.cursor()
            try:
                cursor.execute(f"SELECT COUNT(*) FROM {self._quote(_TABLE)}{where}", params)
                return int(cursor.fetchone()[0])
            finally:
                cursor.close()

    def describe(self) -> dict[str, Any]:
        return {"adapter": self.name, "url": masked(self.url), "count": self.count()}

    def _guard(self, what: str) -> Any:
        return _guard(self._engine, what)
