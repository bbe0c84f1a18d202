"""SQLite frames through ADBC (Arrow): the same frames as the DBAPI cursor gives, the same rows
stored by staged bulk writes, and a quiet fallback to the cursor whenever the ADBC path can't run."""

from __future__ import annotations

import sqlite3
import tempfile
from contextlib import closing
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from skynet.domain import RECORD_KINDS, ApplianceState, Device, SensorReading
from skynet.errors import DataError
from skynet.storage import open_store
from skynet.storage.sql import _arrow
from skynet.tests.storage.test_contract import T0, at, one_of_each, readings

pytest.importorskip("adbc_driver_sqlite")


@pytest.fixture
def sqlite_store(tmp_path):
    with open_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        yield store


@pytest.fixture
def arrow_calls(monkeypatch):
    """What the ADBC path answered, call by call (None: it fell back)."""
    calls, fetch = [], _arrow.fetch_columns

    def spy(*args, **kwargs):
        calls.append(fetch(*args, **kwargs))
        return calls[-1]

    monkeypatch.setattr(_arrow, "fetch_columns", spy)
    return calls


def dbapi_frame(store, *args):
    uri, store._arrow_uri = store._arrow_uri, None
    try:
        return store.read_frame(*args)
    finally:
        store._arrow_uri = uri


def test_every_kind_reads_the_same_as_through_the_cursor(sqlite_store, arrow_calls):
    sqlite_store.write(one_of_each() + [Device("dev-2"), ApplianceState("dev-2", at(0), False, mode=None)])
    for kind in RECORD_KINDS.values():
        for devices in (None, ["dev-1"], ["dev-2", "dev-1"], ["nobody"]):
            frame = sqlite_store.read_frame(kind, devices)
            pd.testing.assert_frame_equal(frame, dbapi_frame(sqlite_store, kind, devices))
    assert len(arrow_calls) == 4 * len(RECORD_KINDS) and all(c is not None for c in arrow_calls)


def test_columns_that_start_null_are_typed_from_the_rest(sqlite_store, arrow_calls):
    n = 3000  # more than one default ADBC batch (1024 rows) of NULLs first
    humidity = np.full(n, np.nan)
    humidity[2500:] = 55.5
    frame = pd.DataFrame({
        "device_id": ["a"] * n,
        "timestamp": pd.date_range(T0, periods=n, freq="1min"),
        "temperature": np.linspace(15, 30, n),
        "humidity": humidity,
    })  # fmt: skip
    sqlite_store.write_frame(SensorReading, frame)
    got = sqlite_store.read_frame(SensorReading, ["a"], at(10), at(2990))
    assert arrow_calls[-1] is not None  # answered by ADBC, not by the fallback
    pd.testing.assert_frame_equal(got, dbapi_frame(sqlite_store, SensorReading, ["a"], at(10), at(2990)))
    assert got["humidity"].isna().sum() == 2490 and got["humidity"].iloc[-1] == 55.5
    assert got["luminosity"].isna().all() and got["luminosity"].dtype == np.float64
    assert got["timestamp"].iloc[0] == pd.Timestamp(T0 + timedelta(minutes=10))  # microseconds kept


def test_without_the_driver_the_cursor_reads(tmp_path, monkeypatch, arrow_calls):
    monkeypatch.setattr(_arrow, "available", lambda: False)
    with open_store(f"sqlite:///{tmp_path / 'plain.db'}") as store:
        store.write(one_of_each())
        assert store._arrow_uri is None
        assert store.read_frame(SensorReading)["temperature"].tolist() == [23.456789012345678]
    assert arrow_calls == []


def test_a_failing_adbc_read_falls_back(sqlite_store, tmp_path, arrow_calls):
    sqlite_store.write(one_of_each())
    sqlite_store._arrow_uri = _arrow.sqlite_uri(f"sqlite:///{tmp_path / 'gone' / 'missing.db'}")
    assert len(sqlite_store.read_frame(SensorReading)) == 1
    assert arrow_calls == [None]
    assert not (tmp_path / "gone").exists()  # mode=ro: no empty database created on the way


def test_sqlite_uri(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _arrow.sqlite_uri("sqlite:///rel/x.db") == f"file:{tmp_path}/rel/x.db?mode=ro"
    assert _arrow.sqlite_uri("sqlite:////tmp/a b#1.db") == "file:/tmp/a%20b%231.db?mode=ro"  # URI-quoted
    for url in (
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///x.db?timeout=5",
        "postgresql://h/db",
        "nonsense",
    ):
        assert _arrow.sqlite_uri(url) is None


def test_reads_leave_the_wal_to_the_stores_connections(sqlite_store, arrow_calls):
    """A read-write ADBC connection closing took itself for the last user and deleted the WAL
    under the store's sqlite3 connections: rows written after it were seen by no other connection."""
    sqlite_store.write(readings("dev-1", 5))
    assert len(sqlite_store.read_frame(SensorReading, ["dev-1"])) == 5
    sqlite_store.write(readings("dev-2", 7))
    assert len(sqlite_store.read_frame(SensorReading, ["dev-2"])) == 7
    assert all(c is not None for c in arrow_calls)
    path = sqlite_store._arrow_uri.split(":", 1)[1].split("?")[0]
    with closing(sqlite3.connect(path)) as other:  # another connection sees every row
        assert other.execute("SELECT COUNT(*) FROM sensor_readings").fetchone()[0] == 12


def raw_rows(store, table):
    """Every stored value with its SQLite type, in key order."""
    with store._engine.connect() as connection:
        cursor = connection.connection.cursor()
        names = [row[1] for row in cursor.execute(f"PRAGMA table_info({table})").fetchall()]
        typed = ", ".join([*names, *(f"typeof({n})" for n in names)])
        return cursor.execute(f"SELECT {typed} FROM {table} ORDER BY 1, 2").fetchall()


def mixed_frames():
    """A frame of each timed kind with missing values, bools and microseconds."""
    n = 3000
    rng = np.random.default_rng(3)
    stamps = pd.date_range(T0, periods=n, freq="1min")
    humidity = rng.uniform(30, 70, n)
    humidity[::7] = np.nan
    readings_ = pd.DataFrame({
        "device_id": np.repeat(["a", "b", "c"], n // 3), "timestamp": stamps, "temperature": rng.normal(24, 2, n),
        "humidity": humidity, "luminosity": np.round(rng.uniform(0, 500, n)),
    })  # fmt: skip
    states = pd.DataFrame({
        "device_id": "a", "timestamp": stamps, "power": rng.random(n) < 0.5,
        "mode": np.where(rng.random(n) < 0.2, None, "cool"), "set_temperature": 24.5, "fan": "auto",
        "origin": "user",
    })  # fmt: skip
    return {SensorReading: readings_, ApplianceState: states}


def test_staged_writes_store_what_the_cursor_stores(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # staged files go here
    stored = {}
    for path, rows in (("staged", 1), ("cursor", 10**9)):
        monkeypatch.setattr(_arrow, "WRITE_ROWS", rows)
        with open_store(f"sqlite:///{tmp_path / path}.db") as store:
            for kind, frame in mixed_frames().items():
                assert store.write_frame(kind, frame) == len(frame)
                assert store.write_frame(kind, frame.iloc[: len(frame) // 2]) == 0  # existing keys kept
            stored[path] = {t: raw_rows(store, t) for t in ("sensor_readings", "appliance_states")}
    assert stored["staged"] == stored["cursor"]
    assert len(stored["staged"]["sensor_readings"]) == 3000
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("skynet-load-")) == []


def test_a_staged_write_counts_only_new_rows(sqlite_store, monkeypatch):
    monkeypatch.setattr(_arrow, "WRITE_ROWS", 1)
    frame = mixed_frames()[SensorReading]
    assert sqlite_store.write_frame(SensorReading, frame.iloc[1000:2000]) == 1000
    assert sqlite_store.write_frame(SensorReading, pd.concat([frame, frame.iloc[:10]])) == 2000  # dups once
    assert sqlite_store.describe()["counts"]["sensor_reading"] == 3000


def test_a_failing_staging_writes_through_the_cursor(sqlite_store, monkeypatch):
    monkeypatch.setattr(_arrow, "WRITE_ROWS", 1)
    staged = []
    monkeypatch.setattr(_arrow, "stage_columns", lambda *a, **k: staged.append(1))  # returns None
    frame = mixed_frames()[SensorReading]
    assert sqlite_store.write_frame(SensorReading, frame) == len(frame)
    assert staged == [1] and len(sqlite_store.read_frame(SensorReading)) == len(frame)


def test_a_staged_write_refuses_too_long_ids_like_the_cursor(sqlite_store, monkeypatch):
    monkeypatch.setattr(_arrow, "WRITE_ROWS", 1)
    frame = mixed_frames()[SensorReading]
    frame.loc[5, "device_id"] = "x" * 65
    with pytest.raises(DataError, match="longer than 64"):
        sqlite_store.write_frame(SensorReading, frame)
    assert sqlite_store.describe()["counts"]["sensor_reading"] == 0
