"""Columnar reads and bulk writes of SQLite through the ADBC SQLite driver: rows go between
SQLite and Arrow in C.

``read_frame`` on SQLite spends most of its time turning rows into Python objects (the
``sqlite3`` module builds a tuple and a float object per value, then pandas takes them apart
again). The ADBC driver (``adbc-driver-sqlite``) steps the statement in C and appends the
values straight into Arrow arrays, which become NumPy/pandas columns without a Python object
per value: a month of one device's minute readings reads about 2.5 times faster (see
``benchmarks/bench_storage.py``).

Reads go this way, each on its own short-lived connection (about a millisecond; no state
shared between threads), opened as an SQLite URI in ``mode=ro``: a missing file is an error
rather than a new empty database, and, above all, a read-only connection never checkpoints.
The driver links its own copy of SQLite, and two copies in one process do not see each
other's locks (https://www.sqlite.org/howtocorrupt.html, 2.2): a read-write ADBC connection
closing took itself for the database's last user, checkpointed and deleted the WAL file
under the store's open ``sqlite3`` connections, whose later commits then went to the deleted
file, unseen by any other connection. Closing still drops the process's POSIX locks on the
file, so the ADBC copy never writes to a store's database. The driver infers each column's
type from the values of a batch; one batch holds the whole result so a column whose first rows
are NULL is still typed from the rest. Anything that keeps this path from answering (driver
not installed, an in-memory database, a driver error) returns None and the caller reads
through the DBAPI cursor as before, which also reports real errors as
:class:`~skynet.errors.StorageError`.

Big writes (``write_frame`` of at least :data:`WRITE_ROWS` rows) use ADBC only to build a
scratch SQLite file (:func:`stage_columns`): the normalized columns become one Arrow table,
ingested in C into a file of its own; the store then copies it into its database with its own
``sqlite3`` connection (``ATTACH`` and one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``,
one transaction: all of the frame or nothing). No Python object is made per value, which
halves the CPU of a bulk load (``benchmarks/bench_storage.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cache
from typing import Any
from urllib.parse import quote

from skynet.storage._frames import Field

__all__ = [
    "available",
    "sqlite_uri",
    "fetch_columns",
    "repeat",
    "stage_columns",
    "STAGED_TABLE",
    "WRITE_ROWS",
]

log = logging.getLogger(__name__)

#: Rows per Arrow batch: the whole result, so type inference sees every value (the driver
#: allocates per row fetched, not per row allowed, and refuses values of 2**31 - 1 or more).
_BATCH_ROWS = str(2**30)
#: Frames of at least this many rows are written through ADBC (a connection costs about a ms).
WRITE_ROWS = 2_000
#: The table of a staged file (:func:`stage_columns`).
STAGED_TABLE = "rows"


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

    return f"file:{quote(str(Path(database).resolve()))}?mode=ro"


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


def stage_columns(
    fields: Sequence[Field], columns: dict[str, Any], directory: str | None = None
) -> str | None:
    """Write normalized columns into table ``rows`` of a new SQLite file of their own, through ADBC.

    The store then copies them into its database with its own ``sqlite3`` connection
    (``ATTACH`` + ``INSERT ... SELECT``): ADBC's SQLite never opens the store's file for writing.

    Args:
        fields: the record kind's fields, in table order.
        columns: field name -> values as :func:`skynet.storage._frames.frame_columns` gives them
            (with ``arrow_strings``): ``datetime64[us]``, ``float64`` (NaN: missing), bool
            arrays and Arrow strings.
        directory: where the file goes (default: the system's temporary directory).

    Returns:
        The file's path (the caller deletes it); None when this path could not run.
    """
    import os
    import tempfile

    import adbc_driver_manager
    import adbc_driver_sqlite.dbapi
    import pyarrow as pa

    handle, path = tempfile.mkstemp(prefix="skynet-load-", suffix=".db", dir=directory)
    os.close(handle)
    try:
        data = pa.table(
            [_arrow_values(columns[spec.name], spec) for spec in fields], names=[spec.name for spec in fields]
        )
        uri = f"file:{quote(path)}?mode=rw"
        with (
            adbc_driver_sqlite.dbapi.connect(uri, autocommit=True) as connection,
            connection.cursor() as cursor,
        ):
            # a scratch file: no journal, no syncs (it is deleted after the copy, or on failure)
            for statement in ("PRAGMA journal_mode=OFF", "PRAGMA synchronous=OFF", "BEGIN"):
                cursor.execute(statement)
            cursor.adbc_ingest(STAGED_TABLE, data, mode="create")
            cursor.execute("COMMIT")
        return path
    except BaseException as exc:
        os.unlink(path)
        if isinstance(exc, adbc_driver_manager.Error | pa.ArrowException | OSError):
            log.debug("ADBC staging failed (%s); writing through the DBAPI cursor", exc)
            return None
        raise


def _arrow_values(column: Any, spec: Field) -> Any:
    """A normalized column as the Arrow array SQLite gets: timestamps as the text the cursor path
    writes (``YYYY-MM-DD HH:MM:SS.ffffff``), NaN as NULL, bools as 0/1."""
    import pyarrow as pa

    if spec.type == "datetime":
        return pa.array(column, type=pa.timestamp("us")).cast(pa.string())
    if spec.type == "float":
        return pa.array(column, type=pa.float64(), from_pandas=True)
    if spec.type == "bool":
        return pa.array(column, type=pa.bool_())
    return column if isinstance(column, pa.Array) else pa.array(column, type=pa.string())
