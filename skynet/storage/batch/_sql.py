"""SQL: a query's rows in (paged), a table of results out (one transaction per chunk).

Both go through the record store's engine for the URL (SQLite in WAL mode, MySQL/MariaDB,
PostgreSQL), so a query on the store while results go into it does not lock either.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pandas as pd

from skynet.config import masked
from skynet.errors import DataError, StorageError, brief
from skynet.storage.batch._base import RESULT_KEYS, BatchInput, BatchOutput, Claim, ResultChunk, Source

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection, Engine

__all__ = ["SqlSource", "SqlInput", "SqlTableOutput", "TABLE_NAME"]

#: A table name skynet creates or writes to (plain, so it needs no quoting anywhere).
TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_SELECT = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)


def _engine(url: str) -> Engine:
    from skynet.storage.sql._store import _engine as engine_for

    return engine_for(url)


def _sql_errors() -> tuple[type[BaseException], ...]:
    from sqlalchemy.exc import SQLAlchemyError

    return (SQLAlchemyError,)


class SqlSource(Source):
    """The rows of a ``SELECT`` (or ``WITH ... SELECT``), read a page at a time.

    Pages are ``LIMIT``/``OFFSET`` over the query, so no read transaction stays open while
    results are written; give the query an ``ORDER BY`` so that a re-run numbers its rows the same.
    """

    def __init__(self, url: str, query: str) -> None:
        self.url = url
        self.query = query.strip().rstrip(";").strip()
        if not _SELECT.match(self.query):
            raise DataError(f"input query must be a SELECT (or WITH ... SELECT), got {brief(self.query, 80)}")
        digest = hashlib.sha256(self.query.encode()).hexdigest()[:12]
        shown = " ".join(self.query.split())
        self.key = f"sql:{shown}" if len(shown) <= 120 else f"sql:{shown[:100]}…{digest}"

    @property
    def adapter(self) -> str:  # type: ignore[override]
        return f"batch[sql:{self.url.split('://', 1)[0]}]"

    def __repr__(self) -> str:
        return f"SqlSource({masked(self.url)!r}, {brief(self.query, 60)})"

    def _run(self, sql: str, **params: Any) -> pd.DataFrame:
        from sqlalchemy import text

        with _engine(self.url).connect() as connection:
            return pd.read_sql(text(sql), connection, params=params)

    def _columns(self) -> list[str]:
        return [
            str(c) for c in self._run(f"SELECT * FROM ({self.query}) AS skynet_batch_input LIMIT 0").columns
        ]

    def _rows(self) -> int | None:
        counted = self._run(f"SELECT COUNT(*) AS n FROM ({self.query}) AS skynet_batch_input")
        return int(counted.iloc[0, 0])

    def _chunks(self, size: int) -> Iterator[pd.DataFrame]:
        page = f"SELECT * FROM ({self.query}) AS skynet_batch_input LIMIT :n OFFSET :k"
        offset = 0
        while True:
            frame = self._run(page, n=size, k=offset)
            if frame.empty:
                return
            yield frame
            offset += len(frame)
            if len(frame) < size:
                return

    def _driver_errors(self) -> tuple[type[BaseException], ...]:
        return _sql_errors()


class SqlInput(BatchInput):
    """One query on a SQL database (``sql:QUERY`` is a query on the store)."""

    def __init__(self, url: str, query: str) -> None:
        self.source = SqlSource(url, query)
        self.adapter = self.source.adapter  # type: ignore[misc]

    def _claims(self) -> Iterator[Claim]:
        yield Claim([self.source], label=self.source.key)


def _column_type(series: pd.Series) -> Any:
    from sqlalchemy import BigInteger, Boolean, DateTime, Float, Text

    kind = series.dtype.kind
    if kind == "b":
        return Boolean()
    if kind in "iu":
        return BigInteger()
    if kind == "f":
        return Float(precision=53)
    if kind == "M":
        return DateTime()
    return Text()


class SqlTableOutput(BatchOutput):
    """Results as rows of a table (created on the first write, with a unique key on
    ``(request_id, row_id)``). A chunk is one transaction that first deletes the chunk's
    row-id range of its request, then inserts its rows: a re-run replaces, never duplicates."""

    def __init__(self, url: str, table: str) -> None:
        if not TABLE_NAME.match(table or ""):
            raise DataError(f"{brief(table, 80)} is not a table name (letters, digits, '_'; at most 63)")
        self.url, self.table_name = url, table
        self._table: Table | None = None

    @property
    def adapter(self) -> str:  # type: ignore[override]
        return f"batch[sql:{self.url.split('://', 1)[0]}]"

    def describe(self) -> str:
        return f"table {self.table_name} in {masked(self.url)}"

    def _driver_errors(self) -> tuple[type[BaseException], ...]:
        return _sql_errors()

    def _check(self) -> None:
        from sqlalchemy import text

        with _engine(self.url).connect() as connection:
            connection.execute(text("SELECT 1"))

    def _write(self, chunk: ResultChunk) -> None:
        from sqlalchemy import delete, insert

        engine = _engine(self.url)
        table = self._table_for(engine, chunk.frame)
        frame = chunk.frame
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        first, end = chunk.row_ids
        with engine.begin() as connection:
            connection.execute(
                delete(table).where(
                    table.c.request_id == chunk.request_id, table.c.row_id >= first, table.c.row_id < end
                )
            )
            connection.execute(insert(table), records)

    def _table_for(self, engine: Engine, frame: pd.DataFrame) -> Table:
        """The results table: reflected if it exists (and checked), else created for ``frame``."""
        if self._table is None:
            with engine.connect() as connection:
                table = self._reflect(connection)
            if table is None:
                table = self._create(engine, frame)
            self._table = table
        missing = [str(c) for c in frame.columns if c not in self._table.c]
        if missing:
            raise StorageError(
                self.adapter,
                f"table {self.table_name} lacks the column(s) {', '.join(missing[:8])} of these results "
                "(it holds other results: name another table)",
            )
        return self._table

    def _reflect(self, connection: Connection) -> Table | None:
        from sqlalchemy import MetaData, Table, inspect

        if not inspect(connection).has_table(self.table_name):
            return None
        return Table(self.table_name, MetaData(), autoload_with=connection)

    def _create(self, engine: Engine, frame: pd.DataFrame) -> Table:
        from sqlalchemy import BigInteger, Column, MetaData, String, Table, Text, UniqueConstraint
        from sqlalchemy.exc import SQLAlchemyError

        keys: dict[str, Any] = {
            "request_id": String(128),
            "row_id": String(32),
            "source": Text(),
            "source_row": BigInteger(),
        }
        columns: list[Column[Any]] = [Column(name, kind, nullable=False) for name, kind in keys.items()]
        columns += [Column(str(c), _column_type(frame[c])) for c in frame.columns if c not in RESULT_KEYS]
        unique = UniqueConstraint("request_id", "row_id", name=f"uq_{self.table_name}"[:63])
        table = Table(self.table_name, MetaData(), *columns, unique)
        try:
            with engine.begin() as connection:
                table.create(connection, checkfirst=True)
        except SQLAlchemyError:
            # another worker created it between our look and our CREATE: use theirs
            with engine.connect() as connection:
                theirs = self._reflect(connection)
            if theirs is None:
                raise
            return theirs
        return table
