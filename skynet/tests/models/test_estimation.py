"""The estimation model on simulated homes: physics it learns, unseen rooms, the fast candidate path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from skynet.data import ESTIMATION_INPUTS, HORIZONS, LAGS, WINDOW, estimation_frame
from skynet.domain import AC_MODES, FAN_SPEEDS
from skynet.errors import DataError, NotFittedError
from skynet.models.estimation import (
    FEATURE_NAMES,
    EstimationModel,
    Persistence,
    RcModel,
    encode_commands,
    evaluate,
    plot_forecasts,
    sample_data,
    split_devices,
)
from skynet.models.estimation import _features as F

FAST = {"epochs": 25, "patience": 5}


@pytest.fixture(scope="module")
def sim_frame():
    """The estimation frame of 16 simulated hot-humid homes over 5 days (AC busy)."""
    from skynet.sim import simulate_fleet

    result = simulate_fleet(16, 5, seed=11, climate="hot-humid", keep_truth=False)
    kinds = ("sensor_reading", "appliance_state", "weather", "device")
    return estimation_frame(*(result.frame(kind) for kind in kinds))


@pytest.fixture(scope="module")
def sim_model(sim_frame):
    train, _ = split_devices(sim_frame["device_id"].unique(), 0.25, seed=0)
    return EstimationModel(**FAST).fit(sim_frame[sim_frame["device_id"].isin(train)])


def _warm_room(**changes):
    state = {"temperature": 29.0, "humidity": 65.0, "power": 0.0, "mode": "cool", "set_temperature": 25.0,
             "fan": "auto", "ac_minutes": 120.0, "outdoor_temperature": 33.0, "outdoor_humidity": 70.0,
             "hour": 15.0, **{f"temperature_lag{lag}": 29.0 - 0.002 * lag for lag in LAGS},
             **{f"humidity_lag{lag}": 65.0 for lag in LAGS}, f"temperature_mean{WINDOW}": 28.97,
             f"humidity_mean{WINDOW}": 65.0}  # fmt: skip
    return {**state, **changes}


def test_the_models_inputs_are_the_frames_columns():
    assert F.LAGS == LAGS and WINDOW == 30 and set(F.INPUTS) == set(ESTIMATION_INPUTS)
    assert {f"temperature_lag{lag}" for lag in LAGS} <= set(ESTIMATION_INPUTS)
    assert tuple(EstimationModel().horizons) == HORIZONS
    assert not [name for name in FEATURE_NAMES if "device" in name]  # nothing identifies a room


def test_it_learns_that_cooling_lowers_the_temperature(sim_model):
    commands = encode_commands([
        {"power": False, "mode": "cool", "set_temperature": 25.0, "fan": "auto"},
        {"power": True, "mode": "cool", "set_temperature": 24.0, "fan": "auto"},
        {"power": True, "mode": "cool", "set_temperature": 18.0, "fan": "high"},
        {"power": True, "mode": "cool", "set_temperature": 28.5, "fan": "auto"},
    ])  # fmt: skip
    forecast = sim_model.predict_candidates(_warm_room(), commands)
    t = forecast.temperature
    assert t.shape == (4, len(HORIZONS))
    for horizon in (HORIZONS.index(30), HORIZONS.index(60)):
        assert t[1, horizon] < t[0, horizon] - 1.0  # cooling vs off
        assert t[2, horizon] < t[3, horizon]  # a set point far below the room vs one just under it
    assert t[0, HORIZONS.index(30)] > 28.0  # a warm room with the unit off stays warm
    assert forecast.humidity[1, -1] < forecast.humidity[0, -1]  # the coil dries the air


def test_unseen_devices_beat_persistence_at_30_minutes(sim_frame):
    result = evaluate(sim_frame, FAST, test_share=0.25, seed=0)
    assert len(result.test_devices) == 4 and not set(result.test_devices) & set(result.train_devices)
    rows = {(r["quantity"], r["horizon_min"]): r for r in result.table}
    t30 = rows[("temperature", 30)]
    assert t30["rows"] > 500
    assert t30["rmse_estimation"] < t30["rmse_persistence"]
    assert t30["mae_estimation"] < t30["mae_persistence"]
    assert rows[("humidity", 30)]["rmse_estimation"] < rows[("humidity", 30)]["rmse_persistence"]
    assert set(result.predictions["device_id"]) == set(result.test_devices)
    assert result.rc["per_device"] + result.rc["pooled"] == 4


def test_predict_candidates_equals_predict_rows(sim_model, sim_frame):
    rows = sim_frame.sample(25, random_state=3).reset_index(drop=True)
    rng = np.random.default_rng(0)
    cands = np.column_stack([rng.random(40) < 0.8, rng.integers(0, len(AC_MODES), 40),
                             np.round(rng.uniform(16, 30, 40) * 2) / 2, rng.integers(0, len(FAN_SPEEDS), 40)])  # fmt: skip
    cands = cands.astype(float)
    for _, row in rows.iterrows():
        state = row.to_dict()
        fast = sim_model.predict_candidates(state, cands)
        frame = pd.DataFrame([state] * len(cands))
        frame["power"], frame["set_temperature"] = cands[:, 0], cands[:, 2]
        frame["mode"] = np.array(AC_MODES, dtype=object)[cands[:, 1].astype(int)]
        frame["fan"] = np.array(FAN_SPEEDS, dtype=object)[cands[:, 3].astype(int)]
        same = (cands[:, 0] == 0) if state["power"] == 0 else (
            (cands[:, 0] == 1) & (frame["mode"] == state["mode"]).to_numpy() & (frame["fan"] == state["fan"]).to_numpy()
            & (cands[:, 2] == state["set_temperature"]))  # fmt: skip
        frame["ac_minutes"] = np.where(same, state["ac_minutes"], 0.0)
        slow = sim_model.predict(frame)
        k = len(HORIZONS)
        np.testing.assert_allclose(fast.temperature, slow.to_numpy()[:, :k], rtol=0, atol=1e-9)
        np.testing.assert_allclose(fast.humidity, slow.to_numpy()[:, k:], rtol=0, atol=1e-9)


def test_candidates_may_be_dicts_and_lags_may_be_unknown_but_never_absent(sim_model):
    state = {k: (np.nan if "lag" in k or "mean" in k else v) for k, v in _warm_room().items()}
    out = sim_model.predict_candidates(
        state, [{"power": True, "mode": "dry", "set_temperature": 24, "fan": "low"}]
    )
    assert out.temperature.shape == (1, 4) and np.isfinite(out.temperature).all()
    assert ((out.humidity >= 0) & (out.humidity <= 100)).all()
    absent = {k: v for k, v in _warm_room().items() if k != "temperature_lag5"}
    with pytest.raises(DataError, match="lacks temperature_lag5"):  # a missing key is an error, not a NaN
        sim_model.predict_candidates(absent, np.zeros((1, 4)))
    with pytest.raises(DataError, match="lacks the column.*humidity_mean30"):
        sim_model.predict(pd.DataFrame([_warm_room()]).drop(columns=["humidity_mean30"]))
    with pytest.raises(DataError, match="outdoor_temperature"):
        sim_model.predict_candidates(_warm_room(outdoor_temperature=None), np.zeros((1, 4)))
    with pytest.raises(DataError, match="mode 'turbo'"):
        encode_commands([{"power": True, "mode": "turbo", "set_temperature": 24, "fan": "low"}])
    with pytest.raises(DataError, match=r"\(n, 4\)"):
        encode_commands(np.zeros((2, 3)))


def test_predict_shapes_index_and_errors(sim_model, sim_frame):
    rows = sim_frame.iloc[[5, 50, 500]]
    out = sim_model.predict(rows)
    assert list(out.index) == list(rows.index) and out.shape == (3, 8)
    assert list(out.columns) == sim_model.targets
    with pytest.raises(NotFittedError):
        EstimationModel().predict_candidates(_warm_room(), np.zeros((1, 4)))
    with pytest.raises(DataError, match="missing outdoor_temperature"):
        sim_model.predict(rows.assign(outdoor_temperature=np.nan))
    with pytest.raises(DataError, match="target column"):
        EstimationModel().fit(rows.drop(columns="humidity_60m"))
    with pytest.raises(DataError, match="too few rows"):
        EstimationModel().fit(rows)


def test_baselines_on_their_own_terms():
    data = sample_data(600, seed=2)
    assert np.allclose(Persistence().predict(data)["temperature_60m"], data["temperature"])
    rc = RcModel(min_rows=50).fit(data)
    assert len(rc.params_) + len(rc.pooled_) == data["device_id"].nunique()
    out = rc.predict(data)
    assert out.shape == (600, 8) and np.isfinite(out.to_numpy()).all()
    with pytest.raises(DataError, match="multiple"):
        RcModel((5, 7))


def test_forecast_plots_are_written(sim_frame, tmp_path):
    two = sim_frame[sim_frame["device_id"].isin(sorted(sim_frame["device_id"].unique())[:4])]
    devices = sorted(two["device_id"].unique())
    result = evaluate(two, {"epochs": 3}, test_devices=devices[:1], train_devices=devices)
    assert result.train_devices == devices[1:]  # a test device is never trained on
    paths = plot_forecasts(result, tmp_path / "plots", devices=3)
    assert len(paths) == 1 and paths[0].stat().st_size > 10_000
    assert paths[0].read_bytes()[:4] == b"\x89PNG"


def test_predict_candidates_many_equals_one_room_at_a_time(sim_model, sim_frame):
    rows = sim_frame.sample(12, random_state=5).reset_index(drop=True)
    rng = np.random.default_rng(1)
    states, lists = [], []
    for i, (_, row) in enumerate(rows.iterrows()):
        state = row.to_dict()
        if i % 3 == 0:  # unknown lags and means
            state = {k: (np.nan if "lag" in k or "mean" in k else v) for k, v in state.items()}
        n = int(rng.integers(1, 60))
        cands = np.column_stack([rng.random(n) < 0.8, rng.integers(0, len(AC_MODES), n),
                                 np.round(rng.uniform(16, 30, n) * 2) / 2, rng.integers(0, len(FAN_SPEEDS), n)])  # fmt: skip
        cands = np.vstack([cands, cands[: n // 2]]).astype(float)  # repeated candidates too
        states.append(state)
        lists.append(cands)
    many = sim_model.predict_candidates_many(states, lists)
    assert len(many) == len(states)
    for state, cands, got in zip(states, lists, many, strict=True):
        alone = sim_model.predict_candidates(state, cands)
        assert got.temperature.shape == (len(cands), len(HORIZONS))
        np.testing.assert_allclose(got.temperature, alone.temperature, rtol=0, atol=1e-12)
        np.testing.assert_allclose(got.humidity, alone.humidity, rtol=0, atol=1e-12)
    assert sim_model.predict_candidates_many([], []) == []
    with pytest.raises(DataError, match="candidate lists for"):
        sim_model.predict_candidates_many(states, lists[:-1])


def test_predict_inputs_equals_predict_rows(sim_model, sim_frame):
    from skynet.domain import Fan, Mode

    rows = sim_frame.sample(30, random_state=4).reset_index(drop=True)
    arrays = {k: rows[k].to_numpy() for k in F.INPUTS}
    arrays["mode"] = np.array([int(Mode.of(m)) if isinstance(m, str) else -1 for m in rows["mode"]])
    arrays["fan"] = np.array([int(Fan.of(f)) if isinstance(f, str) else -1 for f in rows["fan"]])
    arrays["power"] = rows["power"].astype(float).to_numpy()
    fast = sim_model.predict_inputs(arrays)
    slow = sim_model.predict(rows).to_numpy()
    k = len(HORIZONS)
    np.testing.assert_allclose(fast.temperature, slow[:, :k], atol=1e-9)
    np.testing.assert_allclose(fast.humidity, slow[:, k:], atol=1e-9)
    with pytest.raises(DataError, match="lack ac_minutes"):
        sim_model.predict_inputs({k: v for k, v in arrays.items() if k != "ac_minutes"})
