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
    # survey day, 08:00 + 100 ms per record_id (records 1 and 2)
    assert b1[:2] == [pd.Timestamp("2001-07-02 08:00:00.1"), pd.Timestamp("2001-07-02 08:00:00.2")]


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


# -- keys from the record itself (issue 10, finding 6) ----------------------------------------------


def _write_db2(path, rows):
    from skynet.tests.conftest import _DB2_COLUMNS

    frame = pd.DataFrame(rows, columns=_DB2_COLUMNS)
    frame.to_csv(path, index=False)
    return path


def _day_rows(changes=None):
    """Four votes of building 1 on one day (records 1-4); ``changes`` (position -> row) replaces some."""
    from skynet.tests.conftest import _row

    rows = {i: _row(i, 1, "2001-07-02T00:00:00Z", "summer", 22.0 + i, i - 1) for i in range(4)}
    rows.update(changes or {})
    return [rows[i] for i in sorted(rows)]


def _keyed(feedback):
    return feedback.set_index(["device_id", "timestamp"]).sort_index()


def test_a_votes_time_comes_from_its_record_id_not_from_the_rows_around_it(tmp_path, small_db2):
    from skynet.tests.conftest import _row

    metadata = small_db2[1]
    good = read_ashrae(_write_db2(tmp_path / "good.csv", _day_rows()), metadata).feedback
    bad_vote = _row(1, 1, "2001-07-02T00:00:00Z", "summer", 23.0, 5)  # record 2: off the scale
    faulty = read_ashrae(_write_db2(tmp_path / "faulty.csv", _day_rows({1: bad_vote})), metadata)
    assert faulty.skipped == {"thermal sensation vote outside -3…3": 1}
    # the three good votes keep the keys and values they have in the corrected file
    expected = _keyed(good).drop(index=("ashrae-1", pd.Timestamp("2001-07-02 08:00:00.2")))
    pd.testing.assert_frame_equal(_keyed(faulty.feedback), expected)
    assert good["timestamp"].tolist() == [pd.Timestamp(f"2001-07-02 08:00:00.{i}") for i in (1, 2, 3, 4)]


def test_a_repeated_row_is_read_once_and_clashing_record_ids_are_skipped(tmp_path, small_db2):
    from skynet.tests.conftest import _row

    rows = _day_rows()
    clash = _row(2, 1, "2001-07-02T00:00:00Z", "summer", 30.0, -2)  # record 3 again, other values
    data = read_ashrae(_write_db2(tmp_path / "m.csv", [*rows, rows[0], rows[0], clash]), small_db2[1])
    assert data.rows_read == 7
    assert data.skipped == {
        "row repeated (same record_id and values)": 2,
        "record_id repeated with different values": 2,
    }
    assert data.feedback["value"].tolist() == [-1.0, 0.0, 2.0]  # records 1, 2 and 4
    assert data.rows_read == len(data.feedback) + data.n_skipped


def test_a_row_without_record_id_is_skipped(tmp_path, small_db2):
    rows = _day_rows()
    rows[3]["record_id"] = None
    data = read_ashrae(_write_db2(tmp_path / "m.csv", rows), small_db2[1])
    assert data.skipped == {"no record_id": 1} and len(data.feedback) == 3


def test_the_days_weather_is_its_lowest_record_ids_whatever_rows_survive(tmp_path, small_db2):
    from skynet.tests.conftest import _row

    rows = _day_rows()
    rows[0]["t_out_isd"] = 25.0  # record 1 disagrees with the others (20 °C)
    with_first = read_ashrae(_write_db2(tmp_path / "a.csv", rows), small_db2[1]).weather
    assert with_first["temperature"].tolist() == [25.0]
    rows[0] = _row(0, 1, "2001-07-02T00:00:00Z", "summer", 22.0, 9)  # record 1 now skipped
    assert read_ashrae(_write_db2(tmp_path / "b.csv", rows), small_db2[1]).weather[
        "temperature"
    ].tolist() == [20.0]


@pytest.mark.parametrize(
    ("which", "column", "value", "row", "why"),
    [
        ("measurements", "building_id", "B-12", 3, "is not a whole number"),
        ("measurements", "building_id", "1.5", 2, "is not a whole number"),
        ("measurements", "record_id", "abc", 4, "is not a whole number"),
        ("measurements", "record_id", "-7", 1, "is outside 0…35,999,999,999"),
        ("metadata", "building_id", "twelve", 2, "is not a whole number"),
    ],
)
def test_an_id_that_is_not_a_whole_number_names_file_row_and_column(
    tmp_path, small_db2, which, column, value, row, why
):
    measurements = _write_db2(tmp_path / "measurements.csv", _day_rows())
    metadata = pd.read_csv(small_db2[1])
    target = pd.read_csv(measurements) if which == "measurements" else metadata
    target[column] = target[column].astype(object)
    target.loc[row - 1, column] = value
    path = tmp_path / f"{which}-edited.csv"
    target.to_csv(path, index=False)
    files = (path, small_db2[1]) if which == "measurements" else (measurements, path)
    with pytest.raises(DataError) as caught:
        read_ashrae(*files)
    assert str(caught.value) == f"{path} row {row}, column {column}: '{value}' {why}"


def test_files_with_a_header_and_no_rows_give_empty_frames(tmp_path, small_db2):
    empty = _write_db2(tmp_path / "empty.csv", [])
    data = read_ashrae(empty, small_db2[1])
    assert data.rows_read == 0 and data.feedback.empty and data.devices.empty and data.skipped == {}
    no_buildings = tmp_path / "metadata.csv"
    pd.read_csv(small_db2[1]).head(0).to_csv(no_buildings, index=False)
    data = read_ashrae(_write_db2(tmp_path / "m.csv", _day_rows()), no_buildings)
    assert data.skipped == {"building not in the metadata file": 4} and data.feedback.empty
