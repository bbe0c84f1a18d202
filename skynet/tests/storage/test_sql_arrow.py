"""SQLite bulk writes staged through ADBC (Arrow): the same rows as the DBAPI cursor stores, a quiet
fallback to the cursor whenever staging can't run, and the store's WAL left alone (ADBC's own
SQLite never opens the store's file)."""

from __future__ import annotations

import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd
import pytest

from skynet.domain import ApplianceState, SensorReading
from skynet.errors import DataError
from skynet.storage import open_store
from skynet.storage.sql import _arrow
from skynet.tests.storage.test_contract import T0, readings

pytest.importorskip("adbc_driver_sqlite")


@pytest.fixture
def sqlite_store(tmp_path):
    with open_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        yield store


def test_without_the_driver_frames_are_written_through_the_cursor(tmp_path, monkeypatch):
    monkeypatch.setattr(_arrow, "available", lambda: False)
    monkeypatch.setattr(_arrow, "stage_columns", lambda *a, **k: pytest.fail("staged without the driver"))
    with open_store(f"sqlite:///{tmp_path / 'plain.db'}") as store:
        frame = mixed_frames()[SensorReading]
        assert store.write_frame(SensorReading, frame) == len(frame)
        assert len(store.read_frame(SensorReading)) == len(frame)


OTHER_PROCESS = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1])
print(connection.execute("SELECT COUNT(*) FROM sensor_readings").fetchone()[0])
connection.close()
"""


def other_process_count(path) -> int:
    """Rows another process sees; it opens and closes the database (the last user checkpoints)."""
    done = subprocess.run(
        [sys.executable, "-c", OTHER_PROCESS, str(path)], capture_output=True, text=True, check=True
    )
    return int(done.stdout)


def test_the_wal_stays_under_the_stores_connections(tmp_path):
    """ADBC's own SQLite must not open the store's file: closing it dropped the POSIX locks of the
    store's sqlite3 connections, another process closing the database then deleted the WAL file under
    them, and their later commits went to the deleted file, unseen by any other connection."""
    path = tmp_path / "store.db"
    with open_store(f"sqlite:///{path}") as store:
        store.write(readings("dev-1", 5))
        big = mixed_frames()[SensorReading]
        assert store.write_frame(SensorReading, big) == len(big)  # staged: ADBC writes a scratch file only
        assert len(store.read_frame(SensorReading, ["dev-1"])) == 5
        assert other_process_count(path) == 5 + len(big)
        assert (tmp_path / "store.db-wal").exists()  # still the store's connections' WAL
        store.write(readings("dev-2", 7))
        assert other_process_count(path) == 12 + len(big)


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
