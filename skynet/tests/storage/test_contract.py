"""The record store contract, run over every backend (SQLite, memory, MySQL/MariaDB, PostgreSQL,
Cassandra, routed pairs).

Tests marked ``all_kinds`` need kinds other than sensor readings and weather: they don't run on
the time-series-only Cassandra store (its routed pair runs them all).
"""

from __future__ import annotations

import random
from dataclasses import asdict
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from skynet.domain import (
    RECORD_KINDS,
    ApplianceState,
    ControlTarget,
    Device,
    Feedback,
    SensorReading,
    User,
    Weather,
    field_names,
)
from skynet.errors import DataError, StorageError
from skynet.storage import known_schemes, open_store

T0 = datetime(2024, 5, 1, 12, 0, 0, 123456)  # microseconds: precision loss would show


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def one_of_each() -> list:
    return [
        Device("dev-1", name="Living room", timezone="Europe/Paris", latitude=48.85, longitude=2.35,
               country="france", city="paris", climate="oceanic", building_type="flat",
               cooling_type="air conditioned", min_set_temperature=17.5, max_set_temperature=31.0),
        User("user-1", device_id="dev-1", name="Ada"),
        SensorReading("dev-1", at(0), 23.456789012345678, humidity=41.2, luminosity=None, air_speed=0.1),
        Weather("dev-1", at(0), -3.25, humidity=None, running_mean_temperature=1.0 / 3.0),
        Feedback("dev-1", at(1), -1.5, user_id="user-1", clothing=0.61, metabolic_rate=None),
        ApplianceState("dev-1", at(2), True, mode="cool", set_temperature=22.5, fan="auto", origin="skynet"),
        ControlTarget("dev-1", at(3), "temperature", value=23.0),
    ]  # fmt: skip


def readings(device: str, n: int, start: int = 0) -> list[SensorReading]:
    return [SensorReading(device, at(start + i), 20.0 + i / 10, humidity=50.0 + i) for i in range(n)]


# -- writes -------------------------------------------------------------------------------


def test_write_returns_new_count_and_is_idempotent(store):
    assert store.write(readings("a", 5)) == 5
    assert store.write(readings("a", 5)) == 0
    assert store.write(readings("a", 8)) == 3  # 5 known, 3 new
    assert len(store.read(SensorReading, "a")) == 8


def test_write_keeps_the_first_record_of_a_key(store):
    store.write([SensorReading("a", at(0), 20.0)])
    assert store.write([SensorReading("a", at(0), 99.0)]) == 0
    assert store.read(SensorReading, "a")[0].temperature == 20.0


def test_duplicates_within_one_write_count_once(store):
    assert store.write(readings("a", 3) + readings("a", 3)) == 3


@pytest.mark.all_kinds
def test_every_kind_round_trips_exactly(store):
    records = one_of_each()
    assert store.write(records) == len(records)  # mixed kinds in one call
    for record in records:
        assert store.read(type(record)) == [record]


@pytest.mark.all_kinds
def test_mixed_kind_write_and_describe_counts(store):
    records = one_of_each() + readings("dev-2", 4) + [Device("dev-2")]
    assert store.write(records) == len(records)
    info = store.describe()
    expected = {kind: 0 for kind in RECORD_KINDS}
    for record in records:
        expected[record.kind] += 1
    assert info["counts"] == expected
    assert info["adapter"] == store.name
    assert set(info) >= {"adapter", "url", "counts", "schema_revision"}


def test_describe_masks_the_password(store):
    url = store.describe()["url"]
    if "@" in url:
        assert ":***@" in url and "skynet:skynet@" not in url


def test_write_frame_returns_new_count(store, readings_frame):
    frame = readings_frame("a", 500)
    assert store.write_frame(SensorReading, frame) == 500
    assert store.write_frame(SensorReading, frame) == 0
    more = readings_frame("a", 600)
    assert store.write_frame(SensorReading, more) == 100
    assert store.describe()["counts"]["sensor_reading"] == 600


def test_write_frame_round_trips_through_read_frame(store, readings_frame):
    frame = readings_frame("a", 300, start=T0)
    store.write_frame(SensorReading, frame.sample(frac=1.0, random_state=1))  # any order in
    got = store.read_frame(SensorReading, ["a"])
    expected = frame.assign(luminosity=np.nan, air_speed=np.nan)[field_names(SensorReading)]
    expected["timestamp"] = expected["timestamp"].astype("datetime64[us]")
    expected["device_id"] = expected["device_id"].astype("str")
    pd.testing.assert_frame_equal(got, expected)  # floats exact, NaN where missing


@pytest.mark.all_kinds
def test_write_frame_fills_defaults_and_converts_aware_timestamps(store):
    frame = pd.DataFrame({
        "device_id": ["a", "a"],
        "timestamp": [datetime(2024, 1, 1, 2, tzinfo=timezone(timedelta(hours=2))), datetime(2024, 1, 1, 1, tzinfo=UTC)],
        "power": [True, False],
    })  # fmt: skip
    assert store.write_frame(ApplianceState, frame) == 2
    states = store.read(ApplianceState, "a")
    assert [s.timestamp for s in states] == [datetime(2024, 1, 1, 0, 0), datetime(2024, 1, 1, 1, 0)]
    assert [s.origin for s in states] == ["user", "user"] and states[1].power is False


@pytest.mark.all_kinds
def test_write_frames_stores_every_kind_and_counts_new_ones(store, readings_frame):
    devices = pd.DataFrame({"device_id": ["a", "b"], "name": ["A", None]})
    readings_a, readings_b = readings_frame("a", 300), readings_frame("b", 40, seed=1)
    steps: list[int] = []
    parts = [(Device, devices), (SensorReading, readings_a), (SensorReading, readings_b)]
    assert store.write_frames(parts, progress=steps.append) == {"device": 2, "sensor_reading": 340}
    assert sum(steps) == 342  # every row reported once, whatever the steps
    assert store.write_frames(parts) == {"device": 0, "sensor_reading": 0}
    assert len(store.read_frame(SensorReading, ["a", "b"])) == 340
    assert [d.device_id for d in store.read(Device)] == ["a", "b"]


# -- reads --------------------------------------------------------------------------------


@pytest.fixture
def three_devices(store):
    records = readings("a", 10) + readings("b", 10) + readings("c", 3)
    random.Random(0).shuffle(records)
    store.write(records)
    return store


def test_read_by_device_and_half_open_range(three_devices):
    got = three_devices.read(SensorReading, "a", at(2), at(5))
    assert [r.timestamp for r in got] == [at(2), at(3), at(4)]
    assert {r.device_id for r in got} == {"a"}
    assert three_devices.read(SensorReading, "a", start=at(8)) == readings("a", 10)[8:]
    assert three_devices.read(SensorReading, "a", end=at(1)) == readings("a", 1)


def test_read_without_device_is_sorted_by_key(three_devices):
    got = three_devices.read(SensorReading)
    assert len(got) == 23
    assert [(r.device_id, r.timestamp) for r in got] == sorted((r.device_id, r.timestamp) for r in got)


def test_read_accepts_aware_and_pandas_bounds(three_devices):
    paris = timezone(timedelta(hours=2))
    aware = three_devices.read(SensorReading, "a", at(2).replace(tzinfo=UTC).astimezone(paris), at(5))
    assert [r.timestamp for r in aware] == [at(2), at(3), at(4)]
    stamps = three_devices.read(SensorReading, "a", pd.Timestamp(at(2)), pd.Timestamp(at(5)))
    assert stamps == aware


def test_newest_first_and_limit(three_devices):
    got = three_devices.read(SensorReading, "a", limit=3, newest_first=True)
    assert [r.timestamp for r in got] == [at(9), at(8), at(7)]
    assert [r.timestamp for r in three_devices.read(SensorReading, "a", limit=2)] == [at(0), at(1)]
    assert three_devices.read(SensorReading, "a", limit=0) == []


def test_latest(three_devices):
    assert three_devices.latest(SensorReading, "c") == readings("c", 3)[-1]
    assert three_devices.latest(SensorReading, "nobody") is None
    assert three_devices.latest(Weather, "a") is None  # a kind with no records yet


def test_read_frame_columns_dtypes_and_order(three_devices):
    frame = three_devices.read_frame(SensorReading, ["b", "a"], at(1), at(9))
    assert list(frame.columns) == field_names(SensorReading)
    assert str(frame["timestamp"].dtype) == "datetime64[us]"
    assert frame["temperature"].dtype == np.float64 and frame["humidity"].dtype == np.float64
    assert list(frame["device_id"]) == ["a"] * 8 + ["b"] * 8
    assert frame["timestamp"].is_monotonic_increasing is False  # sorted by (device, time), not time
    assert list(frame["timestamp"][:8]) == [pd.Timestamp(at(i)) for i in range(1, 9)]
    assert frame.index.equals(pd.RangeIndex(16))
    assert frame["luminosity"].isna().all()


def test_read_frame_of_everything_and_of_one_device(three_devices):
    assert len(three_devices.read_frame(SensorReading)) == 23
    assert list(three_devices.read_frame(SensorReading, "c")["device_id"]) == ["c"] * 3


@pytest.mark.all_kinds
def test_read_frame_empty_keeps_columns_and_dtypes(store):
    for kind in RECORD_KINDS.values():
        frame = store.read_frame(kind, ["nobody"])
        assert frame.empty and list(frame.columns) == field_names(kind)
        if kind.timed:
            assert str(frame["timestamp"].dtype) == "datetime64[us]"
    assert store.read_frame(SensorReading, []).empty


@pytest.mark.all_kinds
def test_read_frame_dtypes_match_across_kinds(store):
    store.write(one_of_each())
    states = store.read_frame(ApplianceState)
    assert states["power"].dtype == bool and states["power"].tolist() == [True]
    devices = store.read_frame(Device, ["dev-1"])
    assert devices.loc[0, "min_set_temperature"] == 17.5 and devices.loc[0, "city"] == "paris"
    weather = store.read_frame(Weather)
    assert weather.loc[0, "running_mean_temperature"] == 1.0 / 3.0 and np.isnan(weather.loc[0, "humidity"])


@pytest.mark.all_kinds
def test_non_timed_kinds_read_by_device(store):
    store.write([Device("a"), Device("b"), User("u1", device_id="a"), User("u2", device_id="b"), User("u3")])
    assert [d.device_id for d in store.read(Device, "b")] == ["b"]
    assert [u.user_id for u in store.read(User, "a")] == ["u1"]
    assert [u.user_id for u in store.read(User)] == ["u1", "u2", "u3"]
    with pytest.raises(DataError, match="no timestamp"):
        store.read(Device, start=T0)


def test_read_returns_records_not_rows(three_devices):
    record = three_devices.read(SensorReading, "a", limit=1)[0]
    assert type(record) is SensorReading and asdict(record) == asdict(readings("a", 1)[0])
    record.temperature = -99.0  # mutating what was read changes nothing stored
    assert three_devices.read(SensorReading, "a", limit=1)[0].temperature == 20.0


# -- validation ---------------------------------------------------------------------------


@pytest.mark.all_kinds
def test_domain_validation_applies_to_frames(store):
    votes = pd.DataFrame({"device_id": ["a", "a"], "timestamp": [at(0), at(1)], "value": [1.0, 5.0]})
    with pytest.raises(DataError, match=r"feedback row 1: feedback value 5.0 is outside"):
        store.write_frame(Feedback, votes)
    states = pd.DataFrame({"device_id": ["a"], "timestamp": [at(0)], "power": [True], "mode": ["turbo"]})
    with pytest.raises(DataError, match="mode 'turbo' is not one of"):
        store.write_frame(ApplianceState, states)
    targets = pd.DataFrame({"device_id": ["a"], "timestamp": [at(0)], "mode": ["temperature"]})
    with pytest.raises(DataError, match="needs a value"):
        store.write_frame(ControlTarget, targets)
    with pytest.raises(DataError, match="appliance_state.power"):
        store.write_frame(ApplianceState, states[["device_id", "timestamp"]].assign(power="yes"))
    assert sum(store.describe()["counts"].values()) == 0  # nothing half-written


def test_frames_are_checked_before_writing(store, readings_frame):
    frame = readings_frame("a", 5)
    with pytest.raises(DataError, match="unknown columns temp"):
        store.write_frame(SensorReading, frame.rename(columns={"humidity": "temp"}))
    with pytest.raises(DataError, match="lacks the required column temperature"):
        store.write_frame(SensorReading, frame.drop(columns="temperature"))
    with pytest.raises(DataError, match=r"sensor_reading.temperature is required but missing in 1 row"):
        store.write_frame(SensorReading, frame.assign(temperature=[20.0, np.nan, 21.0, 22.0, 23.0]))
    with pytest.raises(DataError, match="sensor_reading.temperature"):
        store.write_frame(SensorReading, frame.assign(temperature="warm"))
    assert store.describe()["counts"]["sensor_reading"] == 0


def test_write_refuses_what_is_not_a_record(store):
    with pytest.raises(DataError, match="not a skynet.domain record"):
        store.write([readings("a", 1)[0], {"device_id": "a"}])
    assert store.describe()["counts"]["sensor_reading"] == 0


def test_records_that_skip_their_checks_are_still_refused(store):
    reading = readings("a", 1)[0]
    reading.temperature = None  # mutated after construction
    with pytest.raises(DataError, match="temperature is required"):
        store.write([reading])


# -- opening ------------------------------------------------------------------------------


def test_unknown_scheme_lists_known_schemes():
    with pytest.raises(StorageError) as caught:
        open_store("cassandrax://user:secret@host/ks")
    message = str(caught.value)
    assert "unknown URL scheme 'cassandrax'" in message and "secret" not in message
    for scheme in known_schemes():
        assert scheme in message
    assert {"sqlite", "memory", "mysql+pymysql", "postgresql+psycopg"} <= set(known_schemes())


@pytest.mark.parametrize(
    ("url", "adapter"),
    [
        ("mysql+pymysql://skynet:secret@127.0.0.1:1/nowhere", "sql[mysql]"),
        ("postgresql+psycopg://skynet:secret@127.0.0.1:1/nowhere", "sql[postgresql]"),
        ("postgresql://skynet:secret@127.0.0.1:1/nowhere", "sql[postgresql]"),  # default driver: psycopg
        ("mysql://skynet:secret@127.0.0.1:1/nowhere", "sql[mysql]"),  # default driver: PyMySQL
        ("sqlite:////nonexistent-dir/sub/skynet.db", "sql[sqlite]"),
    ],
)
def test_unreachable_database_is_one_clear_line(url, adapter):
    with pytest.raises(StorageError) as caught:
        open_store(url)
    message = str(caught.value)
    assert caught.value.adapter == adapter and message.startswith(f"{adapter}: ")
    assert "\n" not in message and "secret" not in message
    assert "connecting to" in message


def test_malformed_url_is_a_storage_error():
    with pytest.raises(StorageError, match=r"sql\[postgresql\+psycopg\]: cannot open"):
        open_store("postgresql+psycopg://host:notaport/db")
