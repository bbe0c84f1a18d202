"""Routing: time series in one store, the other kinds in another (``storage.timeseries_url``).

On real adapters: SQLite for the records, memory for the time series (the contract suite also
runs whole on this pair, as ``routed``; and on SQLite + Cassandra where a Cassandra is named).
"""

from __future__ import annotations

import uuid

import pytest

from skynet.api._context import open_records, timeseries_url
from skynet.config import load_settings
from skynet.domain import RECORD_KINDS, ControlTarget, Device, Feedback, SensorReading, Weather
from skynet.errors import DataError
from skynet.storage import TIMESERIES_KINDS, RoutedStore, is_timeseries, open_store
from skynet.tests.storage.test_contract import at, one_of_each, readings


@pytest.fixture
def urls(tmp_path):
    return f"sqlite:///{tmp_path / 'records.db'}", f"memory://series-{uuid.uuid4().hex}"


@pytest.fixture
def routed(urls):
    with RoutedStore(open_store(urls[0]), open_store(urls[1])) as store:
        yield store


def test_each_kind_lands_in_its_store(routed, urls):
    records = one_of_each() + readings("dev-2", 4)
    assert routed.write(records) == len(records)
    with open_store(urls[0]) as sql, open_store(urls[1]) as memory:
        in_sql, in_memory = sql.describe()["counts"], memory.describe()["counts"]
    for name, kind in RECORD_KINDS.items():
        expected = sum(isinstance(r, kind) for r in records)
        assert (in_memory if is_timeseries(kind) else in_sql)[name] == expected
        assert (in_sql if is_timeseries(kind) else in_memory)[name] == 0
    assert {k.kind for k in TIMESERIES_KINDS} == {"sensor_reading", "weather"}


def test_reads_and_frames_come_from_the_right_store(routed, urls, readings_frame):
    routed.write_frame(SensorReading, readings_frame("a", 30, start=at(0)))
    routed.write([Feedback("a", at(5), 1.0), Weather("a", at(1), 30.0)])
    with open_store(urls[1]) as memory:
        assert len(memory.read_frame(SensorReading, ["a"])) == 30
        assert memory.read(Feedback) == []
    assert len(routed.read_frame(SensorReading, ["a"], at(10), at(20))) == 10
    assert routed.latest(Weather, "a").temperature == 30.0
    assert routed.read(Feedback, "a")[0].value == 1.0


def test_describe_merges_counts_and_shows_both_stores(routed, urls):
    routed.write(one_of_each())
    info = routed.describe()
    assert info["adapter"] == routed.name == "sql[sqlite]+memory"
    assert info["counts"] == {name: 1 for name in RECORD_KINDS}
    assert info["stores"]["timeseries"]["url"] == urls[1] == info["timeseries_url"]
    assert info["schema_revision"] == info["stores"]["records"]["schema_revision"] is not None


def test_a_bad_record_stops_the_write_before_either_store(routed):
    with pytest.raises(DataError, match="not a skynet.domain record"):
        routed.write([Device("a"), *readings("a", 2), "not a record"])
    assert sum(routed.describe()["counts"].values()) == 0


def test_close_closes_both(routed, monkeypatch):
    closed = []
    for part in ("records", "timeseries"):
        monkeypatch.setattr(getattr(routed, part), "close", lambda part=part: closed.append(part))
    routed.close()
    assert sorted(closed) == ["records", "timeseries"]


# -- settings -------------------------------------------------------------------------------


def _settings(tmp_path, **storage):
    environ = {"SKYNET_GENERAL_DATA_DIR": str(tmp_path / "data")}
    environ.update({f"SKYNET_STORAGE_{key.upper()}": value for key, value in storage.items()})
    return load_settings(None, environ=environ)


def test_open_records_routes_when_timeseries_url_is_set(tmp_path):
    series = f"memory://series-{uuid.uuid4().hex}"
    settings = _settings(tmp_path, timeseries_url=series)
    with open_records(settings) as store:
        assert isinstance(store, RoutedStore)
        store.write([Device("a"), *readings("a", 3), ControlTarget("a", at(0), "off")])
    with open_store(series) as memory:
        assert memory.describe()["counts"]["sensor_reading"] == 3
        assert memory.describe()["counts"]["device"] == 0
    with open_store(f"sqlite:///{tmp_path / 'data' / 'skynet.db'}") as sql:  # the default storage.url
        counts = sql.describe()["counts"]
        assert (counts["device"], counts["control_target"], counts["sensor_reading"]) == (1, 1, 0)


def test_no_routing_when_timeseries_url_is_empty_or_the_same(tmp_path):
    assert timeseries_url(_settings(tmp_path)) is None
    same = _settings(
        tmp_path, url="sqlite:///{data_dir}/one.db", timeseries_url="sqlite:///{data_dir}/one.db"
    )
    assert timeseries_url(same) is None
    with open_records(same) as store:
        assert not isinstance(store, RoutedStore) and store.name == "sql[sqlite]"
