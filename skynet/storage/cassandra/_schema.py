"""The Cassandra schema of the time-series record kinds, written once here.

Each kind has a data table with one partition per device and UTC day, rows clustered by time,
and a small ``<table>_days`` table listing the days each device has rows on (one partition per
device), so a read without a full time range, or of every device, finds its partitions without
scanning the data. Times are ``bigint`` microseconds since 1970-01-01 UTC: CQL's ``timestamp``
keeps milliseconds only, and records keep microseconds.

``install/cassandra/schema.cql`` is :func:`schema_cql` written out (a test keeps the two in
step); the adapter runs :func:`schema_statements` for whatever is missing.
"""

from __future__ import annotations

import dataclasses

from skynet.domain import Record, SensorReading, Weather
from skynet.storage._frames import fields_of
from skynet.storage._routed import TIMESERIES_KINDS

__all__ = ["KINDS", "Layout", "layout_of", "schema_statements", "schema_cql"]

#: The record kinds the Cassandra adapter stores: the time-series kinds.
KINDS: tuple[type[Record], ...] = TIMESERIES_KINDS
_TABLES = {SensorReading: "sensor_readings", Weather: "weather"}
_CQL_TYPES = {"float": "double", "str": "text", "bool": "boolean"}
#: Microseconds per day: a time's partition day is ``time_us // US_PER_DAY``.
US_PER_DAY = 86_400_000_000


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where one record kind lives: its tables and value columns (all but device and time)."""

    kind: type[Record]
    table: str
    days_table: str
    values: tuple[str, ...]
    types: tuple[str, ...]


def layout_of(kind: type[Record]) -> Layout:
    """The layout of a time-series kind (KeyError for the others)."""
    table = _TABLES[kind]
    values = [spec for spec in fields_of(kind) if spec.name not in ("device_id", "timestamp")]
    return Layout(
        kind,
        table,
        f"{table}_days",
        tuple(spec.name for spec in values),
        tuple(_CQL_TYPES[spec.type] for spec in values),
    )


def _keyspace_ddl(keyspace: str, replication_factor: int) -> str:
    return (
        f"CREATE KEYSPACE IF NOT EXISTS {keyspace}\n"
        f"    WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': {replication_factor}}};"
    )


def _tables_ddl(keyspace: str, layout: Layout) -> tuple[str, str]:
    columns = "".join(f"    {n} {t},\n" for n, t in zip(layout.values, layout.types, strict=True))
    data = (
        f"CREATE TABLE IF NOT EXISTS {keyspace}.{layout.table} (\n"
        "    device_id text,\n"
        "    day date,\n"
        "    time_us bigint,\n"
        f"{columns}"
        "    PRIMARY KEY ((device_id, day), time_us)\n"
        ") WITH CLUSTERING ORDER BY (time_us ASC);"
    )
    days = (
        f"CREATE TABLE IF NOT EXISTS {keyspace}.{layout.days_table} (\n"
        "    device_id text,\n"
        "    day date,\n"
        "    PRIMARY KEY ((device_id), day)\n"
        ") WITH CLUSTERING ORDER BY (day ASC);"
    )
    return data, days


def schema_statements(keyspace: str, replication_factor: int = 1) -> list[tuple[str | None, str]]:
    """The CQL that creates the schema: ``(table name or None for the keyspace, statement)``."""
    out: list[tuple[str | None, str]] = [(None, _keyspace_ddl(keyspace, replication_factor))]
    for kind in KINDS:
        layout = layout_of(kind)
        data, days = _tables_ddl(keyspace, layout)
        out += [(layout.table, data), (layout.days_table, days)]
    return out


_HEADER = """\
-- skynet's Cassandra schema: the time-series record kinds (sensor readings, weather).
--
-- Written out from skynet/storage/cassandra/_schema.py (a test keeps the two in step). The
-- adapter creates whatever is missing when it opens a keyspace, unless storage.auto_migrate
-- is off; then run this file first: cqlsh -f install/cassandra/schema.cql HOST
--
-- The keyspace below suits one node. In production create it yourself first, with the
-- replication you need, e.g.
--   CREATE KEYSPACE skynet WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3};
-- (CREATE ... IF NOT EXISTS then leaves it as it is).
--
-- Data tables: one partition per device and UTC day (at most 1,440 rows of minute data,
-- 86,400 of 1 Hz data), rows clustered by time_us = microseconds since 1970-01-01 UTC.
-- <table>_days: the days each device has rows on, one partition per device.
"""


def schema_cql(keyspace: str = "skynet", replication_factor: int = 1) -> str:
    """The whole schema as a ``cqlsh`` script (what ``install/cassandra/schema.cql`` holds)."""
    return _HEADER + "".join(
        f"\n{statement}\n" for _, statement in schema_statements(keyspace, replication_factor)
    )
