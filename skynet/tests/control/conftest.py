"""Fixtures of the control tests: test doubles of the two models, contexts, targets, states.

The doubles implement the real models' prediction interfaces with simple, known physics so a
test can say what the right decision is:

- :class:`FirstOrderRoomDouble` (estimation model double): the room drifts exponentially
  towards the outdoor temperature (AC off or fan only); a cooling (heating) AC pulls it down
  (up) to its set point and holds it there, dry mode three times slower —
  ``predict_inputs(arrays)`` and ``predict_candidates(state, candidates)``;
- :class:`PmvLikeComfortDouble` (comfort model double): feedback = (T - neutral) / 2 with
  ±0.2 per 0.1 m/s of extra air speed — ``predict_many(groups, offsets)`` and ``predict(frame)``.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from skynet.control import Appliance, Context, ControlConfig
from skynet.domain import ApplianceState, ControlTarget

NOW = datetime(2025, 7, 1, 14, 0)
COOL, HEAT, DRY, FAN_ONLY = 0, 1, 2, 3


class FirstOrderRoomDouble:
    """Test double of the estimation model: first-order room physics (see the module docstring).

    ``predict_inputs(arrays)`` answers rows of arrays (each its own room and command), as the
    planner asks; ``predict_candidates(state, candidates)`` one room's candidates."""

    horizons = (5, 15, 30, 60)

    def __init__(self, tau_off: float = 120.0, tau_ac: float = 20.0) -> None:
        self.tau_off, self.tau_ac = tau_off, tau_ac
        self.calls = 0

    def predict_inputs(self, inputs):
        self.calls += 1
        col = lambda name: np.asarray(inputs[name], dtype=float)[:, None]  # noqa: E731
        t, t_out, rh = col("temperature"), col("outdoor_temperature"), col("humidity")
        on, mode, tset = col("power") > 0.5, col("mode"), col("set_temperature")
        return self._physics(t, t_out, rh, on, mode, tset)

    def predict_candidates(self, state, candidates):
        self.calls += 1
        c = np.asarray(candidates, dtype=float)
        t, t_out, rh = state["temperature"], state["outdoor_temperature"], state["humidity"]
        return self._physics(t, t_out, rh, c[:, 0:1] > 0.5, c[:, 1:2], c[:, 2:3])

    def _physics(self, t, t_out, rh, on, mode, tset):
        h = np.array(self.horizons, dtype=float)[None, :]
        drift = t + (t_out - t) * (1.0 - np.exp(-h / self.tau_off))  # the AC off
        cools = on & ((mode == COOL) | (mode == DRY))
        heats = on & (mode == HEAT)
        tau = np.where(mode == DRY, 3.0 * self.tau_ac, self.tau_ac)  # dry mode runs slowly
        pulled = tset + (t - tset) * np.exp(-h / tau)  # towards the set point
        temperature = np.where(cools, np.where(t > tset, pulled, np.minimum(drift, tset)), drift)
        temperature = np.where(heats, np.where(t < tset, pulled, np.maximum(drift, tset)), temperature)
        held = np.abs(drift - temperature)  # kelvin the AC holds the room from its drift
        humidity = (
            rh - 2.0 * held - np.where(on & (mode == DRY), 10.0, 0.0) * (1.0 - np.exp(-h / self.tau_ac))
        )
        return {"temperature": temperature, "humidity": humidity}


class PmvLikeComfortDouble:
    """Test double of the comfort model: feedback rises 0.5 per °C above ``neutral`` (see module docs);
    ``predict_many(groups, offsets)`` as the planner asks, ``predict(frame)`` as a frame."""

    def __init__(self, neutral: float = 25.0, temperature_range: tuple[float, float] | None = None) -> None:
        self.neutral = neutral
        self.calls = 0
        if temperature_range is not None:
            self.temperature_range_ = temperature_range

    def _vote(self, t, v):
        return np.clip((t - self.neutral) / 2.0 - 2.0 * (v - 0.1), -3, 3)

    def predict_many(self, groups, offsets):
        self.calls += 1
        out = []
        for columns, offset in zip(groups, offsets, strict=True):
            t = np.asarray(columns["temperature"], dtype=float)
            v = np.asarray(columns.get("air_speed", 0.1), dtype=float) * np.ones_like(t)
            out.append(self._vote(t, v) + (offset or 0.0))
        return out

    def predict(self, frame, history=None, personalize=True):
        self.calls += 1
        t = frame["temperature"].to_numpy(float)
        v = frame["air_speed"].to_numpy(float) if "air_speed" in frame else np.full(len(t), 0.1)
        return self._vote(t, v)


@pytest.fixture
def estimator() -> FirstOrderRoomDouble:
    return FirstOrderRoomDouble()


@pytest.fixture
def comfort_model() -> PmvLikeComfortDouble:
    return PmvLikeComfortDouble()


@pytest.fixture
def config() -> ControlConfig:
    return ControlConfig()


@pytest.fixture
def appliance() -> Appliance:
    return Appliance()


def make_context(temperature: float = 29.0, outdoor: float = 33.0, humidity: float = 60.0, **kw) -> Context:
    return Context(device_id="d1", timestamp=NOW, temperature=temperature, humidity=humidity,
                   outdoor_temperature=outdoor, outdoor_humidity=70.0, hour=14.0, **kw)  # fmt: skip


def off_state(minutes_ago: float = 60.0) -> ApplianceState:
    from datetime import timedelta

    return ApplianceState("d1", NOW - timedelta(minutes=minutes_ago), False, "cool", 25.0, "auto", "user")


def target(mode: str = "comfort", value: float | None = None) -> ControlTarget:
    return ControlTarget("d1", datetime(2025, 6, 1), mode, value)


@pytest.fixture(scope="session")
def small_models() -> dict:
    """Real, small EstimationModel and UserModel trained on simulated homes (once per session)."""
    from skynet.tests.control._models import small_control_models

    return small_control_models()
