"""SQLite frames through ADBC (Arrow): the same frames as the DBAPI cursor gives, and a quiet
fallback to it whenever the ADBC path can't answer."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from skynet.domain import RECORD_KINDS, ApplianceState, Device, SensorReading
from skynet.storage import open_store
from skynet.storage.sql import _arrow
from skynet.tests.storage.test_contract import T0, at, one_of_each

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
    assert not (tmp_path / "gone").exists()  # mode=rw: no empty database created on the way


def test_sqlite_uri(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _arrow.sqlite_uri("sqlite:///rel/x.db") == f"file:{tmp_path}/rel/x.db?mode=rw"
    assert _arrow.sqlite_uri("sqlite:////tmp/a b#1.db") == "file:/tmp/a%20b%231.db?mode=rw"  # URI-quoted
    for url in (
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///x.db?timeout=5",
        "postgresql://h/db",
        "nonsense",
    ):
        assert _arrow.sqlite_uri(url) is None
