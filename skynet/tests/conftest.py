"""Root fixtures: every test runs with skynet pointed at its own temporary data directory."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from skynet.config import Settings, load_settings

#: The shared ASHRAE DB II copy (beside the checkout); tests that need it skip without it.
ASHRAE_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ashrae_db2"
ASHRAE_MEASUREMENTS = ASHRAE_DIR / "db_measurements_v2.1.0.csv.gz"
ASHRAE_METADATA = ASHRAE_DIR / "db_metadata.csv"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, tmp_path_factory):
    """No test reads the developer's config or writes to ~/.skynet."""
    for name in [
        n for n in __import__("os").environ if n.startswith("SKYNET_") and not n.startswith("SKYNET_TEST_")
    ]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SKYNET_GENERAL_DATA_DIR", str(tmp_path_factory.mktemp("skynet-home")))
    monkeypatch.setenv("MPLBACKEND", "Agg")


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """A fresh data directory that skynet (settings, CLI) uses for this test."""
    path = tmp_path / "data"
    monkeypatch.setenv("SKYNET_GENERAL_DATA_DIR", str(path))
    return path


@pytest.fixture
def settings(data_dir) -> Settings:
    """Settings of an embedded setup (SQLite + local model store) under ``data_dir``."""
    return load_settings(None)


@pytest.fixture(scope="session")
def ashrae_files() -> tuple[Path, Path]:
    """Paths of the shared DB II files, or skip where the shared folder is missing."""
    if not ASHRAE_MEASUREMENTS.exists():
        pytest.skip(f"ASHRAE DB II not found at {ASHRAE_DIR} (a checkout outside the team)")
    return ASHRAE_MEASUREMENTS, ASHRAE_METADATA


_DB2_COLUMNS = ["index", "record_id", "building_id", "timestamp", "season", "subject_id", "ta", "rh", "vel",
           "met", "clo", "thermal_sensation", "t_out_isd", "rh_out_isd", "t_mot_isd", "pmv"]  # fmt: skip


def _row(i, building, ts, season, ta, vote, **extra):
    row = dict(index=i, record_id=i + 1, building_id=building, timestamp=ts, season=season, subject_id=10 + i,
               ta=ta, rh=50.0, vel=0.1, met=1.1, clo=0.6, thermal_sensation=vote, t_out_isd=20.0,
               rh_out_isd=60.0, t_mot_isd=18.0, pmv=0.0)  # fmt: skip
    row.update(extra)
    return row


@pytest.fixture
def small_db2(tmp_path):
    """(measurements.csv.gz, metadata.csv, expected): 8 good votes, 5 impossible rows."""
    rows = [
        _row(0, 1, "2001-07-02T00:00:00Z", "summer", 24.0, 0),
        _row(1, 1, "2001-07-02T00:00:00Z", "summer", 26.0, 1),
        _row(2, 1, "2001-07-03T00:00:00Z", "summer", 28.0, 2.5),
        _row(3, 2, None, "summer", 22.0, -1),  # no timestamp: synthesized (south: January)
        _row(4, 2, None, "winter", 20.0, -2),
        _row(5, 3, "2010-01-05T00:00:00Z", "winter", 21.0, 0, subject_id=None, t_out_isd=None),
        _row(6, 3, "2010-01-05T00:00:00Z", "winter", 23.0, 1, rh=None, vel=None, met=None, clo=None),
        _row(7, 3, "2010-01-06T00:00:00Z", "winter", 19.0, -1),
        # impossible or unusable rows
        _row(8, 1, "2001-07-02T00:00:00Z", "summer", 24.0, None),  # no vote
        _row(9, 1, "2001-07-02T00:00:00Z", "summer", 24.0, 5),  # vote off the scale
        _row(10, 2, None, "summer", 80.0, 0),  # indoor temperature impossible
        _row(11, 3, "2010-01-05T00:00:00Z", "winter", 22.0, 0, rh=130.0),  # RH > 100 %
        _row(12, 9, "2010-01-05T00:00:00Z", "winter", 22.0, 0),  # building not in metadata
    ]
    measurements = tmp_path / "measurements.csv.gz"
    with gzip.open(measurements, "wt") as fh:
        pd.DataFrame(rows, columns=_DB2_COLUMNS).to_csv(fh, index=False)
    metadata = tmp_path / "metadata.csv"
    pd.DataFrame(
        {
            "building_id": [1, 2, 3],
            "country": ["australia", "australia", "usa"],
            "city": ["sydney", "sydney", "berkeley"],
            "lat": [-33.9, -33.9, 37.9],
            "lon": [151.2, 151.2, -122.3],
            "climate": ["humid subtropical", "humid subtropical", "warm-summer mediterranean"],
            "building_type": ["office", "multifamily housing", "office"],
            "cooling_type": ["mixed mode", "air conditioned", "naturally ventilated"],
            "timezone": ["Australia/Sydney", "Australia/Sydney", "America/Los_Angeles"],
            "year": [2001, 1998, 2010],
        }
    ).to_csv(metadata, index=False)
    return measurements, metadata


REDIS_VARIABLE, REDIS_DEFAULT = "SKYNET_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"
_REDIS_PROBLEM: dict[str, str | None] = {}


def redis_server() -> str:
    """The test Redis server's URL (``SKYNET_TEST_REDIS_URL``), or skip / fail (``CI`` set) when it is down."""
    import os

    url = os.environ.get(REDIS_VARIABLE, REDIS_DEFAULT)
    if url not in _REDIS_PROBLEM:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=3)
        try:
            client.ping()
            _REDIS_PROBLEM[url] = None
        except redis.RedisError as exc:
            _REDIS_PROBLEM[url] = f"{type(exc).__name__}: {exc}"
        finally:
            client.close()
    problem = _REDIS_PROBLEM[url]
    if problem is not None:
        from skynet.config import masked

        reason = f"redis test server not reachable at {REDIS_VARIABLE}={masked(url)} ({problem}); run install/servers.sh"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return url


@pytest.fixture
def redis_url():
    """A Redis URL with a namespace of its own (``?namespace=test-<uuid>``), deleted afterwards."""
    import uuid

    base = redis_server()
    url = f"{base}{'&' if '?' in base else '?'}namespace=test-{uuid.uuid4().hex[:12]}"
    yield url
    import redis

    client = redis.Redis.from_url(base)
    try:
        keys = list(client.scan_iter(match=f"{url.rsplit('=', 1)[1]}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _require_server(name: str, variable: str, url: str, problem: str | None) -> str:
    """``url``, or skip (fail where ``CI`` is set) with ``problem`` when the server is down."""
    import os

    if problem is None:
        return url
    from skynet.config import masked

    reason = (
        f"{name} test server not reachable at {variable}={masked(url)} ({problem}); run install/servers.sh"
    )
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


AMQP_VARIABLE, AMQP_DEFAULT = "SKYNET_TEST_AMQP_URL", "amqp://skynet:skynet@127.0.0.1:5672/skynet_test"
AWS_VARIABLE, AWS_DEFAULT = "SKYNET_TEST_AWS_ENDPOINT", "http://127.0.0.1:5000"
_PROBED: dict[str, str | None] = {}


def amqp_server() -> str:
    """The RabbitMQ test broker's URL (``SKYNET_TEST_AMQP_URL``); skip / fail (``CI``) when down.

    The probe speaks the first step of AMQP 0-9-1: a broker answers the protocol header with a
    Connection.Start method frame (frame type 1).
    """
    import os
    import socket
    from urllib.parse import urlsplit

    url = os.environ.get(AMQP_VARIABLE, AMQP_DEFAULT)
    if url not in _PROBED:
        parts = urlsplit(url)
        try:
            with socket.create_connection(
                (parts.hostname or "127.0.0.1", parts.port or 5672), timeout=3
            ) as sock:
                sock.settimeout(3)
                sock.sendall(b"AMQP\x00\x00\x09\x01")
                first = sock.recv(1)
            _PROBED[url] = None if first == b"\x01" else f"not an AMQP 0-9-1 broker (answered {first!r})"
        except OSError as exc:
            _PROBED[url] = f"{type(exc).__name__}: {exc}"
    return _require_server("RabbitMQ", AMQP_VARIABLE, url, _PROBED[url])


def aws_endpoint() -> str:
    """moto's standalone AWS server (``SKYNET_TEST_AWS_ENDPOINT``); skip / fail (``CI``) when down."""
    import os
    import urllib.request

    url = os.environ.get(AWS_VARIABLE, AWS_DEFAULT).rstrip("/")
    if url not in _PROBED:
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=3) as response:
                _PROBED[url] = None if response.status == 200 else f"HTTP {response.status}"
        except OSError as exc:
            _PROBED[url] = f"{type(exc).__name__}: {exc}"
    return _require_server("moto AWS", AWS_VARIABLE, url, _PROBED[url])
