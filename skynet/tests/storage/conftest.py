"""Storage fixtures: one ``store`` per backend (SQLite, memory, MySQL/MariaDB, PostgreSQL,
Cassandra, and routed pairs of them).

The server backends are marked ``integration``; their URLs come from ``SKYNET_TEST_MYSQL_URL``
and ``SKYNET_TEST_POSTGRES_URL``. Each test gets an empty schema there (skynet's tables and
``alembic_version`` are dropped before and after). A server that can't be reached skips the
test, or fails it where ``CI`` is set.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from skynet.config import masked
from skynet.storage import open_store

SERVERS = {
    "mysql": ("SKYNET_TEST_MYSQL_URL", "mysql+pymysql://skynet:skynet@127.0.0.1:3306/skynet_test"),
    "postgresql": (
        "SKYNET_TEST_POSTGRES_URL",
        "postgresql+psycopg://skynet:skynet@127.0.0.1:5432/skynet_test",
    ),
}
SQL_BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("mysql", id="mysql", marks=pytest.mark.integration),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.integration),
]
BACKENDS = [*SQL_BACKENDS[:1], pytest.param("memory", id="memory"), *SQL_BACKENDS[1:]]
_REACHABLE: dict[str, str | None] = {}


def server_url(backend: str) -> str:
    """The test server URL of a backend, or skip/fail (where ``CI`` is set) when it is down."""
    variable, default = SERVERS[backend]
    url = os.environ.get(variable, default)
    if url not in _REACHABLE:
        from sqlalchemy import create_engine

        engine = create_engine(url, connect_args={"connect_timeout": 5})
        try:
            with engine.connect():
                _REACHABLE[url] = None
        except Exception as exc:  # noqa: BLE001 - any failure means "no server"
            _REACHABLE[url] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        finally:
            engine.dispose()
    problem = _REACHABLE[url]
    if problem is not None:
        server_down(
            f"{backend} test server not reachable at {variable}={masked(url)} ({problem}); run install/servers.sh"
        )
    return url


def server_down(reason: str) -> None:
    """Skip the test whose server is down, or fail it where ``CI`` is set."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def drop_schema(url: str) -> None:
    """Drop every table of the test database: skynet's, Alembic's and any a stale run left behind.

    Only skynet's own tables would not do: a table of a later migration left by another checkout
    sharing this test database would make the migration tests see a schema they did not create.
    """
    from sqlalchemy import MetaData, create_engine

    from skynet.storage.sql import dispose_engines

    dispose_engines()  # no pooled connection of a store may hold a lock on what we drop
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            everything = MetaData()
            everything.reflect(connection)
            everything.drop_all(connection)
    finally:
        engine.dispose()


def _clean_url(backend: str, tmp_path, name: str):
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    elif backend == "memory":
        yield f"memory://{name}-{uuid.uuid4().hex}"
    else:
        url = server_url(backend)
        drop_schema(url)
        yield url
        drop_schema(url)


CASSANDRA_VARIABLE = "SKYNET_TEST_CASSANDRA_HOSTS"
#: Why the Cassandra tests skip here, CI included: no Cassandra server can be installed on our
#: machines, so they run only where a server is named.
NO_CASSANDRA = (
    f"no Cassandra server here (none can be installed on this machine): "
    f"set {CASSANDRA_VARIABLE}=host1[,host2][:9042] to run the Cassandra tests"
)
#: Record store backends: time series in Cassandra, and routed pairs (records, time series).
RECORD_BACKENDS = [
    *BACKENDS,
    pytest.param("routed", id="routed"),  # SQLite records + memory time series
    # SQLite with every write_frame staged through ADBC, however small (the bulk write path)
    pytest.param("sqlite-staged", id="sqlite-staged"),
    pytest.param("cassandra", id="cassandra", marks=pytest.mark.integration),
    pytest.param("routed-cassandra", id="routed-cassandra", marks=pytest.mark.integration),
]
#: Backends holding only the time-series kinds: tests marked ``all_kinds`` don't run there.
TIMESERIES_ONLY = {"cassandra"}
_CASSANDRA_PROBLEM: dict[str, str | None] = {}


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "all_kinds: needs every record kind (not run on time-series-only stores: Cassandra)"
    )


def pytest_collection_modifyitems(config, items):
    """Leave the tests of non-time-series kinds out of the time-series-only backends."""
    keep, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("store_url") if callspec is not None else None
        needs_all = item.get_closest_marker("all_kinds") is not None
        (dropped if needs_all and backend in TIMESERIES_ONLY else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def cassandra_url(keyspace: str = "skynet_test") -> str:
    """The test Cassandra's URL from ``SKYNET_TEST_CASSANDRA_HOSTS`` (skip without it), its
    tables created and emptied; one that can't be reached fails where ``CI`` is set."""
    hosts = os.environ.get(CASSANDRA_VARIABLE)
    if not hosts:
        pytest.skip(NO_CASSANDRA)
    url = f"cassandra://{hosts}/{keyspace}?connect_timeout=5"
    from skynet.errors import StorageError

    if url not in _CASSANDRA_PROBLEM:
        try:
            open_store(url).close()  # creates the schema
            _CASSANDRA_PROBLEM[url] = None
        except StorageError as exc:
            _CASSANDRA_PROBLEM[url] = str(exc)
    problem = _CASSANDRA_PROBLEM[url]
    if problem is not None:
        server_down(
            f"cassandra test server not reachable at {CASSANDRA_VARIABLE}={masked(hosts)} ({problem})"
        )
    truncate_cassandra(url)
    return url


def truncate_cassandra(url: str) -> None:
    """Empty the skynet tables of a Cassandra keyspace."""
    from skynet.storage.cassandra import schema_statements

    with open_store(url) as store:
        for table, _ in schema_statements(store.options.keyspace):
            if table is not None:
                store._session.execute(f"TRUNCATE {store.options.keyspace}.{table}")


@pytest.fixture(params=RECORD_BACKENDS)
def store_url(request, tmp_path):
    """An empty store's URL for every backend; a routed store's is ``(records, time series)``."""
    backend, name = request.param, request.node.name
    if backend == "cassandra":
        yield cassandra_url()
    elif backend == "routed-cassandra":
        series = cassandra_url()
        yield from ((records, series) for records in _clean_url("sqlite", tmp_path, name))
    elif backend == "sqlite-staged":
        from skynet.storage.sql import _arrow

        pytest.importorskip("adbc_driver_sqlite")
        request.getfixturevalue("monkeypatch").setattr(_arrow, "WRITE_ROWS", 1)
        yield from _clean_url("sqlite", tmp_path, name)
    elif backend == "routed":
        yield from (
            (records, f"memory://{name}-series-{uuid.uuid4().hex}")
            for records in _clean_url("sqlite", tmp_path, name)
        )
    else:
        yield from _clean_url(backend, tmp_path, name)


def open_record_store(url):
    """Open a ``store_url``: one URL, or a routed pair."""
    if isinstance(url, tuple):
        from skynet.storage import RoutedStore

        records = open_store(url[0])
        try:
            return RoutedStore(records, open_store(url[1]))
        except BaseException:
            records.close()
            raise
    return open_store(url)


@pytest.fixture(params=SQL_BACKENDS)
def sql_url(request, tmp_path):
    """An empty SQL database's URL (no schema yet), for every SQL backend."""
    yield from _clean_url(request.param, tmp_path, request.node.name)


@pytest.fixture
def store(store_url):
    """An opened, empty record store, for every backend."""
    with open_record_store(store_url) as opened:
        yield opened


@pytest.fixture
def readings_frame():
    """``readings_frame(device, n, start=..., freq="1min", seed=0)``: a frame of sensor readings."""

    def make(device: str, n: int, start: datetime = datetime(2024, 1, 1), freq: str = "1min", seed: int = 0):
        rng = np.random.default_rng(seed)
        humidity = rng.uniform(30, 70, n)
        humidity[::7] = np.nan
        return pd.DataFrame(
            {
                "device_id": device,
                "timestamp": pd.date_range(start, periods=n, freq=freq),
                "temperature": rng.uniform(15, 35, n),
                "humidity": humidity,
            }
        )

    return make


MONGODB_VARIABLE = "SKYNET_TEST_MONGODB_URL"
DECISION_BACKENDS = [*BACKENDS, pytest.param("mongodb", id="mongodb", marks=pytest.mark.integration)]


def mongodb_url() -> str:
    """The test MongoDB's URL, or skip: no MongoDB server can be installed on our machines, so
    the MongoDB contract runs only where ``SKYNET_TEST_MONGODB_URL`` names one (then a server
    that can't be reached fails where ``CI`` is set)."""
    url = os.environ.get(MONGODB_VARIABLE)
    if not url:
        pytest.skip(f"no MongoDB server here: set {MONGODB_VARIABLE}=mongodb://host:27017/skynet_test to run")
    import pymongo

    client = pymongo.MongoClient(url, serverSelectionTimeoutMS=3000)
    try:
        client.admin.command("ping")
    except pymongo.errors.PyMongoError as exc:
        from skynet.config import masked

        reason = f"mongodb test server not reachable at {MONGODB_VARIABLE}={masked(url)} ({exc})"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    finally:
        client.close()
    return url


@pytest.fixture(params=DECISION_BACKENDS)
def decisions_url(request, tmp_path):
    """An empty decision log's URL, for every backend (MongoDB: a collection of its own)."""
    if request.param != "mongodb":
        yield from _clean_url(request.param, tmp_path, request.node.name)
        return
    url = mongodb_url()
    collection = f"decisions_test_{uuid.uuid4().hex[:12]}"
    yield url, collection
    import pymongo

    client = pymongo.MongoClient(url)
    try:
        client.get_default_database(default="skynet").drop_collection(collection)
    finally:
        client.close()


@pytest.fixture
def decision_log(decisions_url):
    """An opened, empty decision log, for every backend."""
    from skynet.storage.decisions import open_decision_log

    url, options = (decisions_url, {}) if isinstance(decisions_url, str) else (
        decisions_url[0], {"collection": decisions_url[1]})  # fmt: skip
    with open_decision_log(url, **options) as log:
        yield log
