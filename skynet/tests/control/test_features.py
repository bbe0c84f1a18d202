"""What a model is served equals what it was trained on, for the same history.

The estimation model learns from :func:`skynet.data.estimation_frame`; a decision feeds it
:func:`skynet.control._features.estimation_inputs` of a context built by the worker's path
(:func:`skynet.control.build_context` from records) or the closed loop's
(:class:`skynet.control.DevicePolicy` from its observations). Both must give every input the
frame has, with the same values, so the model's features are the same.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from skynet.control import Appliance, DevicePolicy, build_context
from skynet.control._features import estimation_inputs, in_force
from skynet.data import ESTIMATION_INPUTS, estimation_frame
from skynet.domain import ApplianceState, Device, SensorReading, Weather
from skynet.models.estimation import _features as F
from skynet.sim import Fleet, run_policy, simulate_fleet

_TEXT = ("mode", "fan")


def _same(serving: list[dict], training: pd.DataFrame) -> None:
    """Every input equal (NaN where the frame has NaN), and the model's features equal."""
    served = pd.DataFrame(serving)[ESTIMATION_INPUTS]
    trained = training[ESTIMATION_INPUTS].reset_index(drop=True)
    for column in ESTIMATION_INPUTS:
        a, b = served[column], trained[column]
        if column in _TEXT:
            assert a.fillna("").tolist() == b.fillna("").tolist(), column
        else:
            np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), atol=1e-9, err_msg=column)
    np.testing.assert_allclose(
        F.features(F.frame_inputs(served)), F.features(F.frame_inputs(trained)), atol=1e-9
    )


def _records(frame: pd.DataFrame, kind: Any) -> list:
    columns = [c for c in frame.columns if c in kind.__dataclass_fields__]
    return [kind(**{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()})
            for row in frame[columns].to_dict("records")]  # fmt: skip


def test_the_workers_inputs_equal_the_training_frames_for_the_same_history():
    sim = simulate_fleet(3, 1.0, seed=11)
    readings = sim.frame("sensor_reading")
    rng = np.random.default_rng(0)
    readings = readings[rng.random(len(readings)) > 0.15]  # lost readings: gaps the grid bridges or not
    states, weather, devices = sim.frame("appliance_state"), sim.frame("weather"), sim.devices
    frame = estimation_frame(readings, states, weather, devices, step=1)
    rows = frame.sample(60, random_state=1).sort_values(["device_id", "timestamp"])
    served = []
    for row in rows.to_dict("records"):
        device, now = row["device_id"], row["timestamp"].to_pydatetime()
        mine = readings[(readings["device_id"] == device) & (readings["timestamp"] <= now)
                        & (readings["timestamp"] > now - timedelta(minutes=45))]  # fmt: skip
        newest = weather[(weather["device_id"] == device) & (weather["timestamp"] <= now)].iloc[-1:]
        facts = _records(devices[devices["device_id"] == device], Device)[0]
        context = build_context(_records(mine, SensorReading), _records(newest, Weather)[0], device=facts)
        history = _records(
            states[(states["device_id"] == device) & (states["timestamp"] <= now)], ApplianceState
        )
        served.append(estimation_inputs(context, in_force(history), now))
    _same(served, rows)


class _Recorder:
    """The closed loop's decision function, recording what each decision was given."""

    def __init__(self) -> None:
        self.requests: list[Any] = []

    def __call__(self, requests):
        from skynet.control import ControlConfig, decide_by_rules

        self.requests += requests
        return [decide_by_rules(r, ControlConfig()) for r in requests]


def test_the_closed_loops_inputs_equal_the_training_frames_for_the_same_history():
    recorder = _Recorder()
    policy = DevicePolicy(recorder, interval=7)
    fleet = Fleet(2, 0.2, 3, climate="hot-humid", occupant_actions=False)
    seen: list[dict] = []
    appliance: list[dict] = []

    def record(obs) -> None:  # what the homes' sensors and ACs report, as stored records would
        for i, device in enumerate(fleet.device_ids):
            seen.append({"device_id": device, "timestamp": obs.timestamp, "temperature": obs.temperature[i],
                         "humidity": obs.humidity[i], "outdoor_temperature": obs.outdoor_temperature[i],
                         "outdoor_humidity": obs.outdoor_humidity[i]})  # fmt: skip
            appliance.append({"device_id": device, "timestamp": obs.timestamp, "power": bool(obs.power[i]),
                              "mode": ["cool", "heat", "dry", "fan", "auto"][int(obs.mode[i])],
                              "set_temperature": float(obs.set_temperature[i]),
                              "fan": ["auto", "low", "medium", "high"][int(obs.fan[i])]})  # fmt: skip

    run_policy(fleet, policy, fleet.minutes, before_step=record)
    readings, states = pd.DataFrame(seen), pd.DataFrame(appliance)
    first = states.groupby("device_id").head(1)  # the homes' ACs were set before the run: an hour before,
    states = pd.concat(
        [first.assign(timestamp=first["timestamp"] - timedelta(hours=1)), states]
    )  # as assumed
    weather = readings.rename(columns={"temperature": "t", "humidity": "rh"}).rename(
        columns={"outdoor_temperature": "temperature", "outdoor_humidity": "humidity"})[
        ["device_id", "timestamp", "temperature", "humidity"]]  # fmt: skip
    devices = pd.DataFrame({"device_id": fleet.device_ids, "timezone": fleet.location.timezone})
    frame = estimation_frame(readings, states, weather, devices, step=1).set_index(["device_id", "timestamp"])
    late = [
        r for r in recorder.requests if r.now >= fleet.start + timedelta(minutes=60)
    ]  # states known an hour
    assert len(late) > 20
    rows = frame.loc[[(r.device_id, pd.Timestamp(r.now)) for r in late]].reset_index()
    _same([estimation_inputs(r.context, r.state, r.now) for r in late], rows)


def test_the_closed_loops_comfort_rows_equal_the_training_votes_for_the_same_history():
    """The comfort model learns from the comfort frame of the stored votes (with the AC fan's air
    speed, as ``control evaluate`` trains it); a decision asks it about the same columns."""
    from skynet.api._control_train import with_air_speed
    from skynet.control._features import air_speed, comfort_columns
    from skynet.data import comfort_frame
    from skynet.domain import Fan

    recorder = _Recorder()
    fleet = Fleet(4, 0.6, 5, climate="hot-humid", occupant_actions=False)
    votes, readings, weather, states = [], [], [], []

    def record(obs) -> None:
        for i, device in enumerate(fleet.device_ids):
            at = obs.timestamp
            readings.append({"device_id": device, "timestamp": at, "temperature": obs.temperature[i],
                             "humidity": obs.humidity[i], "air_speed": None})  # fmt: skip
            weather.append({"device_id": device, "timestamp": at, "temperature": obs.outdoor_temperature[i],
                            "humidity": obs.outdoor_humidity[i],
                            "running_mean_temperature": obs.outdoor_running_mean[i]})  # fmt: skip
            states.append({"device_id": device, "timestamp": at, "power": bool(obs.power[i]),
                           "fan": Fan(int(obs.fan[i])).label})  # fmt: skip
            if np.isfinite(obs.feedback[i]):
                votes.append({"device_id": device, "timestamp": at, "value": obs.feedback[i], "user_id": None,
                              "clothing": None, "metabolic_rate": None})  # fmt: skip

    run_policy(fleet, DevicePolicy(recorder, interval=1), fleet.minutes, before_step=record)
    trained = with_air_speed(
        comfort_frame(pd.DataFrame(votes), pd.DataFrame(readings), pd.DataFrame(weather), fleet.devices()),
        pd.DataFrame(states),
    ).sort_values(["device_id", "timestamp"])
    asked = {(r.device_id, r.now): r for r in recorder.requests}
    served = []
    for row in trained.to_dict("records"):
        r = asked[(row["device_id"], row["timestamp"].to_pydatetime())]
        on = r.state is not None and r.state.power
        speed = air_speed(on, int(Fan.of(r.state.fan)) if on else 0)
        columns = comfort_columns(r.context, np.array([r.context.temperature]), np.array([r.context.humidity]),
                                  np.array([speed]))  # fmt: skip
        served.append({k: (v[0] if np.ndim(v) else v) for k, v in columns.items()})
    assert len(served) > 5
    served = pd.DataFrame(served)
    for column in ("temperature", "humidity", "air_speed", "outdoor_temperature", "outdoor_humidity",
                   "outdoor_running_mean", "latitude"):  # fmt: skip
        np.testing.assert_allclose(
            served[column].to_numpy(float), trained[column].to_numpy(float), err_msg=column
        )
    for column in ("climate", "building_type", "cooling_type"):
        assert served[column].tolist() == trained[column].tolist(), column


def test_a_context_lacking_a_lag_is_an_error_not_a_nan():
    from skynet.control import Context
    from skynet.tests.control.conftest import NOW

    context = Context("d", NOW, 25.0, 50.0, 30.0, 60.0, 12.0, temperature_lags={5: 24.0})
    with pytest.raises(KeyError):
        estimation_inputs(context, None, NOW)
    full = estimation_inputs(Context("d", NOW, 25.0, 50.0, 30.0, 60.0, 12.0), None, NOW)
    assert set(full) == set(ESTIMATION_INPUTS) and np.isnan(full["temperature_lag5"])
    assert Appliance().modes  # the module's public names load
