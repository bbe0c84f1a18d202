"""Fixtures of the control tests: test doubles of the two models, contexts, targets, states.

The doubles implement the real models' prediction interfaces with simple, known physics so a
test can say what the right decision is:

- :class:`FirstOrderRoomDouble` (estimation model double): the room relaxes exponentially
  towards the outdoor temperature (AC off or fan only) or towards the set point (cooling
  below / heating above it) — ``predict_candidates(state, candidates)``;
- :class:`PmvLikeComfortDouble` (comfort model double): feedback = (T - neutral) / 2 with
  ±0.2 per 0.1 m/s of extra air speed — ``predict(frame)``.
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
    """Test double of the estimation model: first-order room physics (see the module docstring)."""

    horizons = (5, 15, 30, 60)

    def __init__(self, tau_off: float = 120.0, tau_ac: float = 20.0) -> None:
        self.tau_off, self.tau_ac = tau_off, tau_ac
        self.calls = 0

    def predict_candidates(self, state, candidates):
        self.calls += 1
        c = np.asarray(candidates, dtype=float)
        t, t_out, rh = state["temperature"], state["outdoor_temperature"], state["humidity"]
        on, mode, tset = c[:, 0] > 0.5, c[:, 1], c[:, 2]
        cooling = on & ((mode == COOL) | (mode == DRY)) & (t > tset)
        heating = on & (mode == HEAT) & (t < tset)
        goal = np.where(cooling | heating, tset, t_out)
        tau = np.where(cooling | heating, self.tau_ac, self.tau_off)
        h = np.array(self.horizons, dtype=float)
        share = 1.0 - np.exp(-h[None, :] / tau[:, None])
        temperature = t + (goal - t)[:, None] * share
        drying = np.where(cooling, 8.0, 0.0) + np.where(on & (mode == DRY), 10.0, 0.0)
        humidity = rh - drying[:, None] * share
        return {"temperature": temperature, "humidity": humidity}


class PmvLikeComfortDouble:
    """Test double of the comfort model: feedback rises 0.5 per °C above ``neutral`` (see module docs)."""

    def __init__(self, neutral: float = 25.0) -> None:
        self.neutral = neutral
        self.calls = 0

    def predict(self, frame, history=None, personalize=True):
        self.calls += 1
        t = frame["temperature"].to_numpy(float)
        v = frame["air_speed"].to_numpy(float) if "air_speed" in frame else np.full(len(t), 0.1)
        return np.clip((t - self.neutral) / 2.0 - 2.0 * (v - 0.1), -3, 3)


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
