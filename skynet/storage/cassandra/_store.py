"""The Cassandra record store: sensor readings and weather, one partition per device and day.

Built on the DataStax driver (``cassandra-driver``, imported when a store opens): prepared
statements, token-aware routing, paged reads (``fetch_size`` rows per page), and bounded
concurrency (``execute_concurrent_with_args`` with ``concurrency`` requests in flight).

Writes keep the contract: they return how many records were new and keep the first record
of a key. Cassandra's INSERT is an upsert that can say neither, so a write first reads which
of its keys exist, one query per partition over the written time span, then inserts only the
missing rows. Lightweight transactions (``IF NOT EXISTS``) would say it per row but cost a
Paxos round (four round trips) per row, which bulk writes cannot afford. The read is exact
with one writer per device at a time, skynet's case (a device's readings arrive through one
ingestion path); two writers racing on the same keys may both count a row as new, and the
later one's values win. Before its rows, a write lists the partition's day in
``<table>_days``, so a read never misses rows that were written.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from skynet.config import masked
from skynet.domain import Record, field_names
from skynet.errors import DataError, StorageError
from skynet.storage._base import R, RecordStore
from skynet.storage._frames import (
    build_frame,
    fields_of,
    frame_columns,
    group_by_kind,
    python_values,
    records_columns,
)
from skynet.storage.cassandra._plan import day_range, partitions_of, time_range
from skynet.storage.cassandra._schema import KINDS, Layout, layout_of, schema_statements
from skynet.storage.cassandra._url import CassandraURL, parse_url

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CassandraStore", "NOT_TIMESERIES"]

ADAPTER = "cassandra"
#: The error for any other record kind.
NOT_TIMESERIES = "cassandra stores sensor readings and weather only; set storage.url for the rest"


class CassandraStore(RecordStore):
    """A record store of sensor readings and weather in Cassandra.

    Args:
        url: ``cassandra://[user:password@]host1[,host2...][:port]/keyspace[?options]``
            (see :mod:`skynet.storage.cassandra._url` for the options).
        auto_migrate: create the keyspace and tables when missing; without, missing tables
            are an error naming ``install/cassandra/schema.cql``.

    Raises:
        StorageError: the URL is wrong, the driver is missing, no host answers, or the
            schema is missing (and ``auto_migrate`` is off).
    """

    name = ADAPTER

    def __init__(self, url: str, auto_migrate: bool = True) -> None:
        self.url = url
        self.options: CassandraURL = parse_url(url)
        self._cluster: Any = None
        self._session = _connect(self.options, url)
        self._cluster = self._session.cluster
        try:
            with self._guard(f"preparing the schema of keyspace {self.options.keyspace}"):
                self._ensure_schema(auto_migrate)
                self._statements = {kind: _Statements(self._session, self.options, kind) for kind in KINDS}
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"CassandraStore({masked(self.url)!r})"

    # -- schema ---------------------------------------------------------------------------

    def _ensure_schema(self, auto_migrate: bool) -> None:
        keyspace = self.options.keyspace
        meta = self._cluster.metadata.keyspaces.get(keyspace)
        statements = schema_statements(keyspace, self.options.replication_factor)
        missing = [
            (table, cql)
            for table, cql in statements
            if (meta is None if table is None else meta is None or table not in meta.tables)
        ]
        if not missing:
            return
        if not auto_migrate:
            what = ", ".join(table or f"keyspace {keyspace}" for table, _ in missing)
            raise StorageError(
                self.name,
                f"{masked(self.url)} lacks {what}: run install/cassandra/schema.cql (or turn storage.auto_migrate on)",
            )
        for _, cql in missing:  # IF NOT EXISTS: another process creating them too is fine
            self._session.execute(cql.rstrip(";"))

    # -- writes ---------------------------------------------------------------------------

    def write(self, records: Iterable[Record]) -> int:
        groups = group_by_kind(records)
        for kind in groups:
            self._layout(kind)
        columns = [(kind, records_columns(kind, rows)) for kind, rows in groups.items()]
        return sum(self._insert(kind, cols) for kind, cols in columns)

    def write_frame(self, kind: type[Record], frame: pd.DataFrame) -> int:
        self._layout(kind)
        return self._insert(kind, frame_columns(kind, frame))

    def _insert(self, kind: type[Record], columns: dict[str, Any]) -> int:
        from cassandra.query import UNSET_VALUE
        from cassandra.util import Date

        layout, statements = self._layout(kind), self._statements[kind]
        parts = partitions_of(columns["device_id"], columns["timestamp"])
        if not parts:
            return 0
        with self._guard(f"writing {kind.kind} records"):
            spans = [(p.device_id, Date(p.day), int(p.times[0]), int(p.times[-1])) for p in parts]
            existing = self._concurrent(statements.existing, spans)
            new_rows, new_parts = [], []
            for part, found in zip(parts, existing, strict=True):
                known = np.fromiter((row[0] for row in found), dtype="int64")
                fresh = ~np.isin(part.times, known)
                if fresh.any():
                    new_parts.append((part.device_id, Date(part.day)))
                    new_rows += [(part.device_id, Date(part.day), int(t), int(r)) for t, r in
                                 zip(part.times[fresh], part.rows[fresh], strict=True)]  # fmt: skip
            if not new_rows:
                return 0
            values = [python_values(spec, columns[spec.name]) for spec in _value_fields(kind, layout)]

            def params() -> Iterator[tuple[Any, ...]]:
                for device, day, time_us, row in new_rows:
                    yield (device, day, time_us, *(UNSET_VALUE if v[row] is None else v[row] for v in values))

            self._concurrent(statements.mark_day, new_parts)  # days first: reads find every row
            self._concurrent(statements.insert, params(), fetch=False)
        return len(new_rows)

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
        self._layout(kind)
        if limit is not None and int(limit) < 0:
            raise DataError(f"limit must be >= 0, got {limit}")
        ids = None if device_id is None else [device_id]
        columns = self._select(kind, ids, start, end, limit=limit, newest_first=newest_first)
        if columns is None:
            return []
        columns["timestamp"] = columns["timestamp"].tolist()
        names = field_names(kind)
        return [
            kind(**dict(zip(names, row, strict=True)))
            for row in zip(*(columns[n] for n in names), strict=True)
        ]

    def read_frame(
        self,
        kind: type[Record],
        device_ids: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pd.DataFrame:
        self._layout(kind)
        if isinstance(device_ids, str):
            device_ids = [device_ids]
        columns = self._select(kind, device_ids, start, end)
        return build_frame(kind) if columns is None else build_frame(kind, columns)

    def _select(
        self,
        kind: type[Record],
        device_ids: Sequence[str] | None,
        start: datetime | None,
        end: datetime | None,
        *,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> dict[str, Any] | None:
        """The selected records as columns, sorted by key (descending with ``newest_first``)."""
        if limit == 0 or (device_ids is not None and not device_ids):
            return None
        layout, statements = self._layout(kind), self._statements[kind]
        lo, hi = time_range(start, end)
        first, last = day_range(start, end)
        if lo >= hi or first > last:
            return None
        with self._guard(f"reading {kind.kind} records"):
            parts = self._partitions(statements, device_ids, first, last)
            if newest_first:
                parts.reverse()
            if limit is None:
                query = statements.select_desc if newest_first else statements.select
                results = self._concurrent(query, [(d, day, lo, hi) for d, day in parts])
                chunks = [(device, list(rows)) for (device, _), rows in zip(parts, results, strict=True)]
            else:  # partition after partition, until the limit is reached
                query = statements.select_desc_limit if newest_first else statements.select_limit
                chunks, wanted = [], int(limit)
                for device, day in parts:
                    rows = list(self._session.execute(query, (device, day, lo, hi, wanted)))
                    chunks.append((device, rows))
                    wanted -= len(rows)
                    if wanted <= 0:
                        break
        return _columns(layout, chunks)

    def _partitions(
        self, statements: _Statements, device_ids: Sequence[str] | None, first: int, last: int
    ) -> list[tuple[str, Any]]:
        """``(device, day)`` of the partitions holding rows in range, in key order."""
        from cassandra.util import Date

        if device_ids is None:
            devices = sorted({row[0] for row in self._session.execute(statements.devices)})
        else:
            devices = sorted(set(device_ids))
        results = self._concurrent(statements.days, [(d, Date(first), Date(last)) for d in devices])
        return [(device, row[0]) for device, rows in zip(devices, results, strict=True) for row in rows]

    # -- the rest ---------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """Adapter, masked URL, keyspace, and records per kind (one count per device-day)."""
        counts = {}
        with self._guard("counting records"):
            for kind, statements in self._statements.items():
                parts = [tuple(row) for row in self._session.execute(statements.partitions)]
                results = self._concurrent(statements.count, parts)
                counts[kind.kind] = sum(int(rows.one()[0]) for rows in results)
        return {
            "adapter": self.name,
            "url": masked(self.url),
            "keyspace": self.options.keyspace,
            "counts": counts,
            "schema_revision": None,
        }

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.shutdown()
            self._cluster = None

    def _layout(self, kind: type[Record]) -> Layout:
        if kind not in KINDS:
            raise StorageError(self.name, NOT_TIMESERIES)
        return layout_of(kind)

    def _concurrent(
        self, statement: Any, parameters: Iterable[Sequence[Any]], fetch: bool = True
    ) -> list[Any]:
        """Run one prepared statement for many parameter rows, ``concurrency`` at a time, in order."""
        from cassandra.concurrent import execute_concurrent_with_args

        results = execute_concurrent_with_args(
            self._session,
            statement,
            parameters,
            concurrency=self.options.concurrency,
            results_generator=not fetch,
        )
        if not fetch:
            for _ in results:  # drain: the generator raises the first error
                pass
            return []
        return [result.result_or_exc for result in results]

    def _guard(self, what: str) -> Any:
        return _guarded(self.name, what)


class _Statements:
    """The prepared statements of one record kind."""

    def __init__(self, session: Any, options: CassandraURL, kind: type[Record]) -> None:
        layout = layout_of(kind)
        table = f"{options.keyspace}.{layout.table}"
        days = f"{options.keyspace}.{layout.days_table}"
        columns = ", ".join(("device_id", "day", "time_us", *layout.values))
        marks = ", ".join("?" * (3 + len(layout.values)))
        values = ", ".join(("time_us", *layout.values))
        where = "WHERE device_id = ? AND day = ?"
        in_range = f"{where} AND time_us >= ? AND time_us < ?"

        def prepare(cql: str) -> Any:
            statement = session.prepare(cql)
            statement.is_idempotent = True  # every statement here may be retried safely
            return statement

        self.insert = prepare(f"INSERT INTO {table} ({columns}) VALUES ({marks})")
        self.existing = prepare(f"SELECT time_us FROM {table} {where} AND time_us >= ? AND time_us <= ?")
        self.mark_day = prepare(f"INSERT INTO {days} (device_id, day) VALUES (?, ?)")
        self.days = prepare(f"SELECT day FROM {days} WHERE device_id = ? AND day >= ? AND day <= ?")
        self.devices = prepare(f"SELECT DISTINCT device_id FROM {days}")
        self.partitions = prepare(f"SELECT device_id, day FROM {days}")
        self.count = prepare(f"SELECT COUNT(*) FROM {table} {where}")
        self.select = prepare(f"SELECT {values} FROM {table} {in_range}")
        self.select_desc = prepare(f"SELECT {values} FROM {table} {in_range} ORDER BY time_us DESC")
        self.select_limit = prepare(f"SELECT {values} FROM {table} {in_range} LIMIT ?")
        self.select_desc_limit = prepare(
            f"SELECT {values} FROM {table} {in_range} ORDER BY time_us DESC LIMIT ?"
        )


def _value_fields(kind: type[Record], layout: Layout) -> list[Any]:
    return [spec for spec in fields_of(kind) if spec.name in layout.values]


def _columns(layout: Layout, chunks: list[tuple[str, list[Any]]]) -> dict[str, Any] | None:
    """Rows ``(time_us, *values)`` per partition as the kind's columns (timestamps datetime64[us])."""
    rows = [row for _, part in chunks for row in part]
    if not rows:
        return None
    fields = list(zip(*rows, strict=True))
    columns: dict[str, Any] = {
        "device_id": [device for device, part in chunks for _ in part],
        "timestamp": np.array(fields[0], dtype="int64").astype("datetime64[us]"),
    }
    columns.update(zip(layout.values, fields[1:], strict=True))
    return columns


@contextmanager
def _guarded(adapter: str, what: str) -> Iterator[None]:
    """Turn driver errors into one-line StorageErrors naming the adapter."""
    from cassandra import DriverException
    from cassandra.cluster import NoHostAvailable

    try:
        yield
    except NoHostAvailable as exc:
        raise StorageError(adapter, f"{what} failed: {_no_host(exc)}") from exc
    except DriverException as exc:
        raise StorageError(adapter, f"{what} failed: {_one_line(exc)}") from exc


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def _no_host(exc: Any) -> str:
    errors = getattr(exc, "errors", None) or {}
    details = "; ".join(f"{host}: {_one_line(err)}" for host, err in errors.items())
    return f"{exc.args[0] if exc.args else 'no host available'}" + (f" ({details})" if details else "")


def _cluster(options: CassandraURL, url: str) -> Any:
    """The driver's cluster of the URL, not connected yet: token-aware routing, tuple rows, and
    the URL's timeouts (connecting, the control connection's included; each request)."""
    where = masked(url)
    try:
        from cassandra import ConsistencyLevel, UnresolvableContactPoints
        from cassandra.auth import PlainTextAuthProvider
        from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
        from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy
        from cassandra.query import tuple_factory
    except ImportError as exc:
        raise StorageError(
            ADAPTER, f"cannot open {where}: driver missing: {exc} (pip install 'skynet[cassandra]')"
        ) from None
    profile = ExecutionProfile(
        load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=options.local_dc or "")),
        consistency_level=ConsistencyLevel.name_to_value[options.consistency],
        request_timeout=options.request_timeout,
        row_factory=tuple_factory,
    )
    auth = None
    if options.username is not None:
        auth = PlainTextAuthProvider(username=options.username, password=options.password or "")
    try:
        return Cluster(
            contact_points=list(options.hosts),
            port=options.port,
            auth_provider=auth,
            execution_profiles={EXEC_PROFILE_DEFAULT: profile},
            connect_timeout=options.connect_timeout,
            control_connection_timeout=options.connect_timeout,
        )
    except UnresolvableContactPoints:
        hosts = ", ".join(options.hosts)
        raise StorageError(
            ADAPTER, f"connecting to {where} failed: no host name resolves ({hosts})"
        ) from None


def _connect(options: CassandraURL, url: str) -> Any:
    """A driver session on the URL's cluster (paged reads of ``fetch_size`` rows)."""
    cluster = _cluster(options, url)
    try:
        with _guarded(ADAPTER, f"connecting to {masked(url)}"):
            session = cluster.connect()
    except BaseException:
        cluster.shutdown()
        raise
    session.default_fetch_size = options.fetch_size
    return session
