"""The estimation model rolled forward: each step's room is made from the step's forecasts."""

from __future__ import annotations

import numpy as np
import pytest

from skynet.control._rollout import rollout
from skynet.data import ESTIMATION_INPUTS, LAGS

HORIZONS = (5, 15, 30, 60)


class Linear:
    """A model whose room warms ``rate`` K a minute whatever the command (and records what it was asked)."""

    def __init__(self, rate: float = 0.02) -> None:
        self.rate = rate
        self.asked: list[dict[str, np.ndarray]] = []

    def __call__(self, inputs):
        self.asked.append({k: np.array(v, copy=True) for k, v in inputs.items()})
        t = np.asarray(inputs["temperature"], dtype=float)[:, None] + self.rate * np.array(HORIZONS)[None, :]
        rh = np.repeat(np.asarray(inputs["humidity"], dtype=float)[:, None], len(HORIZONS), axis=1)
        return t, rh


def _rooms(n: int = 2) -> dict[str, np.ndarray]:
    rooms = {k: np.full(n, np.nan) for k in ESTIMATION_INPUTS}
    rooms.update(temperature=25.0 + 0.1 * np.arange(n), humidity=np.full(n, 50.0), outdoor_temperature=np.full(n, 33.0),
                 outdoor_humidity=np.full(n, 70.0), hour=np.full(n, 23.75), power=np.ones(n), mode=np.zeros(n),
                 set_temperature=np.full(n, 25.0), fan=np.zeros(n), ac_minutes=np.full(n, 45.0))  # fmt: skip
    return rooms


def test_each_steps_room_has_the_forecasts_lags_and_mean():
    model = Linear(0.02)
    power = np.array([[1, 1, 1], [0, 0, 1]], dtype=bool)  # keep cooling at 25; off, then cool at 24
    mode = np.zeros((2, 3), dtype=np.int64)
    tset = np.array([[25.0, 25.0, 25.0], [25.0, 25.0, 24.0]])
    fan = np.zeros((2, 3), dtype=np.int64)
    roll = rollout(model, HORIZONS, _rooms(), power, mode, tset, fan, 30)
    assert roll.points == (5, 15, 30) and roll.temperature.shape == (2, 3, 3)
    np.testing.assert_allclose(roll.temperature[0, :, -1], [25.6, 26.2, 26.8])
    second = model.asked[1]  # the rooms the second step asked about (commands rows, then drift rows)
    ends = np.array([25.6, 25.7])
    np.testing.assert_allclose(second["temperature"][:2], ends)
    for lag in LAGS:  # the step's path, 0.02 K a minute: the value lag minutes before its end
        np.testing.assert_allclose(second[f"temperature_lag{lag}"][:2], ends - 0.02 * lag, atol=1e-9)
    np.testing.assert_allclose(second["temperature_mean30"][:2], ends - 0.6 + 0.02 * 15.25, atol=0.01)
    assert second["hour"][0] == pytest.approx(0.25)  # 23:45 + 30 minutes, past midnight
    # the setting in force keeps its age; a new one starts at 0; drift rows are the AC off
    np.testing.assert_allclose(model.asked[0]["ac_minutes"][:2], [45.0, 0.0])
    np.testing.assert_allclose(second["ac_minutes"][:2], [75.0, 30.0])
    np.testing.assert_allclose(model.asked[2]["ac_minutes"][:2], [105.0, 0.0])  # row 1 switched on at step 2
    assert not model.asked[0]["power"][2:].any() and model.asked[0]["power"][:2].tolist() == [1.0, 0.0]
    # the off row and its drift row are the same room asked the same: asked once
    assert (
        len(model.asked[0]["power"]) == 3 and roll.drift_temperature[1, 0, -1] == roll.temperature[1, 0, -1]
    )


def test_a_plan_step_must_hold_the_longest_lag():
    with pytest.raises(ValueError, match="at least 30"):
        rollout(Linear(), HORIZONS, _rooms(1), np.ones((1, 1), bool), np.zeros((1, 1), int), np.full((1, 1), 25.0),
                np.zeros((1, 1), int), 15)  # fmt: skip
