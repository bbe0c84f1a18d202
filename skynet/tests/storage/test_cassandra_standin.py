"""The Cassandra adapter's own logic, run against an in-process STAND-IN for the driver's session.

No Cassandra server can be installed on our machines, so this module is not a Cassandra test:
it interprets the few CQL statements the adapter prepares, over dicts, with Cassandra's rules
that matter to the adapter (a partition key is only ever matched whole, ranges only on
clustering columns, a full scan comes back in token order rather than key order, an INSERT
is an upsert that leaves unset columns alone). What it checks is the adapter's side: partition
planning, new-row counts and first-record-wins on top of upserts, ordering across partitions
and devices, limits, paging through results, describe, and the columns it builds. The real
thing runs in ``test_contract.py`` and ``test_cassandra.py`` on the server that
``SKYNET_TEST_CASSANDRA_HOSTS`` names.
"""

from __future__ import annotations

import re
import zlib
from types import SimpleNamespace
from typing import Any

import pytest

# the contract tests that apply to time series, run here on the stand-in
from skynet.tests.storage.test_contract import (  # noqa: F401 - collected by pytest
    T0,
    at,
    readings,
    test_duplicates_within_one_write_count_once,
    test_latest,
    test_newest_first_and_limit,
    test_read_accepts_aware_and_pandas_bounds,
    test_read_by_device_and_half_open_range,
    test_read_frame_columns_dtypes_and_order,
    test_read_frame_of_everything_and_of_one_device,
    test_read_returns_records_not_rows,
    test_read_without_device_is_sorted_by_key,
    test_records_that_skip_their_checks_are_still_refused,
    test_write_frame_returns_new_count,
    test_write_frame_round_trips_through_read_frame,
    test_write_keeps_the_first_record_of_a_key,
    test_write_refuses_what_is_not_a_record,
    test_write_returns_new_count_and_is_idempotent,
    three_devices,
)

cassandra = pytest.importorskip("cassandra")

from cassandra.query import UNSET_VALUE  # noqa: E402
from cassandra.util import Date  # noqa: E402

from skynet.domain import Device, SensorReading, Weather  # noqa: E402
from skynet.errors import StorageError  # noqa: E402
from skynet.storage.cassandra import NOT_TIMESERIES, CassandraStore  # noqa: E402
from skynet.storage.cassandra import _store as cassandra_store  # noqa: E402


def _order(value: Any) -> Any:
    return value.days_from_epoch if isinstance(value, Date) else value


class _Rows(list):
    def one(self) -> Any:
        return self[0] if self else None


class _Prepared:
    def __init__(self, cql: str) -> None:
        self.cql = cql
        self.is_idempotent = False


class StandInSession:
    """Just enough of ``cassandra.cluster.Session`` for the adapter, over dicts (see the module doc)."""

    def __init__(self) -> None:
        self.keyspaces: dict[str, SimpleNamespace] = {}
        self.tables: dict[str, dict[str, Any]] = {}
        self.executed: list[tuple[str, tuple[Any, ...]]] = []
        self.default_fetch_size = None
        self.cluster = SimpleNamespace(
            metadata=SimpleNamespace(keyspaces=self.keyspaces), shutdown=lambda: None
        )

    def prepare(self, cql: str) -> _Prepared:
        self._check(cql)
        return _Prepared(cql)

    def execute(self, statement: Any, params: Any = ()) -> _Rows:
        cql = statement.cql if isinstance(statement, _Prepared) else statement
        params = tuple(params or ())
        self.executed.append((cql, params))
        if cql.startswith("CREATE KEYSPACE"):
            name = cql.split()[5]
            self.keyspaces.setdefault(name, SimpleNamespace(tables={}))
        elif cql.startswith("CREATE TABLE"):
            self._create(cql)
        elif cql.startswith("INSERT"):
            self._insert(cql, params)
        elif cql.startswith("SELECT"):
            return self._select(cql, params)
        else:
            raise AssertionError(f"the stand-in does not know {cql!r}")
        return _Rows()

    # -- statements ----------------------------------------------------------------------

    def _create(self, cql: str) -> None:
        name = cql.split()[5]
        keyspace, table = name.split(".")
        key = re.search(r"PRIMARY KEY \(\((?P<pk>[^)]*)\)(?:, (?P<ck>[^)]*))?\)", cql)
        self.tables[name] = {
            "pk": [c.strip() for c in key["pk"].split(",")],
            "ck": [c.strip() for c in (key["ck"] or "").split(",") if c.strip()],
            "rows": {},
        }
        self.keyspaces[keyspace].tables[table] = object()

    def _check(self, cql: str) -> None:
        """Refuse what Cassandra would refuse: a partition key not matched whole, or a range on it."""
        match = re.fullmatch(
            r"SELECT (?:DISTINCT )?.+? FROM (\S+)(?: WHERE (.+?))?(?: ORDER BY .+?)?(?: LIMIT \?)?", cql
        )
        if match is None or match[2] is None or match[1] not in self.tables:
            return
        table = self.tables[match[1]]
        conditions = [c.split() for c in match[2].split(" AND ")]
        equal = {column for column, op, _ in conditions if op == "="}
        assert set(table["pk"]) <= equal, f"partition key not matched whole: {cql}"
        ranged = {column for column, op, _ in conditions if op != "="}
        assert ranged <= set(table["ck"]), f"range on a non-clustering column: {cql}"

    def _insert(self, cql: str, params: tuple[Any, ...]) -> None:
        match = re.fullmatch(r"INSERT INTO (\S+) \((.+?)\) VALUES \((.+?)\)", cql)
        table, columns = self.tables[match[1]], [c.strip() for c in match[2].split(",")]
        row = dict(zip(columns, params, strict=True))
        assert all(row.get(c) not in (None, UNSET_VALUE) for c in table["pk"] + table["ck"])
        key = tuple(_order(row[c]) for c in table["pk"] + table["ck"])
        stored = table["rows"].setdefault(key, {})
        stored.update({c: v for c, v in row.items() if v is not UNSET_VALUE})  # an upsert

    def _select(self, cql: str, params: tuple[Any, ...]) -> _Rows:
        match = re.fullmatch(
            r"SELECT (DISTINCT )?(.+?) FROM (\S+)(?: WHERE (.+?))?( ORDER BY \w+ DESC)?( LIMIT \?)?", cql
        )
        distinct, columns, table = match[1], [c.strip() for c in match[2].split(",")], self.tables[match[3]]
        conditions = [c.split() for c in match[4].split(" AND ")] if match[4] else []
        values = list(params)
        limit = values.pop() if match[6] else None
        tests = {
            "=": lambda a, b: a == b,
            ">=": lambda a, b: a >= b,
            "<=": lambda a, b: a <= b,
            "<": lambda a, b: a < b,
        }
        rows = [
            row
            for row in table["rows"].values()
            if all(
                tests[op](_order(row[col]), _order(v))
                for (col, op, _), v in zip(conditions, values, strict=True)
            )
        ]
        # key order inside a partition; partitions in token order (a hash), as a real scan returns them
        rows.sort(key=lambda r: [_order(r[c]) for c in table["ck"]], reverse=bool(match[5]))
        rows.sort(key=lambda r: zlib.crc32(repr([_order(r[c]) for c in table["pk"]]).encode()))
        if columns == ["COUNT(*)"]:
            return _Rows([(len(rows),)])
        out = [tuple(row.get(c) for c in columns) for row in rows]
        if distinct:
            out = list(dict.fromkeys(out))
        return _Rows(out[:limit] if limit is not None else out)


def _concurrent(session, statement, parameters, concurrency, results_generator=False):
    """``execute_concurrent_with_args`` on the stand-in: one after the other, results in order."""
    assert concurrency > 0
    results = (SimpleNamespace(success=True, result_or_exc=session.execute(statement, p)) for p in parameters)
    return results if results_generator else list(results)


@pytest.fixture
def session(monkeypatch):
    import cassandra.concurrent

    standin = StandInSession()
    monkeypatch.setattr(cassandra_store, "_connect", lambda options, url: standin)
    monkeypatch.setattr(cassandra.concurrent, "execute_concurrent_with_args", _concurrent)
    return standin


@pytest.fixture
def store(session):
    with CassandraStore("cassandra://127.0.0.1/standin?concurrency=4") as opened:
        yield opened


def test_opening_creates_the_schema_once_and_without_auto_migrate_names_the_file(session):
    CassandraStore("cassandra://127.0.0.1/standin").close()
    created = [cql for cql, _ in session.executed if cql.startswith("CREATE")]
    assert len(created) == 5 and set(session.tables) == {
        "standin.sensor_readings", "standin.sensor_readings_days", "standin.weather", "standin.weather_days"}  # fmt: skip
    CassandraStore("cassandra://127.0.0.1/standin").close()
    assert len([cql for cql, _ in session.executed if cql.startswith("CREATE")]) == 5
    with pytest.raises(
        StorageError, match=r"lacks keyspace other, sensor_readings, .*install/cassandra/schema.cql"
    ):
        CassandraStore("cassandra://127.0.0.1/other", auto_migrate=False)


def test_other_kinds_are_refused_before_anything_is_written(store, session):
    with pytest.raises(StorageError) as caught:
        store.write([*readings("a", 2), Device("a")])
    assert str(caught.value) == f"cassandra: {NOT_TIMESERIES}"
    assert not [cql for cql, _ in session.executed if cql.startswith("INSERT")]


def test_missing_values_are_left_unset_not_written_as_null(store, session):
    store.write([SensorReading("a", T0, 21.5, humidity=None)])
    inserts = [
        params for cql, params in session.executed if cql.startswith("INSERT INTO standin.sensor_readings (")
    ]
    assert inserts[0][3:] == (21.5, UNSET_VALUE, UNSET_VALUE, UNSET_VALUE)  # no tombstones


def test_a_range_reads_only_the_partitions_in_it(store, session):
    store.write([SensorReading("a", T0.replace(day=d), 20.0) for d in (1, 2, 3, 5)])
    session.executed.clear()
    got = store.read(SensorReading, "a", T0.replace(day=2, hour=0), T0.replace(day=4))
    assert [r.timestamp.day for r in got] == [2, 3]
    data_reads = [params for cql, params in session.executed if cql.startswith("SELECT time_us, temperature")]
    assert [params[1].date().day for params in data_reads] == [2, 3]  # not day 1 nor 5, nor the empty day 4


def test_rewrites_of_known_rows_insert_nothing(store, session):
    store.write(readings("a", 50) + readings("b", 5))
    session.executed.clear()
    assert store.write(readings("a", 50)) == 0
    assert not [cql for cql, _ in session.executed if cql.startswith("INSERT")]


def test_describe_counts_each_kind(store):
    store.write(readings("a", 30) + readings("b", 3) + [Weather("a", at(0), 3.0)])
    info = store.describe()
    assert info["counts"] == {"sensor_reading": 33, "weather": 1}
    assert info["adapter"] == "cassandra" and info["keyspace"] == "standin"
