"""``write_frames`` on SQL stores is one transaction: a write cut short stores nothing.

An import is cut short after its first part is in the database (the progress callback raises,
as a Ctrl-C there would): SQLite (through the cursor and through staged ADBC files), MariaDB
and PostgreSQL roll all of it back, and the same write run again stores everything.
"""

from __future__ import annotations

import pandas as pd
import pytest

from skynet.domain import Device, SensorReading
from skynet.errors import DataError
from skynet.storage import open_store
from skynet.tests.storage.conftest import _clean_url


class _Cut(Exception):
    """The interruption."""


@pytest.fixture(
    params=[
        pytest.param(("sqlite", False), id="sqlite"),
        pytest.param(("sqlite", True), id="sqlite-staged"),
        pytest.param(("mysql", False), id="mysql", marks=pytest.mark.integration),
        pytest.param(("postgresql", False), id="postgresql", marks=pytest.mark.integration),
    ]
)
def sql_store(request, tmp_path, monkeypatch):
    backend, staged = request.param
    if staged:  # every frame staged through ADBC, however small
        pytest.importorskip("adbc_driver_sqlite")
        from skynet.storage.sql import _arrow

        monkeypatch.setattr(_arrow, "WRITE_ROWS", 1)
    for url in _clean_url(backend, tmp_path, request.node.name):
        with open_store(url) as store:
            yield store


def _parts(readings_frame):
    devices = pd.DataFrame({"device_id": ["a", "b"]})
    return [
        (Device, devices),
        (SensorReading, readings_frame("a", 50)),
        (SensorReading, readings_frame("b", 50)),
    ]


def test_a_write_cut_short_stores_nothing_and_running_it_again_stores_all(sql_store, readings_frame):
    calls = []

    def cut_after_first(rows: int) -> None:
        calls.append(rows)
        raise _Cut  # the devices are written when this runs

    with pytest.raises(_Cut):
        sql_store.write_frames(_parts(readings_frame), progress=cut_after_first)
    assert calls == [2]
    assert sql_store.describe()["counts"]["device"] == 0
    assert sql_store.describe()["counts"]["sensor_reading"] == 0
    assert sql_store.write_frames(_parts(readings_frame)) == {"device": 2, "sensor_reading": 100}


def test_a_bad_frame_is_refused_before_anything_is_written(sql_store, readings_frame):
    too_long = pd.DataFrame({"device_id": ["x" * 500]})
    with pytest.raises(DataError, match="longer than"):
        sql_store.write_frames([*_parts(readings_frame), (Device, too_long)])
    assert sum(sql_store.describe()["counts"].values()) == 0
