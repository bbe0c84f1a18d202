"""Columnar reads of SQLite through the ADBC SQLite driver: rows go from SQLite to Arrow in C.

``read_frame`` on SQLite spends most of its time turning rows into Python objects (the
``sqlite3`` module builds a tuple and a float object per value, then pandas takes them apart
again). The ADBC driver (``adbc-driver-sqlite``) steps the statement in C and appends the
values straight into Arrow arrays, which become NumPy/pandas columns without a Python object
per value: a month of one device's minute readings reads about 2.5 times faster (see
``benchmarks/bench_storage.py``).

Only reads go this way, each on its own short-lived connection (about a millisecond; no state
shared between threads), opened as an SQLite URI in ``mode=rw`` so a missing file is an error
rather than a new empty database. The driver infers each column's type from the values of a
batch; one batch holds the whole result so a column whose first rows are NULL is still typed
from the rest. Anything that keeps this path from answering (driver not installed, an
in-memory database, a driver error) returns None and the caller reads through the DBAPI
cursor as before, which also reports real errors as :class:`~skynet.errors.StorageError`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cache
from typing import Any
from urllib.parse import quote

from skynet.storage._frames import Field

__all__ = ["available", "sqlite_uri", "fetch_columns", "repeat"]

log = logging.getLogger(__name__)

#: Rows per Arrow batch: the whole result, so type inference sees every value (the driver
#: allocates per row fetched, not per row allowed, and refuses values of 2**31 - 1 or more).
_BATCH_ROWS = str(2**30)


@cache
def available() -> bool:
    """Whether the ADBC SQLite driver is installed (checked once per process)."""
    try:
        import adbc_driver_sqlite.dbapi  # noqa: F401
    except ImportError:
        return False
    return True


def sqlite_uri(url: str) -> str | None:
    """The ``file:`` URI of the SQLite database file a store URL names, or None.

    None for in-memory databases (another connection would see another database) and for URLs
    with query options (they configure the SQLAlchemy connection, which this path can't mirror).
    """
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - the SQL store reports bad URLs itself
        return None
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or parsed.query or not database or database == ":memory:":
        return None
    from pathlib import Path

    return f"file:{quote(str(Path(database).resolve()))}?mode=rw"


def fetch_columns(
    uri: str, sql: str, params: Sequence[Any], fields: Sequence[Field]
) -> dict[str, Any] | None:
    """Run a query and return its columns converted to the frame dtypes, or None if it can't.

    Args:
        uri: from :func:`sqlite_uri`.
        sql: a SELECT of ``fields``' columns, in that order, with ``?`` placeholders.
        params: the placeholders' values.
        fields: what each selected column holds.

    Returns:
        Column name -> NumPy array (datetime64[us], float64, bool) or Arrow array (strings);
        an empty dict when the query selected no rows; None when this path could not run it.
    """
    import pyarrow as pa

    table = _fetch(uri, sql, params)
    if table is None:
        return None
    if table.num_rows == 0:
        return {}
    try:
        return {spec.name: _convert(table.column(i), spec) for i, spec in enumerate(fields)}
    except (pa.ArrowException, ValueError) as exc:  # e.g. a timestamp written in another format
        log.debug("ADBC columns not converted (%s); falling back to the DBAPI cursor", exc)
        return None


def _fetch(uri: str, sql: str, params: Sequence[Any]) -> Any:
    import adbc_driver_manager
    import adbc_driver_sqlite.dbapi
    import pyarrow as pa

    try:
        with (
            adbc_driver_sqlite.dbapi.connect(uri, autocommit=True) as connection,
            connection.cursor() as cursor,
        ):
            cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": _BATCH_ROWS})
            cursor.execute(sql, tuple(params))
            return cursor.fetch_arrow_table()
    except (adbc_driver_manager.Error, pa.ArrowException, OSError) as exc:
        log.debug("ADBC read failed (%s); falling back to the DBAPI cursor", exc)
        return None


def _convert(column: Any, spec: Field) -> Any:
    """An Arrow column as the frame wants it (SQLite hands timestamps as ISO text, bools as 0/1)."""
    import pyarrow as pa

    if spec.type == "str":
        # an all-NULL column comes typed int64: cast it; strings stay Arrow (pandas' str dtype)
        return column if pa.types.is_string(column.type) else column.cast(pa.string())
    if spec.type == "datetime":
        return column.cast(pa.timestamp("us")).to_numpy()
    if spec.type == "bool":
        return column.cast(pa.bool_()).to_numpy()
    return column.cast(pa.float64()).to_numpy()


def repeat(value: str, n: int) -> Any:
    """A string column of ``n`` times ``value`` (a device id not fetched row by row), built in C."""
    import pyarrow as pa

    return pa.repeat(pa.scalar(value, pa.string()), n)
