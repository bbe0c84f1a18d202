"""Every server adapter gives up on a silent server: connect and read/write timeouts (issue 10, 5).

A loopback listener that accepts TCP connections and never answers stands in for a dead proxy
or a wrong port; it is a real socket, the drivers are the real ones. The store must fail with
one line naming its adapter within the bound (:data:`skynet.storage._base.TIMEOUTS`), where
the old code waited forever (MySQL) or for the driver's own default. The URL's own timeout
options win over skynet's defaults; the tests marked ``integration`` check that on the real
MariaDB, PostgreSQL and Redis (a statement slower than the timeout fails, a blocking read
longer than the socket timeout does not).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from skynet.errors import StorageError
from skynet.storage import open_decision_log, open_live_store, open_store
from skynet.storage._base import TIMEOUTS
from skynet.tests.storage.conftest import server_url

#: "About 15 s": the bound a silent server must fail within with the default timeouts.
BOUND = 20.0


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections and never sends a byte."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.1)  # wakes up to see the stop flag
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            held.append(connection)  # kept open, never answered

    thread = threading.Thread(target=accept, name="silent-server", daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(5)
    listener.close()
    for connection in held:
        connection.close()


def _opens(kind: str) -> Callable[[str], object]:
    return {"records": open_store, "live": open_live_store, "decisions": open_decision_log}[kind]


def _fails_quietly(kind: str, url: str, adapter: str) -> tuple[float, str]:
    """Open ``url``; it must raise one StorageError line naming ``adapter``; return the seconds taken."""
    started = time.monotonic()
    with pytest.raises(StorageError) as caught:
        _opens(kind)(url)
    elapsed = time.monotonic() - started
    message = str(caught.value)
    assert caught.value.adapter == adapter, message
    assert "\n" not in message and "secret" not in message
    return elapsed, message


# -- the defaults: MySQL, PostgreSQL and Redis against a silent server -------------------------------

DEFAULTS = [
    pytest.param(
        "records", "mysql+pymysql://skynet:secret@127.0.0.1:{port}/skynet", "sql[mysql]", id="mysql"
    ),
    pytest.param(
        "records",
        "postgresql+psycopg://skynet:secret@127.0.0.1:{port}/skynet",
        "sql[postgresql]",
        id="postgresql",
    ),
    pytest.param("live", "redis://:secret@127.0.0.1:{port}/0", "live[redis]", id="redis"),
]


@pytest.mark.parametrize(("kind", "url", "adapter"), DEFAULTS)
def test_a_silent_server_fails_within_the_bound_with_one_line(silent_port, kind, url, adapter):
    elapsed, message = _fails_quietly(kind, url.format(port=silent_port), adapter)
    # the timeout stopped it (not a refused connection), and well before "forever"
    assert TIMEOUTS.connect * 0.8 <= elapsed < BOUND, (elapsed, message)
    assert message.startswith(f"{adapter}: connecting to ")
    assert "the URL can set the timeouts: ?" in message  # what to change when the server is just slow


# -- the URL's own options win ---------------------------------------------------------------------------

OVERRIDES = [
    pytest.param(
        "records",
        "mysql+pymysql://u:secret@127.0.0.1:{port}/skynet?connect_timeout=2&read_timeout=2",
        "sql[mysql]",
        id="mysql",
    ),
    pytest.param(
        "records",
        "postgresql+psycopg://u:secret@127.0.0.1:{port}/skynet?connect_timeout=2",
        "sql[postgresql]",
        id="postgresql",
    ),
    pytest.param(
        "live",
        "redis://:secret@127.0.0.1:{port}/0?socket_connect_timeout=1&socket_timeout=1.5",
        "live[redis]",
        id="redis",
    ),
    pytest.param(
        "decisions",
        "mongodb://u:secret@127.0.0.1:{port}/skynet?serverSelectionTimeoutMS=1500&connectTimeoutMS=1000",
        "decisions[mongodb]",
        id="mongodb",
    ),
    pytest.param(
        "records",
        "cassandra://u:secret@127.0.0.1:{port}/skynet?connect_timeout=1.5",
        "cassandra",
        id="cassandra",
    ),
]


@pytest.mark.parametrize(("kind", "url", "adapter"), OVERRIDES)
def test_the_urls_own_timeouts_bound_a_silent_server(silent_port, kind, url, adapter):
    elapsed, message = _fails_quietly(kind, url.format(port=silent_port), adapter)
    assert 0.8 <= elapsed < 6.0, (elapsed, message)  # the URL's 1-2 s, not the default 10 s


# -- MongoDB and Cassandra: no server here, so check what their clients are given ------------------------


def test_mongodb_client_gets_the_default_timeouts_unless_the_url_sets_them():
    from skynet.storage.decisions._mongodb import client_options

    connect, read = round(TIMEOUTS.connect * 1000), round(TIMEOUTS.read * 1000)
    assert client_options("mongodb://h/db") == {
        "serverSelectionTimeoutMS": connect,
        "connectTimeoutMS": connect,
        "socketTimeoutMS": read,
    }
    # URI options are case-insensitive; the URL's own wins (a keyword would override it)
    assert client_options("mongodb://h/db?sockettimeoutms=0&connectTimeoutMS=500") == {
        "serverSelectionTimeoutMS": connect
    }
    with pytest.raises(StorageError, match=r"bad URL .*socketTimeoutMS='soon' is not a number >= 0"):
        client_options("mongodb://u:secret@h/db?socketTimeoutMS=soon")


@pytest.mark.parametrize(
    ("query", "selection", "connect", "read"),
    [
        ("", TIMEOUTS.connect, TIMEOUTS.connect, TIMEOUTS.read),
        ("?serverSelectionTimeoutMS=1500", 1.5, TIMEOUTS.connect, TIMEOUTS.read),
    ],
)
def test_mongodb_client_is_built_with_the_timeouts(query, selection, connect, read):
    pytest.importorskip("pymongo")
    from skynet.storage.decisions._mongodb import new_client

    client = new_client(f"mongodb://127.0.0.1:27017/skynet{query}")  # connects lazily: no server needed
    try:
        assert client.options.server_selection_timeout == selection
        assert client.options.pool_options.connect_timeout == connect
        assert client.options.pool_options.socket_timeout == read
    finally:
        client.close()


@pytest.mark.parametrize(
    ("query", "connect", "per_request"),
    [("", TIMEOUTS.connect, TIMEOUTS.read), ("?connect_timeout=3&request_timeout=7.5", 3.0, 7.5)],
)
def test_cassandra_cluster_gets_connect_control_and_request_timeouts(query, connect, per_request):
    pytest.importorskip("cassandra")
    from cassandra.cluster import EXEC_PROFILE_DEFAULT

    from skynet.storage.cassandra._store import _cluster
    from skynet.storage.cassandra._url import parse_url

    url = f"cassandra://127.0.0.1/skynet{query}"
    cluster = _cluster(parse_url(url), url)
    try:
        assert cluster.connect_timeout == connect
        assert cluster.control_connection_timeout == connect
        assert cluster.profile_manager.profiles[EXEC_PROFILE_DEFAULT].request_timeout == per_request
    finally:
        cluster.shutdown()


# -- the real servers: the timeouts apply to statements, not only to connecting ---------------------------


def _sleep_on(url: str, sql: str) -> tuple[float, StorageError | None]:
    from skynet.storage.sql._engine import _engine, _guard

    engine = _engine(url)
    started = time.monotonic()
    try:
        with _guard(engine, "sleeping"), engine.connect() as connection:
            connection.exec_driver_sql(sql).fetchall()
    except StorageError as exc:
        return time.monotonic() - started, exc
    return time.monotonic() - started, None


def _with_query(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}"


@pytest.mark.integration
def test_mysql_read_timeout_bounds_a_statement_and_a_slower_connect_timeout_does_not_matter():
    url = server_url("mysql")
    elapsed, error = _sleep_on(_with_query(url, "read_timeout=2"), "SELECT SLEEP(5)")
    assert error is not None and error.adapter == "sql[mysql]" and "timed out" in str(error)
    assert elapsed < 4.5
    # a statement shorter than the read timeout is fine
    elapsed, error = _sleep_on(_with_query(url, "read_timeout=3"), "SELECT SLEEP(1)")
    assert error is None


@pytest.mark.integration
def test_postgresql_has_a_statement_timeout_by_default_and_the_url_can_set_it():
    from skynet.storage.sql._engine import _engine

    url = server_url("postgresql")
    with _engine(url).connect() as connection:
        shown = connection.exec_driver_sql("SHOW statement_timeout").scalar()
        given = connection.connection.dbapi_connection.info.get_parameters()  # what libpq was given
    assert shown == f"{round(TIMEOUTS.statement / 60)}min"
    assert given["connect_timeout"] == str(round(TIMEOUTS.connect))
    assert given["tcp_user_timeout"] == str(round(TIMEOUTS.read * 1000)) and given["keepalives"] == "1"
    elapsed, error = _sleep_on(
        _with_query(url, "options=-c%20statement_timeout%3D1000"), "SELECT pg_sleep(4)"
    )
    assert error is not None and error.adapter == "sql[postgresql]" and "statement timeout" in str(error)
    assert elapsed < 3.5


@pytest.mark.integration
def test_redis_blocking_read_longer_than_the_socket_timeout_returns_empty(redis_url):
    live = open_live_store(_with_query(redis_url, "socket_timeout=1"))
    try:
        started = time.monotonic()
        assert live.read_events("c1", range(live.partitions), 10, block_ms=5000) == []
        assert time.monotonic() - started < 1.0  # capped at half the socket timeout
        live.append_events([("dev-1", "{}")])
        assert len(live.read_events("c1", range(live.partitions), 10, block_ms=5000)) == 1
    finally:
        live.clear()
        live.close()
