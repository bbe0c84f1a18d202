"""The estimation frame: lags, targets, the AC state in force, weather and the local hour."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from skynet.data import ESTIMATION_INPUTS, LAGS, estimation_frame, estimation_state, estimation_targets
from skynet.errors import DataError

T0 = pd.Timestamp("2025-07-01 10:00")


def _minutes(m):
    return T0 + pd.to_timedelta(m, unit="min")


def _readings(device="a", minutes=range(0, 181), every=1):
    m = np.array([x for x in minutes if x % every == 0])
    return pd.DataFrame({"device_id": device, "timestamp": _minutes(m), "temperature": 20.0 + 0.01 * m,
                         "humidity": 50.0 + 0.1 * m})  # fmt: skip


def _states(device="a", rows=((0, True, "cool", 24.0, "auto"), (100, False, "cool", 24.0, "auto"))):
    return pd.DataFrame([{"device_id": device, "timestamp": _minutes(m), "power": p, "mode": mode,
                          "set_temperature": t, "fan": fan, "origin": "user"} for m, p, mode, t, fan in rows])  # fmt: skip


def _weather(device="a", minutes=range(0, 181, 30)):
    m = np.array(list(minutes))
    return pd.DataFrame({"device_id": device, "timestamp": _minutes(m), "temperature": 30.0 + m / 60,
                         "humidity": 70.0, "running_mean_temperature": 25.0})  # fmt: skip


def test_rows_hold_lags_state_weather_and_targets():
    devices = pd.DataFrame({"device_id": ["a"], "timezone": ["Europe/Paris"]})
    out = estimation_frame(_readings(), _states(), _weather(), devices, step=5)
    assert list(out.columns) == ["device_id", "timestamp", *ESTIMATION_INPUTS, *estimation_targets()]
    row = out.set_index("timestamp").loc[_minutes(40)]
    assert row["temperature"] == pytest.approx(20.4)
    for lag in LAGS:
        assert row[f"temperature_lag{lag}"] == pytest.approx(20.0 + 0.01 * (40 - lag))
        assert row[f"humidity_lag{lag}"] == pytest.approx(50.0 + 0.1 * (40 - lag))
    assert row["temperature_mean30"] == pytest.approx(20.0 + 0.01 * np.mean(np.arange(11, 41)))
    assert (row["power"], row["mode"], row["set_temperature"], row["fan"]) == (1.0, "cool", 24.0, "auto")
    assert row["ac_minutes"] == 40.0
    assert row["outdoor_temperature"] == pytest.approx(30.5)  # the 10:30 record, not the 11:00 one
    assert row["hour"] == pytest.approx(12 + 40 / 60)  # UTC+2 in July
    assert row["temperature_5m"] == pytest.approx(20.45)
    assert row["temperature_60m"] == pytest.approx(21.0)
    assert row["humidity_30m"] == pytest.approx(57.0)
    assert len(out) == 181 // 5 + 1


def test_a_target_after_the_ac_state_changed_is_blank():
    out = estimation_frame(_readings(), _states(), _weather(), step=5).set_index("timestamp")
    row = out.loc[_minutes(60)]  # the unit switches off at minute 100
    assert np.isfinite(row[["temperature_5m", "temperature_15m", "temperature_30m"]].astype(float)).all()
    assert np.isnan(row["temperature_60m"]) and np.isnan(row["humidity_60m"])
    after = out.loc[_minutes(100)]
    assert after["power"] == 0.0 and after["ac_minutes"] == 0.0
    kept = estimation_frame(_readings(), _states(), _weather(), step=5, hold=False).set_index("timestamp")
    assert kept.loc[_minutes(60), "temperature_60m"] == pytest.approx(21.2)


def test_repeated_states_do_not_count_as_changes():
    rows = ((0, True, "cool", 24.0, "auto"), (20, True, "cool", 24.0, "auto"), (30, False, "cool", 24.0, "low"),
            (50, False, "heat", 20.0, "high"))  # fmt: skip
    out = estimation_frame(_readings(), _states(rows=rows), _weather(), step=5).set_index("timestamp")
    assert out.loc[_minutes(25), "ac_minutes"] == 25.0  # the resent command at 20 changed nothing
    assert out.loc[_minutes(55), "ac_minutes"] == 25.0  # off stays off whatever else it says
    assert out.loc[_minutes(10), "temperature_15m"] == pytest.approx(20.25)
    assert np.isnan(out.loc[_minutes(10), "temperature_30m"])


def test_sparse_readings_are_interpolated_but_anchors_are_real():
    readings = _readings(every=15)
    out = estimation_frame(readings, _states(), _weather(), step=5)
    assert set(out["timestamp"]) <= set(readings["timestamp"])  # the "now" is never interpolated
    row = out.set_index("timestamp").loc[_minutes(45)]
    assert row["temperature_lag2"] == pytest.approx(20.43)
    assert row["temperature_5m"] == pytest.approx(20.5)


def test_gaps_longer_than_max_gap_are_not_bridged():
    readings = _readings(minutes=[*range(0, 40), *range(100, 181)])
    out = estimation_frame(readings, _states(), _weather(), step=5).set_index("timestamp")
    assert np.isnan(out.loc[_minutes(30), "temperature_30m"])
    assert np.isnan(out.loc[_minutes(100), "temperature_lag5"])
    assert out.loc[_minutes(30), "temperature_5m"] == pytest.approx(20.35)


def test_rows_without_state_or_weather_are_dropped_and_devices_kept_apart():
    readings = pd.concat([_readings("a"), _readings("b")])
    states = pd.concat([_states("a", rows=((30, True, "heat", 22.0, "low"),)), _states("b")])
    weather = pd.concat([_weather("a", range(0, 61, 30)), _weather("b")])
    out = estimation_frame(readings, states, weather, step=10, weather_tolerance=pd.Timedelta("1h"))
    a = out[out["device_id"] == "a"]
    assert a["timestamp"].min() == _minutes(30) and a["timestamp"].max() == _minutes(60 + 60)
    assert (out[out["device_id"] == "b"]["mode"] == "cool").all()
    assert (a["mode"] == "heat").all() and len(out[out["device_id"] == "b"]) == 19


def test_bad_input_is_a_data_error():
    with pytest.raises(DataError, match="humidity"):
        estimation_frame(_readings().drop(columns="humidity"), _states(), _weather())
    with pytest.raises(DataError, match="mode 'turbo'"):
        estimation_frame(_readings(), _states(rows=((0, True, "turbo", 24.0, "auto"),)), _weather())
    with pytest.raises(DataError, match="step"):
        estimation_frame(_readings(), _states(), _weather(), step=0)
    empty = estimation_frame(_readings("a"), _states("b"), _weather("b"))
    assert empty.empty and "temperature_30m" in empty.columns


def test_state_is_the_newest_reading_with_its_context():
    state = estimation_state(_readings(), _states(), _weather(), at=_minutes(50.5))
    assert state["device_id"] == "a" and state["timestamp"] == _minutes(50)
    assert set(ESTIMATION_INPUTS) <= set(state)
    assert state["temperature"] == pytest.approx(20.5) and state["temperature_lag30"] == pytest.approx(20.2)
    assert state["power"] == 1.0 and state["ac_minutes"] == 50.0
    with pytest.raises(DataError, match="no sensor reading"):
        estimation_state(_readings(), _states(), _weather(), at=_minutes(-1))
