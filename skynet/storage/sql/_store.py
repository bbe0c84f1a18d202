"""The SQL record store: SQLite, MySQL/MariaDB and PostgreSQL through SQLAlchemy.

One engine per URL, shared by every store opened on it. Every operation runs inside a
connection context manager (a transaction for writes) and returns domain dataclasses or
frames, never ORM rows. The bulk paths (``write_frame``, ``read_frame``) use the DBAPI cursor
with per-dialect SQL: an insert that skips existing keys (``ON CONFLICT DO NOTHING`` on SQLite
and PostgreSQL, ``INSERT IGNORE`` on MySQL/MariaDB) and a keyed range read converted to
columns in bulk; on SQLite, big frames are written through a scratch file filled by ADBC in C
and copied with one ``INSERT ... SELECT`` (:mod:`skynet.storage.sql._arrow`). Driver errors
become one-line :class:`~skynet.errors.StorageError` naming ``sql[<dialect>]``.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from skynet.config import masked
from skynet.domain import RECORD_KINDS, Record, field_names
from skynet.errors import DataError, StorageError
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
from skynet.storage.sql import _arrow
from skynet.storage.sql._engine import _adapter, _engine, _guard
from skynet.storage.sql._migrate import head_revision, known_revisions, revision_of, upgrade_connection
from skynet.storage.sql._tables import table_of

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SqlStore", "upgrade", "current_revision", "ensure_schema"]

#: Rows per executemany call: bounds the memory of the parameter lists.
_BATCH = 20_000
#: The schema names of attached staged files (bulk SQLite writes): skynet_staged0, 1, ...
_STAGED = "skynet_staged"
#: Staged files one write attaches at most (SQLite attaches 10 databases by default); the
#: other big frames of that write go through the cursor.
_MAX_STAGED = 8


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic GC while fetching: the row tuples trigger full collections that cost more
    than the fetch itself, and they hold no cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def current_revision(url: str) -> str | None:
    """The schema revision of the database at ``url`` (None: no skynet schema yet).

    Raises:
        StorageError: the URL is wrong or the database cannot be reached.
    """
    engine = _engine(url)
    with _guard(engine, f"connecting to {masked(url)}"), engine.connect() as connection:
        return revision_of(connection)


def upgrade(url: str) -> str:
    """Bring the schema of the database at ``url`` to the newest revision; return it."""
    from alembic.util import CommandError

    engine = _engine(url)
    what = f"upgrading the schema of {masked(url)}"
    try:
        with _guard(engine, what), engine.begin() as connection:
            upgrade_connection(connection)
            return revision_of(connection) or head_revision()
    except CommandError as exc:  # e.g. the database is at a revision these scripts don't have
        raise StorageError(_adapter(engine), f"{what} failed: {exc}") from exc


def ensure_schema(url: str, auto_migrate: bool = True) -> None:
    """Make sure the database at ``url`` has skynet's newest schema (every SQL adapter opens with it).

    Args:
        url: the database.
        auto_migrate: upgrade a schema that is behind; without, that is an error.

    Raises:
        StorageError: the schema is behind (and ``auto_migrate`` is off), newer than this
            skynet knows, or the database cannot be reached.
    """
    current, head = current_revision(url), head_revision()
    if current == head:
        return
    name, where = _adapter(_engine(url)), masked(url)
    if current is not None and current not in known_revisions():
        newer = f"has schema revision {current}, newer than this skynet knows (head {head})"
        raise StorageError(name, f"{where} {newer}; upgrade skynet")
    if not auto_migrate:
        state = "has no skynet schema" if current is None else f"has schema revision {current}"
        raise StorageError(name, f"{where} {state}, skynet needs {head}: run `skynet db upgrade`")
    try:
        upgrade(url)
    except StorageError:
        # another process may be upgrading it right now (workers starting together): wait for it
        deadline = time.monotonic() + 15.0
        while current_revision(url) != head:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class SqlAdapter:
    """What the SQL adapters of the small stores (registry, experiments) do when opened: an
    engine for the URL, a schema at head, a masked repr and failures as :class:`StorageError`.

    Args:
        url: a SQLAlchemy URL, as for :class:`~skynet.storage.sql.SqlStore`.
        auto_migrate: upgrade a schema that is behind when opened (else that is an error).

    Raises:
        StorageError: the URL is wrong, the server cannot be reached, or the schema is not usable.
    """

    #: The store's kind, in its name (``registry[mysql]``).
    kind = "sql"

    def __init__(self, url: str, auto_migrate: bool = True) -> None:
        self.url = url
        self._engine = _engine(url)
        self.name = f"{self.kind}[{self._engine.dialect.name}]"
        ensure_schema(url, auto_migrate)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({masked(self.url)!r})"

    def _guard(self, what: str) -> Any:
        return _guard(self._engine, what)


@dataclass
class _Part:
    """One frame of a write: its checked columns, and the scratch file it was staged to (SQLite)."""

    kind: type[Record]
    columns: dict[str, Any]
    rows: int
    staged: str | None = None
    schema: str | None = None


def _datetimes(column: Sequence[Any]) -> np.ndarray:
    """Timestamps as fetched (datetimes, or SQLite's ISO strings) to ``datetime64[us]``, parsed in C."""
    return np.array(column, dtype="datetime64[us]")


class SqlStore(RecordStore):
    """A record store in a SQL database (SQLite, MySQL/MariaDB, PostgreSQL).

    Args:
        url: a SQLAlchemy URL, e.g. ``sqlite:///skynet.db``,
            ``postgresql+psycopg://user:pass@host/db``, ``mysql+pymysql://user:pass@host/db``
            (``mysql://`` and ``postgresql://`` use those drivers too).
        auto_migrate: upgrade the schema to the newest revision when it is behind; without,
            a schema that is behind is an error asking to run ``skynet db upgrade``.

    Raises:
        StorageError: the URL is wrong, the server cannot be reached, or the schema is not usable.
    """

    def __init__(self, url: str, auto_migrate: bool = True) -> None:
        self.url = url
        self._engine = _engine(url)
        self.dialect = self._engine.dialect.name
        self.name = _adapter(self._engine)
        dbapi = getattr(self._engine.dialect, "loaded_dbapi", None) or self._engine.dialect.dbapi
        self._marker = "?" if dbapi.paramstyle == "qmark" else "%s"
        self._quote = self._engine.dialect.identifier_preparer.quote
        # big SQLite frames are staged through ADBC (Arrow, in C) when the driver is installed
        self._stage_writes = self.dialect == "sqlite" and _arrow.available()
        self._ensure_schema(auto_migrate)

    def __repr__(self) -> str:
        return f"SqlStore({masked(self.url)!r})"

    # -- schema ---------------------------------------------------------------------------

    def _ensure_schema(self, auto_migrate: bool) -> None:
        ensure_schema(self.url, auto_migrate)

    def revision(self) -> str | None:
        """The database's schema revision."""
        return current_revision(self.url)

    # -- writes ---------------------------------------------------------------------------

    def write(self, records: Iterable[Record]) -> int:
        groups = group_by_kind(records)
        columns = {kind: records_columns(kind, rows) for kind, rows in groups.items()}
        for kind, cols in columns.items():
            self._check_lengths(kind, cols)
        with self._guard("writing records"), self._engine.begin() as connection:
            return sum(self._insert(connection.connection, kind, cols) for kind, cols in columns.items())

    def write_frame(self, kind: type[Record], frame: pd.DataFrame) -> int:
        return self.write_frames([(kind, frame)])[kind.kind]

    def write_frames(
        self,
        parts: Sequence[tuple[type[Record], pd.DataFrame]],
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, int]:
        """Store several kinds' frames in one transaction (all or nothing); new rows per kind.

        Every frame is converted and checked before the first row is sent. On SQLite, big
        frames are staged through Arrow in C and copied in the same transaction (falling back
        to the cursor when they can't be).
        """
        prepared: list[_Part] = []
        schemas = iter(f"{_STAGED}{i}" for i in range(_MAX_STAGED))
        try:
            for kind, frame in parts:
                prepared.append(self._prepare(kind, frame, schemas))
            added = {kind.kind: 0 for kind, _ in parts}
            staged = [part for part in prepared if part.staged is not None]
            with self._guard("writing records"), self._engine.connect() as connection:
                raw = connection.connection.dbapi_connection
                if not staged:
                    with connection.begin():
                        self._write_parts(connection.connection, prepared, added, progress)
                    return added
                for part in staged:  # ATTACH is refused inside a transaction
                    raw.execute(f"ATTACH DATABASE ? AS {part.schema}", (part.staged,))
                try:
                    with raw:  # one transaction: commits, or rolls back on any error
                        self._write_parts(raw, prepared, added, progress)
                finally:
                    for part in staged:
                        raw.execute(f"DETACH DATABASE {part.schema}")
            return added
        finally:
            for part in prepared:
                if part.staged is not None:
                    os.unlink(part.staged)

    def _prepare(self, kind: type[Record], frame: pd.DataFrame, schemas: Iterator[str]) -> _Part:
        """A frame's checked columns, staged to a scratch file when big (SQLite with ADBC) and a
        schema name to attach it under is left."""
        bulk = self._stage_writes and len(frame) >= _arrow.WRITE_ROWS
        columns = frame_columns(kind, frame, arrow_strings=bulk)
        self._check_lengths(kind, columns)
        part = _Part(kind, columns, len(frame))
        schema = next(schemas, None) if bulk else None
        if schema is not None:
            part.staged, part.schema = _arrow.stage_columns(fields_of(kind), columns), schema
        return part

    def _write_parts(
        self,
        dbapi_connection: Any,
        parts: list[_Part],
        added: dict[str, int],
        progress: Callable[[int], None] | None,
    ) -> None:
        names_of = {}
        for part in parts:
            if part.staged is None:
                added[part.kind.kind] += self._insert(dbapi_connection, part.kind, part.columns, progress)
                continue
            names = names_of.setdefault(
                part.kind, ", ".join(self._quote(spec.name) for spec in fields_of(part.kind))
            )
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(
                    f"INSERT INTO main.{self._quote(table_of(part.kind).name)} ({names}) SELECT {names} "
                    f"FROM {part.schema}.{self._quote(_arrow.STAGED_TABLE)} WHERE true ON CONFLICT DO NOTHING"
                )
                added[part.kind.kind] += max(cursor.rowcount, 0)
            finally:
                cursor.close()
            if progress is not None:
                progress(part.rows)

    def _insert(
        self,
        dbapi_connection: Any,
        kind: type[Record],
        columns: dict[str, Any],
        progress: Callable[[int], None] | None = None,
    ) -> int:
        table = table_of(kind)
        specs = fields_of(kind)
        values = [self._db_values(spec, columns[spec.name]) for spec in specs]
        names = ", ".join(self._quote(spec.name) for spec in specs)
        marks = ", ".join([self._marker] * len(specs))
        if self.dialect in ("mysql", "mariadb"):
            sql = f"INSERT IGNORE INTO {self._quote(table.name)} ({names}) VALUES ({marks})"
        else:
            sql = f"INSERT INTO {self._quote(table.name)} ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING"
        added = 0
        cursor = dbapi_connection.cursor()
        try:
            for lo in range(0, len(values[0]), _BATCH):
                batch = list(zip(*(v[lo : lo + _BATCH] for v in values), strict=True))
                cursor.executemany(sql, batch)
                added += max(cursor.rowcount, 0)
                if progress is not None:
                    progress(len(batch))
        finally:
            cursor.close()
        return added

    def _db_values(self, spec: Any, column: Any) -> list[Any]:
        if spec.type == "datetime" and self.dialect == "sqlite":
            # 'YYYY-MM-DD HH:MM:SS.ffffff', formatted by Arrow in C (as the ADBC write path does)
            import pyarrow as pa

            return pa.array(column, type=pa.timestamp("us")).cast(pa.string()).to_pylist()
        return python_values(spec, column)

    def _check_lengths(self, kind: type[Record], columns: dict[str, Any]) -> None:
        # MySQL's INSERT IGNORE would truncate and SQLite would keep anything: refuse here, alike.
        for column in table_of(kind).columns:
            limit = getattr(column.type, "length", None)
            if limit is None:
                continue
            values = columns[column.name]
            if hasattr(values, "to_pylist"):  # Arrow strings: measured in C, only the offenders listed
                import pyarrow.compute as pc

                longer = pc.greater(pc.utf8_length(values), limit)
                values = values.filter(longer).to_pylist() if pc.any(longer).as_py() else []
            too_long = [v for v in values if v is not None and len(v) > limit]
            if too_long:
                raise DataError(
                    f"{kind.kind}.{column.name} {too_long[0]!r} is longer than {limit} characters"
                )

    # -- reads ----------------------------------------------------------------------------

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
        ids = None if device_id is None else [device_id]
        columns = self._select(kind, ids, start, end, limit=limit, newest_first=newest_first)
        if columns is None:
            return []
        converted = [self._py_values(spec, columns[spec.name]) for spec in fields_of(kind)]
        names = field_names(kind)
        return [kind(**dict(zip(names, row, strict=True))) for row in zip(*converted, strict=True)]

    def read_frame(
        self,
        kind: type[Record],
        device_ids: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pd.DataFrame:
        if isinstance(device_ids, str):
            device_ids = [device_ids]
        with _no_gc():
            columns = self._select(kind, device_ids, start, end)
            if columns is None:
                return build_frame(kind)
            if device_ids is not None and len(set(device_ids)) == 1:  # one device: its id repeated in C
                import pyarrow as pa

                rows = len(columns["device_id"])
                columns["device_id"] = pa.repeat(pa.scalar(device_ids[0], pa.string()), rows)
            if kind.timed:
                columns["timestamp"] = _datetimes(columns["timestamp"])
            return build_frame(kind, columns)

    def _py_values(self, spec: Any, column: Sequence[Any]) -> Sequence[Any]:
        if spec.type == "datetime":
            return _datetimes(column).tolist()
        if spec.type == "bool":
            return [bool(v) for v in column]
        return column

    def _select(
        self,
        kind: type[Record],
        device_ids: Sequence[str] | None,
        start: datetime | None,
        end: datetime | None,
        *,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> dict[str, Sequence[Any]] | None:
        """The selected records as columns (field -> values, sorted by key), or None if there are none.

        Through the DBAPI cursor on every backend (on SQLite, ADBC must not open the store's file:
        see :mod:`skynet.storage.sql._arrow`).
        """
        q = self._quote
        ids = None if device_ids is None else list(dict.fromkeys(device_ids))
        if ids == []:
            return None
        # One device: its id is not fetched row by row (a third less to build on a month of data).
        constant = ids[0] if ids is not None and len(ids) == 1 else None
        names = [
            spec.name for spec in fields_of(kind) if not (constant is not None and spec.name == "device_id")
        ]
        where, params = [], []
        if ids is not None:
            where.append(f"{q('device_id')} IN ({', '.join([self._marker] * len(ids))})")
            params += ids
        for bound, op in ((start, ">="), (end, "<")):
            if bound is None:
                continue
            if not kind.timed:
                raise DataError(f"{kind.kind} records have no timestamp: start/end do not apply")
            where.append(f"{q('timestamp')} {op} {self._marker}")
            params.append(self._db_time(bound))
        order = ", ".join(f"{q(k)}{' DESC' if newest_first else ''}" for k in kind.key)
        sql = f"SELECT {', '.join(q(n) for n in names)} FROM {q(table_of(kind).name)}"
        sql += f" WHERE {' AND '.join(where)}" if where else ""
        sql += f" ORDER BY {order}"
        if limit is not None:
            if int(limit) < 0:
                raise DataError(f"limit must be >= 0, got {limit}")
            sql += f" LIMIT {int(limit)}"
        with self._guard(f"reading {kind.kind} records"), self._engine.connect() as connection:
            cursor = connection.connection.cursor()
            try:
                cursor.execute(sql, params)
                rows = cursor.fetchall()
            finally:
                cursor.close()
        if not rows:
            return None
        columns = dict(zip(names, zip(*rows, strict=True), strict=True))
        if constant is not None:
            columns["device_id"] = [constant] * len(rows)
        return columns

    def _db_time(self, value: datetime) -> Any:
        value = naive_utc(value)
        return value.isoformat(" ", "microseconds") if self.dialect == "sqlite" else value

    # -- the rest ---------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        q = self._quote
        with self._guard("counting records"), self._engine.connect() as connection:
            cursor = connection.connection.cursor()
            try:
                counts = {}
                for kind in RECORD_KINDS.values():
                    cursor.execute(f"SELECT COUNT(*) FROM {q(table_of(kind).name)}")
                    counts[kind.kind] = int(cursor.fetchone()[0])
            finally:
                cursor.close()
            revision = revision_of(connection)
        return {"adapter": self.name, "url": masked(self.url), "counts": counts, "schema_revision": revision}

    def _guard(self, what: str) -> Any:
        return _guard(self._engine, what)
