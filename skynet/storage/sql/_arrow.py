"""Bulk writes of SQLite through the ADBC SQLite driver: a frame's rows go from Arrow to SQLite in C.

``write_frame`` on the DBAPI cursor spends most of its time making Python objects: a tuple
per row and a str or float per value, which ``sqlite3``'s ``executemany`` takes apart again.
Frames of at least :data:`WRITE_ROWS` rows go another way (:func:`stage_columns`): their
normalized columns become one Arrow table, ingested in C by the ADBC driver
(``adbc-driver-sqlite``) into a scratch SQLite file of their own; the store then copies it into
its database with its own ``sqlite3`` connection (``ATTACH`` and one ``INSERT ... SELECT ...
ON CONFLICT DO NOTHING``: one transaction, all of the frame or nothing, existing keys kept).
That is half the CPU of the cursor path (``benchmarks/bench_storage.py``).

The ADBC driver never opens the store's own database file, for reads neither. It links its
own copy of SQLite, and two copies in one process do not see each other's POSIX locks
(https://www.sqlite.org/howtocorrupt.html, section 2.2): closing an ADBC connection to the
store's file dropped the locks the store's ``sqlite3`` connections held on it, so another
process closing the database took itself for the last user and deleted the WAL file under
them; their later commits went to the deleted file, seen by no other connection (a
read-write ADBC connection did the same by itself, in one process). Reads therefore go
through the DBAPI cursor (tests in ``skynet/tests/storage/test_sql_arrow.py``).

Anything that keeps the staging from running (driver not installed, a driver error) returns
None and the store writes through the cursor, which also reports real errors as
:class:`~skynet.errors.StorageError`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cache
from typing import Any
from urllib.parse import quote

from skynet.storage._frames import Field

__all__ = ["available", "stage_columns", "STAGED_TABLE", "WRITE_ROWS"]

log = logging.getLogger(__name__)

#: Frames of at least this many rows are staged through ADBC (a scratch file costs about a ms).
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
