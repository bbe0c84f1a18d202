"""The Cassandra adapter: URLs, schema, partitions, and errors (no server needed), then what only
a real server can show (marked ``integration``; they skip without ``SKYNET_TEST_CASSANDRA_HOSTS``,
as no Cassandra server can be installed here). The contract suite runs on Cassandra too."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skynet.domain import ApplianceState, Device, Feedback, SensorReading, Weather
from skynet.errors import StorageError
from skynet.storage import open_store
from skynet.storage.cassandra import NOT_TIMESERIES, parse_url, schema_cql
from skynet.storage.cassandra._plan import MAX_US, MIN_US, day_range, partitions_of, time_range, to_us
from skynet.storage.cassandra._schema import US_PER_DAY
from skynet.tests.storage.conftest import cassandra_url

ROOT = Path(__file__).resolve().parents[3]
DAY0 = datetime(2024, 3, 9)
DAY0_NUMBER = (DAY0 - datetime(1970, 1, 1)).days

# -- URLs -----------------------------------------------------------------------------------


def test_url_hosts_port_keyspace_credentials_and_options():
    url = parse_url(
        "cassandra://ops:p%40ss@cass-1,cass-2:9142/Skynet_TS?consistency=local_one&concurrency=16"
    )
    assert url.hosts == ("cass-1", "cass-2") and url.port == 9142
    assert url.keyspace == "skynet_ts"  # CQL folds unquoted names to lower case
    assert (url.username, url.password) == ("ops", "p@ss")
    assert url.consistency == "LOCAL_ONE" and url.concurrency == 16
    assert url.fetch_size == 5000 and url.replication_factor == 1


def test_url_defaults_and_ipv6():
    url = parse_url("cassandra://[::1]")
    assert url.hosts == ("::1",) and url.port == 9042 and url.keyspace == "skynet"
    assert url.username is None and url.consistency == "LOCAL_QUORUM"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("cassandra://u:secret@h1:9042,h2:9043/ks", "one port for every host"),
        ("cassandra://u:secret@h1/ks?fetchsize=10", "unknown option 'fetchsize' (known: consistency"),
        ("cassandra://u:secret@h1/ks?concurrency=0", "concurrency must be positive"),
        ("cassandra://u:secret@h1/ks?request_timeout=soon", "is not a number"),
        ("cassandra://u:secret@h1/ks?consistency=SERIAL", "consistency 'SERIAL' is not one of"),
        ("cassandra://u:secret@h1/1ks", "is not a CQL name"),
        ("cassandra://u:secret@/ks", "no host"),
    ],
)
def test_bad_urls_say_why_without_the_password(url, why):
    with pytest.raises(StorageError) as caught:
        open_store(url)
    message = str(caught.value)
    assert message.startswith("cassandra: bad URL") and why in message
    assert "secret" not in message and "u:***@" in message


def test_unreachable_cluster_is_one_clear_line():
    with pytest.raises(StorageError) as caught:
        open_store("cassandra://skynet:secret@127.0.0.1:1/skynet?connect_timeout=3")
    message = str(caught.value)
    assert caught.value.adapter == "cassandra" and "\n" not in message and "secret" not in message
    assert message.startswith("cassandra: connecting to cassandra://skynet:***@127.0.0.1:1/")
    assert "Unable to connect to any servers" in message and "127.0.0.1:1" in message


def test_unknown_host_names_is_one_clear_line():
    with pytest.raises(StorageError, match=r"failed: no host name resolves \(no-such-host.invalid\)$"):
        open_store("cassandra://no-such-host.invalid/skynet?connect_timeout=2")


def test_missing_driver_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "cassandra", None)  # import cassandra -> ImportError
    with pytest.raises(StorageError, match=r"driver missing: .*pip install 'skynet\[cassandra\]'"):
        open_store("cassandra://127.0.0.1/skynet")


def test_cassandra_is_a_known_scheme_and_its_driver_loads_lazily():
    import subprocess

    code = "import sys; from skynet.storage import known_schemes; assert 'cassandra' in known_schemes(); "
    code += "import skynet.storage.cassandra; print('cassandra' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- schema -----------------------------------------------------------------------------------


def test_install_schema_is_the_adapters_schema():
    assert (ROOT / "install" / "cassandra" / "schema.cql").read_text() == schema_cql("skynet")


def test_schema_partitions_by_device_and_day_with_microsecond_times():
    cql = schema_cql("ks")
    assert "CREATE TABLE IF NOT EXISTS ks.sensor_readings (" in cql
    assert cql.count("PRIMARY KEY ((device_id, day), time_us)") == 2
    assert cql.count("PRIMARY KEY ((device_id), day)") == 2
    for column in ("temperature double", "air_speed double", "running_mean_temperature double"):
        assert column in cql


# -- partitions -------------------------------------------------------------------------------


def test_partitions_are_device_days_in_key_order_and_the_first_of_a_key_wins():
    stamps = [
        DAY0 + timedelta(hours=23, minutes=59),
        DAY0 + timedelta(days=1),
        DAY0,
        DAY0 + timedelta(hours=23, minutes=59),
    ]
    devices = ["b", "b", "a", "b"]  # the last row repeats the first key
    parts = partitions_of(devices, np.array(stamps, dtype="datetime64[us]"))
    assert [(p.device_id, p.day) for p in parts] == [
        ("a", DAY0_NUMBER),
        ("b", DAY0_NUMBER),
        ("b", DAY0_NUMBER + 1),
    ]
    assert [p.rows.tolist() for p in parts] == [[2], [0], [1]]
    assert parts[1].times.tolist() == [to_us(stamps[0])]


def test_partitions_before_1970_floor_to_their_day():
    parts = partitions_of(["a"], np.array([datetime(1969, 12, 31, 23, 0)], dtype="datetime64[us]"))
    assert parts[0].day == -1


def test_a_range_touches_only_its_days():
    assert day_range(DAY0 + timedelta(hours=22), DAY0 + timedelta(days=2)) == (DAY0_NUMBER, DAY0_NUMBER + 1)
    assert day_range(DAY0, DAY0 + timedelta(days=2, microseconds=1)) == (DAY0_NUMBER, DAY0_NUMBER + 2)
    first, last = day_range(None, DAY0)
    assert first < -700_000 and last == DAY0_NUMBER - 1
    assert time_range(None, None) == (MIN_US, MAX_US)
    assert to_us(DAY0) == DAY0_NUMBER * US_PER_DAY
    aware = pd.Timestamp(DAY0 + timedelta(hours=2), tz="Europe/Paris")  # 01:00 UTC
    assert to_us(aware) == DAY0_NUMBER * US_PER_DAY + 3_600_000_000


# -- a real server (SKYNET_TEST_CASSANDRA_HOSTS) ------------------------------------------------


@pytest.fixture
def cassandra():
    with open_store(cassandra_url()) as store:
        yield store


@pytest.mark.integration
def test_other_kinds_are_refused_whole(cassandra):
    reading = SensorReading("a", DAY0, 20.0)
    for call in (
        lambda: cassandra.write([reading, Device("a")]),
        lambda: cassandra.read(Feedback, "a"),
        lambda: cassandra.read_frame(ApplianceState),
        lambda: cassandra.latest(Device, "a"),
    ):
        with pytest.raises(StorageError) as caught:
            call()
        assert str(caught.value) == f"cassandra: {NOT_TIMESERIES}"
    assert cassandra.read(SensorReading) == []  # the mixed write wrote nothing


@pytest.mark.integration
def test_reads_across_day_partitions(cassandra):
    stamps = pd.date_range(DAY0 + timedelta(hours=20), periods=8 * 12, freq="5min")  # 20:00 to 03:55 next day
    for device in ("b", "a"):
        frame = pd.DataFrame({"device_id": device, "timestamp": stamps, "temperature": np.arange(96.0)})
        assert cassandra.write_frame(Weather, frame) == 96
    midnight = DAY0 + timedelta(days=1)
    around = cassandra.read(Weather, "a", midnight - timedelta(minutes=10), midnight + timedelta(minutes=10))
    assert [w.timestamp for w in around] == [midnight + timedelta(minutes=m) for m in (-10, -5, 0, 5)]
    newest = cassandra.read(Weather, "a", end=midnight + timedelta(minutes=6), limit=3, newest_first=True)
    assert [w.timestamp for w in newest] == [midnight + timedelta(minutes=m) for m in (5, 0, -5)]
    everything = cassandra.read_frame(Weather)
    assert list(everything["device_id"]) == ["a"] * 96 + ["b"] * 96
    assert everything["timestamp"].iloc[:96].is_monotonic_increasing
    assert cassandra.latest(Weather, "b").timestamp == stamps[-1]
    assert cassandra.describe()["counts"] == {"sensor_reading": 0, "weather": 192}


@pytest.mark.integration
def test_missing_schema_without_auto_migrate_names_the_schema_file():
    base = cassandra_url()
    with pytest.raises(
        StorageError, match=r"lacks keyspace skynet_test_absent.*install/cassandra/schema.cql"
    ):
        open_store(base.replace("/skynet_test?", "/skynet_test_absent?"), auto_migrate=False)
