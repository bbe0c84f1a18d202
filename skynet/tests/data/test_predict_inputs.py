"""Predict inputs are checked against what is physically possible, in one place for every way in.

Issue 10, finding 9: ``user_model predict --temperature 500`` (or -273, ``--met 0``,
``--humidity 150``, NaN) answered with confidence. :func:`skynet.data.validated` is the check;
the user model's predict (options, ``--input`` files, the store's latest readings) and the
estimation model's commands go through it. A Hypothesis fuzz test feeds junk rows to the API:
the answer is a prediction of a possible room or a ``DataError``, never another exception.
"""

from __future__ import annotations

import math
from datetime import datetime

import hypothesis
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from skynet.config import load_settings
from skynet.data import PREDICT_RANGES, SET_TEMPERATURE, validated
from skynet.errors import MAX_ECHO, DataError

# --- the check itself ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"temperature": 500}, "temperature 500.0 is outside 0 … 50 (indoor air temperature (°C))"),
        ({"temperature": -273}, "temperature -273.0 is outside 0 … 50"),
        ({"temperature": 24, "metabolic_rate": 0}, "metabolic_rate 0.0 is outside 0.6 … 6 (metabolic rate (met))"),
        ({"temperature": 24, "humidity": 150}, "humidity 150.0 is outside 0 … 100"),
        ({"temperature": 24, "latitude": 91}, "latitude 91.0 is outside -90 … 90"),
        ({"temperature": float("inf")}, "temperature inf is outside 0 … 50"),
        ({"temperature": "warm"}, "temperature 'warm' is not a number (indoor air temperature (°C), 0 … 50)"),
        ({"temperature": True}, "temperature True is not a number"),
        ({"temperature": [24]}, "temperature [24] is not a number"),
        ({"temperature": 24, "timestamp": "yesterday-ish"}, "timestamp 'yesterday-ish' is not a date"),
        ({"temperature": 24, "timestamp": 2024}, "timestamp 2024 is not a date"),  # not 1970 in silence
        ({"humidity": 50}, "temperature is missing; it is required"),
    ],
)  # fmt: skip
def test_an_impossible_value_is_one_line_naming_field_value_and_range(row, message):
    with pytest.raises(DataError) as error:
        validated(pd.DataFrame([row]), name_rows=False)
    assert str(error.value) == message or str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_a_file_row_is_named_and_a_missing_optional_value_is_unknown_not_an_error():
    rows = pd.DataFrame({"temperature": [24.0, 25.0, 26.0], "humidity": [50.0, np.nan, 150.0]})
    with pytest.raises(DataError, match=r"^rows.csv, row 3: humidity 150.0 is outside 0 … 100"):
        validated(rows, where="rows.csv")
    ok = validated(rows.iloc[:2], where="rows.csv")
    assert ok["humidity"].isna().tolist() == [False, True]
    # a value a user typed as NaN is no answer, though
    with pytest.raises(DataError, match=r"^humidity nan is not a number"):
        validated(
            pd.DataFrame([{"temperature": 24.0, "humidity": float("nan")}]), name_rows=False, missing_ok=False
        )


def test_values_become_numbers_and_dates_naive_utc():
    rows = pd.DataFrame({"temperature": ["24.5", 25], "timestamp": ["2024-07-01T02:00+02:00", "2024-07-02"]})
    out = validated(rows)
    assert out["temperature"].tolist() == [24.5, 25.0]
    assert out["timestamp"].tolist() == [pd.Timestamp("2024-07-01 00:00"), pd.Timestamp("2024-07-02")]
    assert rows["temperature"].tolist() == ["24.5", 25]  # the caller's frame is left alone


def test_a_huge_value_is_echoed_cut():
    with pytest.raises(DataError) as error:
        validated(pd.DataFrame([{"temperature": "x" * 100_000}]))
    assert len(str(error.value)) < MAX_ECHO + 200 and "100,002 characters" in str(error.value)


def test_the_ranges_are_the_importers_ranges():
    from skynet.data import RANGES

    assert {k: v for k, v in PREDICT_RANGES.items() if k in RANGES} == {
        k: v for k, v in RANGES.items() if k != "value"
    }


# --- the user model's predict API: one check for conditions, files and the store -------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Settings of a data directory holding one small user model (trained once for the module)."""
    from skynet.api.user_model import train
    from skynet.models.user_model import sample_data

    home = tmp_path_factory.mktemp("predict-inputs")
    config = load_settings(None, environ={"SKYNET_GENERAL_DATA_DIR": str(home)})
    train(config, frame=sample_data(240, seed=4, n_devices=4), progress=False)
    return config


def test_predict_refuses_impossible_conditions_and_file_rows(trained, tmp_path):
    from skynet.api.user_model import predict

    for conditions, message in [
        ({"temperature": 500}, "temperature 500.0 is outside 0 … 50"),
        ({"temperature": "24", "metabolic_rate": "0"}, "metabolic_rate 0.0 is outside 0.6 … 6"),
        ({"temperature": 24, "humidity": float("nan")}, "humidity nan is not a number"),
        ({"temperature": 24, "humdity": 50}, "unknown condition 'humdity'; known: device_id"),
    ]:
        with pytest.raises(DataError, match=f"^{message}"):
            predict(trained, conditions=conditions)
    path = tmp_path / "rows.parquet"
    pd.DataFrame({"temperature": [22.0, 24.0], "air_speed": [0.1, -0.5]}).to_parquet(path)
    with pytest.raises(DataError, match=f"^{path}, row 2: air_speed -0.5 is outside 0 … 5"):
        predict(trained, path=path)
    name, rows = predict(
        trained, conditions={"temperature": "24", "humidity": None, "timestamp": "2024-07-01"}
    )
    assert rows[0]["temperature"] == 24.0 and rows[0]["timestamp"] == "2024-07-01T00:00:00"


def test_predict_refuses_an_impossible_stored_reading(trained):
    from skynet.api._context import open_records
    from skynet.api.user_model import predict
    from skynet.domain import Device, SensorReading

    with open_records(trained) as store:  # older data, or a backend that took it before checks existed
        store.write([Device("hot-1"), SensorReading("hot-1", datetime(2024, 7, 1, 12), temperature=500.0)])
    with pytest.raises(
        DataError, match=r"^device 'hot-1''s latest readings: temperature 500.0 is outside 0 … 50"
    ):
        predict(trained, device_id="hot-1")


# Junk of every kind a file, a form or a client can send, beside plausible values.
_JUNK = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from(
        ["nan", "inf", "-1e309", " 24 ", "2024-07-01", "2024-07-01T12:00+05:00", "0x1A", "1e3", ""]
    ),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
    st.floats(min_value=-80, max_value=120),
)
_KEYS = st.sampled_from([*PREDICT_RANGES, "timestamp", "climate", "building_type", "cooling_type", "device_id",
                         "user_id", "value", "humdity", ""])  # fmt: skip
# A possible room (any subset of the inputs, each inside its range), then up to two junk fields.
_POSSIBLE = st.fixed_dictionaries(
    {"temperature": st.floats(0, 50)},
    optional={
        **{
            column: st.floats(rng.low, rng.high)
            for column, rng in PREDICT_RANGES.items()
            if column != "temperature"
        },
        "timestamp": st.datetimes(datetime(1990, 1, 1), datetime(2100, 1, 1)).map(datetime.isoformat),
        "climate": st.sampled_from(["tropical", "hot semi-arid", "unheard of"]),
        "device_id": st.sampled_from(["dev-00", "dev-03", "new"]),
    },
)
_ROWS = st.builds(lambda good, junk: {**good, **junk}, _POSSIBLE, st.dictionaries(_KEYS, _JUNK, max_size=2))


def _check_answer(rows: list[dict], asked: list[dict]) -> None:
    """A prediction's rows: probabilities of a possible room, each input inside its range."""
    hypothesis.event("prediction")
    assert len(rows) == len(asked)
    for row in rows:
        probabilities = [row[f"p_{v}"] for v in range(-3, 4)]
        assert all(0.0 <= p <= 1.0 for p in probabilities) and math.isclose(sum(probabilities), 1.0)
        assert -3.0 <= row["expected"] <= 3.0
        for column, rng in PREDICT_RANGES.items():
            if column in row:
                assert rng.low <= float(row[column]) <= rng.high, (column, row[column])


@hypothesis.settings(max_examples=80, deadline=None, database=None)
@given(row=_ROWS)
def test_fuzz_conditions_give_a_prediction_or_a_data_error(trained, row):
    from skynet.api.user_model import predict

    try:
        _, rows = predict(trained, conditions=row)
    except DataError as error:
        hypothesis.event("DataError")
        assert "\n" not in str(error) and len(str(error)) < 2 * MAX_ECHO + 200
        return
    _check_answer(rows, [row])


@hypothesis.settings(max_examples=40, deadline=None, database=None)
@given(rows=st.lists(_ROWS, min_size=1, max_size=5))
def test_fuzz_input_files_give_a_prediction_or_a_data_error(trained, tmp_path_factory, rows):
    from skynet.api.user_model import predict

    path = tmp_path_factory.mktemp("fuzz") / "rows.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    try:
        _, out = predict(trained, path=path)
    except DataError as error:
        hypothesis.event("DataError")
        assert "\n" not in str(error)
        return
    _check_answer(out, rows)


# --- the estimation model's commands ---------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("cool:500", "command 'cool:500': set_temperature 500.0 is outside 8 … 32 (AC set temperature (°C))"),
        ("heat:-273", "command 'heat:-273': set_temperature -273.0 is outside 8 … 32"),
        ("cool:nan", "command 'cool:nan': set_temperature nan is not a number"),
        ("cool:inf:high", "command 'cool:inf:high': set_temperature inf is outside 8 … 32"),
    ],
)
def test_a_command_no_ac_accepts_is_refused(command, message):
    from skynet.api.estimation import parse_command

    with pytest.raises(DataError) as error:
        parse_command(command)
    assert str(error.value).startswith(message)


def test_a_possible_command_is_parsed():
    from skynet.api.estimation import parse_command

    low, high = SET_TEMPERATURE.low, SET_TEMPERATURE.high
    assert parse_command(f"heat:{low:g}")["set_temperature"] == low
    assert parse_command(f"cool:{high:g}:low") == {"power": True, "mode": "cool", "set_temperature": high,
                                                  "fan": "low"}  # fmt: skip


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ({"power": True, "mode": "cool", "set_temperature": 99}, "set_temperature 99.0 is outside 8 … 32"),
        ({"power": True, "mode": "blast", "set_temperature": 24}, "mode 'blast' is not one of cool"),
        ({"power": True, "mode": "cool", "set_temperature": 24, "fan": "turbo"}, "fan 'turbo' is not one of"),
        ({"power": "yes", "mode": "cool"}, "power 'yes' is not true or false"),
        ({"mode": "cool", "set_temperature": 24, "swing": 1}, "unknown field 'swing'"),
    ],
)
def test_a_command_given_as_a_mapping_is_checked_before_anything_is_read(settings, command, message):
    """The API's dict commands went to the model unchecked; now they fail before the model loads."""
    from skynet.api.estimation import predict

    with pytest.raises(DataError, match=message):
        predict(settings, "any-device", [command])
