"""Property-based tests of the safety rules over random event sequences (Hypothesis).

Each example is a random appliance (its set-temperature range sometimes inverted or missing
the configured one: a broken or hostile device) and configuration and a random sequence of
events at random times: commands proposed to the safety layer (valid or not) and changes a
person makes at the remote. The test keeps its own record of what the AC did and checks every rule on every
command the layer lets through; the safety state goes through JSON between events, as it does
in Redis. A second family drives :func:`skynet.control.decide` with models that answer
anything (numbers, NaN, exceptions, slowness) and checks the same rules hold.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skynet.control import (
    Appliance,
    Context,
    ControlConfig,
    Models,
    Request,
    SafetyState,
    allowed_set_range,
    apply_safety,
    decide,
    range_fault,
    same_setting,
)
from skynet.domain import AC_MODES, FAN_SPEEDS, TARGET_MODES, ApplianceState, ControlTarget

T0 = datetime(2025, 7, 1)

_ENDS = [0.0, 5.0, 10.0, 20.0, 29.0, 35.0, 40.0, 50.0, 60.0, math.nan]  # a device's range can be anything
appliances = st.builds(
    Appliance,
    min_set_temperature=st.one_of(st.sampled_from([16.0, 17.0, 18.0, 20.0]), st.sampled_from(_ENDS)),
    max_set_temperature=st.one_of(st.sampled_from([26.0, 28.0, 30.0, 32.0]), st.sampled_from(_ENDS)),
    set_temperature_step=st.sampled_from([0.5, 1.0]),
    modes=st.lists(st.sampled_from(AC_MODES), min_size=1, unique=True).map(tuple),
    fans=st.lists(st.sampled_from(FAN_SPEEDS), min_size=1, unique=True).map(tuple),
)
configs = st.builds(
    ControlConfig,
    min_set_temperature=st.sampled_from([16.0, 18.0]),
    max_set_temperature=st.sampled_from([28.0, 30.0]),
    min_off_seconds=st.sampled_from([0.0, 60.0, 180.0, 600.0]),
    min_on_seconds=st.sampled_from([0.0, 120.0, 300.0]),
    max_commands_per_hour=st.integers(1, 8),
)
set_points = st.one_of(st.floats(-10, 50), st.just(math.nan), st.none())
settings_ = st.tuples(st.booleans(), st.sampled_from(AC_MODES), set_points, st.sampled_from(FAN_SPEEDS))
events = st.lists(
    st.tuples(st.integers(0, 1800), st.sampled_from(["propose", "propose", "propose", "user"]), settings_),
    min_size=1,
    max_size=60,
)


class Log:
    """The test's own record of the AC: its state, when its power changed, skynet's commands."""

    def __init__(self) -> None:
        self.state: ApplianceState | None = None
        self.power_changed: datetime | None = None
        self.sent: list[datetime] = []

    def apply(self, state: ApplianceState, now: datetime, by_skynet: bool) -> None:
        if self.state is None or state.power != self.state.power:
            self.power_changed = now
        self.state = state
        if by_skynet:
            self.sent.append(now)


def check_sent(
    cmd: ApplianceState, log: Log, appliance: Appliance, config: ControlConfig, now: datetime
) -> None:
    """Every rule, on a command the safety layer let through (the set-point range checked
    against both ranges themselves, not against :func:`allowed_set_range`)."""
    low = max(appliance.min_set_temperature, config.min_set_temperature)
    high = min(appliance.max_set_temperature, config.max_set_temperature)
    assert (
        low <= high
    ), f"a command to a device whose range {appliance.min_set_temperature}…{appliance.max_set_temperature} allows nothing"
    if cmd.set_temperature is not None:
        assert math.isfinite(cmd.set_temperature) and low - 1e-9 <= cmd.set_temperature <= high + 1e-9
    if cmd.power:
        assert cmd.mode is None or cmd.mode in appliance.modes
        assert cmd.fan is None or cmd.fan in appliance.fans
    assert not same_setting(cmd, log.state), "a command that changes nothing"
    if log.state is not None and log.power_changed is not None:
        elapsed = (now - log.power_changed).total_seconds()
        if cmd.power and not log.state.power:
            assert elapsed >= config.min_off_seconds, f"switched on {elapsed} s after off"
        if not cmd.power and log.state.power:
            assert elapsed >= config.min_on_seconds, f"switched off {elapsed} s after on"
    in_hour = [t for t in log.sent if now - t < timedelta(hours=1)]
    assert len(in_hour) + 1 <= config.max_commands_per_hour, "too many commands in an hour"


@settings(max_examples=300, deadline=None)
@given(appliance=appliances, config=configs, sequence=events)
def test_every_rule_holds_over_random_event_sequences(appliance, config, sequence):
    log, safety, now = Log(), SafetyState(), T0
    for gap, kind, (power, mode, tset, fan) in sequence:
        now += timedelta(seconds=gap)
        state = ApplianceState("d", now, power, mode, tset, fan, "user" if kind == "user" else "skynet")
        if kind == "user":
            log.apply(state, now, by_skynet=False)
            safety = safety.observe(state)
            continue
        result = apply_safety(state, log.state, appliance, safety, config, now)
        assert (result.command is None) == (result.held is not None)
        if result.command is not None:
            check_sent(result.command, log, appliance, config, now)
            log.apply(result.command, now, by_skynet=True)
        safety = SafetyState.from_json(result.safety.to_json())  # as kept in Redis


@settings(max_examples=200, deadline=None)
@given(
    power=st.one_of(st.none(), st.booleans()),
    since=st.one_of(st.none(), st.integers(0, 10**7)),
    commands=st.lists(st.integers(0, 10**7), max_size=8),
)
def test_safety_state_survives_json(power, since, commands):
    state = SafetyState(
        power, T0 + timedelta(seconds=since) if since is not None else None,
        tuple(sorted(T0 + timedelta(seconds=c, microseconds=7) for c in commands)),
    )  # fmt: skip
    assert SafetyState.from_json(state.to_json()) == state
    assert SafetyState.from_dict(state.to_dict()) == state


def test_a_command_that_changes_nothing_is_not_sent(config):
    on = ApplianceState("d", T0, True, "cool", 25.0, "auto", "user")
    again = ApplianceState("d", T0 + timedelta(hours=1), True, "cool", 25.0, "auto", "skynet")
    result = apply_safety(again, on, Appliance(), SafetyState().observe(on), config, again.timestamp)
    assert result.command is None and result.held == "unchanged"
    off = ApplianceState("d", T0, False, "cool", 25.0, "auto", "user")
    off_other = ApplianceState("d", T0 + timedelta(hours=1), False, "heat", 20.0, "high", "skynet")
    assert (
        apply_safety(off_other, off, Appliance(), SafetyState(), config, off_other.timestamp).held
        == "unchanged"
    )


def test_set_temperature_is_clamped_to_the_narrower_range():
    config = ControlConfig(min_set_temperature=16.0, max_set_temperature=30.0)
    appliance = Appliance(min_set_temperature=18.0, max_set_temperature=32.0, set_temperature_step=0.5)
    cold = ApplianceState("d", T0, True, "cool", 12.0, "auto", "skynet")
    result = apply_safety(cold, None, appliance, SafetyState(), config, T0)
    assert result.command.set_temperature == 18.0 and "clamped" in result.actions[0]
    hot = ApplianceState("d", T0, True, "heat", 31.3, "auto", "skynet")
    assert apply_safety(hot, None, appliance, SafetyState(), config, T0).command.set_temperature == 30.0


@pytest.mark.parametrize(
    ("low", "high", "allowed"),
    [(18.0, 32.0, (18.0, 30.0)), (10.0, 20.0, (16.0, 20.0)), (16.0, 30.0, (16.0, 30.0)), (30.0, 35.0, (30.0, 30.0)),
     (50.0, 60.0, None), (0.0, 5.0, None), (40.0, 10.0, None), (20.0, 18.0, None), (math.nan, 30.0, None)],
)  # fmt: skip
def test_the_allowed_range_is_the_intersection_never_a_widening(low, high, allowed):
    """Issue 10, finding 3: a device saying 50…60 °C got "heat 50 °C", one saying 0…5 got
    "cool 5 °C" (the appliance's own range was trusted where it missed the configured one)."""
    appliance, config = Appliance(low, high), ControlConfig()
    found = allowed_set_range(appliance, config)
    if allowed is None:
        assert found[0] > found[1] and range_fault(appliance, config) is not None
    else:
        assert found == allowed and range_fault(appliance, config) is None


@pytest.mark.parametrize(
    ("low", "high", "proposal", "why"),
    [(50.0, 60.0, ("heat", 50.0), "does not overlap the configured 16 … 30"),
     (0.0, 5.0, ("cool", 5.0), "0 … 5 °C does not overlap"),
     (40.0, 10.0, ("heat", 40.0), "inverted: min 40 above max 10"),
     (math.nan, 30.0, ("cool", 24.0), "is not a number")],
)  # fmt: skip
def test_a_device_whose_range_allows_nothing_gets_no_command(low, high, proposal, why):
    config, appliance = ControlConfig(), Appliance(low, high)
    for command in (ApplianceState("d", T0, True, *proposal, "auto", "skynet"),
                    ApplianceState("d", T0, False, origin="skynet")):  # fmt: skip
        result = apply_safety(command, None, appliance, SafetyState(), config, T0)
        assert result.command is None and result.held == "device_fault"
        assert why in result.actions[0] and result.actions[0].startswith("dropped: device fault: ")


def test_rate_limit_resets_after_an_hour(config):
    safety, state, now = SafetyState(), None, T0
    sent = 0
    for minute in range(0, 60, 5):
        now = T0 + timedelta(minutes=minute)
        cmd = ApplianceState("d", now, True, "cool", 20.0 + minute / 10, "auto", "skynet")
        result = apply_safety(cmd, state, Appliance(set_temperature_step=0.1), safety, config, now)
        if result.command is not None:
            sent += 1
            state, safety = result.command, result.safety
    assert sent == config.max_commands_per_hour
    later = T0 + timedelta(minutes=61)
    cmd = ApplianceState("d", later, True, "cool", 29.0, "auto", "skynet")
    assert apply_safety(cmd, state, Appliance(), safety, config, later).command is not None


# -- decide with models that answer anything ----------------------------------------------


class ChaoticEstimatorDouble:
    """Test double of the estimation model: answers random numbers, NaN, or raises."""

    horizons = (5, 15, 30, 60)

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def predict_candidates(self, state, candidates):
        u = self.rng.random()
        if u < 0.15:
            raise RuntimeError("estimator exploded")
        n = len(candidates)
        out = {
            "temperature": self.rng.uniform(-20, 60, (n, 4)),
            "humidity": self.rng.uniform(-10, 120, (n, 4)),
        }
        if u < 0.3:
            out["temperature"][self.rng.integers(n), 1] = np.nan
        return out


class ChaoticComfortDouble:
    """Test double of the comfort model: answers random feedback, NaN, or raises."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def predict(self, frame, history=None, personalize=True):
        u = self.rng.random()
        if u < 0.15:
            raise ValueError("comfort model exploded")
        values = self.rng.uniform(-5, 5, len(frame))
        if u < 0.3:
            values[0] = np.nan
        return values


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(appliance=appliances, config=configs, seed=st.integers(0, 2**32 - 1), steps=st.lists(
    st.tuples(
        st.integers(0, 900),
        st.floats(10, 40),
        st.sampled_from(TARGET_MODES),
        st.booleans(),
        st.integers(0, 3)),  # fmt: skip
        min_size=1,
        max_size=25,
    ),
)
def test_no_model_answer_breaks_a_rule(appliance, config, seed, steps):
    rng = np.random.default_rng(seed)
    models = Models(ChaoticEstimatorDouble(rng), ChaoticComfortDouble(rng))
    log, safety, now = Log(), None, T0
    for gap, temperature, mode, user_acts, occupancy in steps:
        now += timedelta(seconds=gap)
        if user_acts:
            state = ApplianceState("d", now, bool(rng.random() < 0.5), "cool", 24.0, "auto", "user")
            log.apply(state, now, by_skynet=False)
        context = Context("d", now, temperature, 55.0, 30.0, 70.0, 14.0, occupancy=occupancy)
        value = 24.0 if mode == "temperature" else 50.0 if mode == "humidity" else None
        request = Request(context, ControlTarget("d", T0, mode, value), appliance, log.state, now, safety)
        decision = decide(request, models, config, log=False)
        if decision.command is not None:
            check_sent(decision.command, log, appliance, config, now)
            log.apply(decision.command, now, by_skynet=True)
        safety = SafetyState.from_json(decision.safety.to_json())
