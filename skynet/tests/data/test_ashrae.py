"""Reading ASHRAE DB II: validation, synthetic timestamps, record frames."""

from __future__ import annotations

import pandas as pd
import pytest

from skynet.data import COMFORT_COLUMNS, read_ashrae
from skynet.domain import Device, Feedback, SensorReading, User, Weather, field_names
from skynet.errors import DataError


def test_good_rows_become_records_and_bad_rows_are_counted(small_db2):
    measurements, metadata = small_db2
    data = read_ashrae(measurements, metadata)
    assert data.rows_read == 13
    assert len(data.feedback) == 8
    assert data.skipped == {
        "building not in the metadata file": 1,
        "no thermal sensation vote": 1,
        "thermal sensation vote outside -3…3": 1,
        "indoor air temperature (°C) outside 0…50": 1,
        "indoor relative humidity (%) outside 0…100": 1,
    }
    assert data.n_skipped == data.rows_read - len(data.feedback)
    assert sorted(data.devices["device_id"]) == ["ashrae-1", "ashrae-2", "ashrae-3"]
    assert data.feedback["value"].between(-3, 3).all()


def test_frames_have_the_domain_columns(small_db2):
    data = read_ashrae(*small_db2)
    assert list(data.devices.columns) == field_names(Device)
    assert list(data.users.columns) == field_names(User)
    assert list(data.feedback.columns) == field_names(Feedback)
    assert list(data.readings.columns) == field_names(SensorReading)
    assert list(data.weather.columns) == field_names(Weather)
    assert list(data.comfort.columns) == COMFORT_COLUMNS


def test_timestamps_are_distinct_and_deterministic(small_db2):
    first = read_ashrae(*small_db2).feedback
    again = read_ashrae(*small_db2).feedback
    pd.testing.assert_frame_equal(first, again)
    assert not first.duplicated(["device_id", "timestamp"]).any()
    b1 = first[first["device_id"] == "ashrae-1"]["timestamp"].tolist()
    assert b1[:2] == [pd.Timestamp("2001-07-02 08:00:00"), pd.Timestamp("2001-07-02 08:00:10")]


def test_missing_day_comes_from_year_season_and_hemisphere(small_db2):
    feedback = read_ashrae(*small_db2).feedback
    b2 = feedback[feedback["device_id"] == "ashrae-2"].set_index("value")["timestamp"]
    # Sydney (south): summer is January, winter is July; study year 1998.
    assert b2[-1.0].month == 1 and b2[-1.0].year == 1998
    assert b2[-2.0].month == 7


def test_optional_values_stay_missing_and_weather_is_daily(small_db2):
    data = read_ashrae(*small_db2)
    b3 = data.comfort[data.comfort["device_id"] == "ashrae-3"]
    assert b3["clothing"].isna().sum() == 1
    assert b3["user_id"].isna().sum() == 1
    assert set(data.weather["timestamp"].dt.hour) == {0}
    assert not data.weather.duplicated(["device_id", "timestamp"]).any()
    assert data.users["user_id"].str.startswith("ashrae-").all()


def test_missing_file_is_a_clear_error(tmp_path, small_db2):
    with pytest.raises(DataError, match="does not exist"):
        read_ashrae(tmp_path / "nope.csv.gz", small_db2[1])


def test_wrong_file_names_missing_columns(tmp_path, small_db2):
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("a,b\n1,2\n")
    with pytest.raises(
        DataError, match=r"wrong\.csv: not a DB II measurements file, missing columns record_id"
    ):
        read_ashrae(wrong, small_db2[1])
