"""Storage fixtures: one ``store`` per backend (SQLite, memory, MySQL/MariaDB, PostgreSQL).

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
        reason = f"{backend} test server not reachable at {variable}={masked(url)} ({problem}); run install/servers.sh"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return url


def drop_schema(url: str) -> None:
    """Drop skynet's tables and the Alembic version table."""
    from sqlalchemy import MetaData, Table, create_engine

    from skynet.storage.sql import dispose_engines
    from skynet.storage.sql._tables import Base

    dispose_engines()  # no pooled connection of a store may hold a lock on what we drop
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            Base.metadata.drop_all(connection)
            Table("alembic_version", MetaData()).drop(connection, checkfirst=True)
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


@pytest.fixture(params=BACKENDS)
def store_url(request, tmp_path):
    """An empty store's URL, for every backend."""
    yield from _clean_url(request.param, tmp_path, request.node.name)


@pytest.fixture(params=SQL_BACKENDS)
def sql_url(request, tmp_path):
    """An empty SQL database's URL (no schema yet), for every SQL backend."""
    yield from _clean_url(request.param, tmp_path, request.node.name)


@pytest.fixture
def store(store_url):
    """An opened, empty record store, for every backend."""
    with open_store(store_url) as opened:
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
