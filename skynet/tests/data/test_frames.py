"""Joining stored records into the comfort frame."""

from __future__ import annotations

import numpy as np
import pandas as pd

from skynet.data import COMFORT_COLUMNS, comfort_frame, read_ashrae


def _frames():
    t = pd.Timestamp("2024-07-01 12:00")
    feedback = pd.DataFrame(
        {"device_id": ["a", "a", "b"], "timestamp": [t, t + pd.Timedelta("2h"), t], "value": [1.0, 0.0, -1.0],
         "user_id": ["u1", "u1", None], "clothing": [0.5, np.nan, 1.0], "metabolic_rate": [1.1, 1.2, np.nan]}
    )  # fmt: skip
    readings = pd.DataFrame(
        {"device_id": ["a", "a", "b"], "timestamp": [t - pd.Timedelta("5min"), t + pd.Timedelta("1h"),
                                                     t - pd.Timedelta("3h")],
         "temperature": [27.0, 24.0, 22.0], "humidity": [60.0, 50.0, 40.0], "luminosity": np.nan,
         "air_speed": [0.1, 0.2, 0.3]}
    )  # fmt: skip
    weather = pd.DataFrame(
        {"device_id": ["a"], "timestamp": [t.normalize()], "temperature": [31.0], "humidity": [70.0],
         "running_mean_temperature": [29.0]}
    )  # fmt: skip
    devices = pd.DataFrame(
        {"device_id": ["a", "b"], "latitude": [40.0, -30.0], "climate": ["x", "y"],
         "building_type": ["multifamily housing", None], "cooling_type": [None, None]}
    )  # fmt: skip
    return feedback, readings, weather, devices


def test_each_vote_gets_the_latest_reading_within_tolerance():
    out = comfort_frame(*_frames())
    assert list(out.columns) == COMFORT_COLUMNS
    a = out[out["device_id"] == "a"]
    # the 12:00 vote sees the 11:55 reading; the 14:00 vote's newest reading (13:00) is too old
    assert a["temperature"].tolist() == [27.0]
    assert a["outdoor_temperature"].tolist() == [31.0]
    # device b's only reading is 3 h old: no climate, so the vote is dropped
    assert "b" not in set(out["device_id"])


def test_a_vote_without_outdoor_values_gets_the_days_weather(small_db2):
    data = read_ashrae(*small_db2)
    b3 = data.comfort[data.comfort["device_id"] == "ashrae-3"]
    # record 6 has no t_out_isd of its own; its building's weather that day is 20 °C
    assert b3["outdoor_temperature"].tolist() == [20.0, 20.0, 20.0]
    assert len(data.comfort) == len(data.feedback)
