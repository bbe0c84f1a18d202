"""Unit tests of :func:`skynet.control.decide` with the model test doubles of ``conftest.py``."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta

import numpy as np
import pytest

from skynet.control import (
    Appliance,
    Context,
    ControlConfig,
    Controller,
    FailureKind,
    Models,
    Request,
    SafetyState,
    build_context,
    decide,
    decide_by_rules,
    decide_many,
    local_hour,
)
from skynet.control._decide import CHUNK
from skynet.data import LAGS
from skynet.domain import ApplianceState, ControlTarget, Device, SensorReading, Weather
from skynet.tests.control.conftest import (
    NOW,
    FirstOrderRoomDouble,
    PmvLikeComfortDouble,
    make_context,
    off_state,
    target,
)


def run(context, tgt, state, estimator, comfort_model, config=None, safety=None, appliance=None, now=NOW):
    return decide(Request(context, tgt, appliance or Appliance(), state, now, safety),
                  Models(estimator, comfort_model), config or ControlConfig())  # fmt: skip


def test_a_hot_occupied_room_gets_cooled_with_one_model_call_per_plan_step(estimator, comfort_model):
    decision = run(make_context(29.0, outdoor=33.0), target(), off_state(), estimator, comfort_model)
    assert decision.fallback is None
    assert decision.command is not None and decision.command.power and decision.command.mode == "cool"
    assert decision.command.origin == "skynet"
    steps = ControlConfig().plan_steps
    # two rounds (constant commands, then two-segment sequences): one call per step, one comfort call
    assert estimator.calls == 2 * steps and comfort_model.calls == 2
    chosen, runner = decision.reason["chosen"], decision.reason["runner_up"]
    assert (
        len(chosen["temperature"])
        == steps
        == len(chosen["feedback"])
        == len(decision.reason["plan"]["occupancy"])
    )
    assert chosen["cost"]["total"] <= runner["cost"]["total"] and chosen["kwh"] > 0
    assert chosen["command"] != runner["command"]  # the runner-up starts differently
    assert chosen["feedback"][-1] < chosen["feedback"][0]  # cooler, more comfortable, as the plan goes on
    json.dumps(decision.to_dict())


def test_people_who_feel_cold_at_26_get_a_warmer_room_no_band_caps_it(estimator):
    """The comfort model, not a fixed band's top (the old 26 °C cap), sets how warm it gets."""
    decision = run(make_context(31.0, outdoor=34.0), target(), off_state(), estimator, PmvLikeComfortDouble(28.0),
                   ControlConfig(comfort_weight=10.0, kwh_per_kelvin=0.1))  # fmt: skip
    assert decision.command.mode == "cool" and decision.command.set_temperature > 26.0


def test_energy_weight_trades_comfort_for_energy(estimator, comfort_model):
    cheap = run(
        make_context(28.0), target(), off_state(), estimator, comfort_model, ControlConfig(energy_weight=0.0)
    )
    frugal = run(make_context(28.0), target(), off_state(), FirstOrderRoomDouble(), comfort_model,
                 ControlConfig(energy_weight=50.0))  # fmt: skip
    assert cheap.command is not None and cheap.command.power
    frugal_set = frugal.command.set_temperature if frugal.command is not None and frugal.command.power else 99
    assert frugal_set > cheap.command.set_temperature


def test_nobody_home_and_inside_the_band_costs_no_energy(estimator, comfort_model):
    decision = run(make_context(28.0, occupancy=0), target(), off_state(), estimator, comfort_model)
    assert decision.command is None and comfort_model.calls == 0
    assert "nobody home" in decision.reason["why"]
    running = ApplianceState("d1", NOW - timedelta(hours=1), True, "cool", 24.0, "auto", "skynet")
    decision = run(make_context(24.5, occupancy=0), target(), running, estimator, comfort_model)
    assert decision.command is not None and not decision.command.power


def test_temperature_target_holds_its_value_without_the_comfort_model(estimator, comfort_model):
    decision = run(make_context(28.0), target("temperature", 24.0), off_state(), estimator, comfort_model)
    assert decision.command.power and decision.command.mode == "cool"
    assert abs(decision.command.set_temperature - 24.0) <= 1.0
    assert comfort_model.calls == 0


def test_humidity_target_dries_a_humid_room(estimator, comfort_model):
    decision = run(make_context(25.0, outdoor=27.0, humidity=80.0), target("humidity", 50.0), off_state(),
                   estimator, comfort_model)  # fmt: skip
    assert decision.command.power and decision.command.mode in ("dry", "cool")
    chosen = decision.reason["chosen"]
    assert chosen["humidity"][-1] < 80.0


def test_away_target_stays_within_bounds_at_least_energy(estimator, comfort_model):
    assert run(make_context(27.0), target("away"), off_state(), estimator, comfort_model).command is None
    hot = run(make_context(34.0, outdoor=38.0), target("away"), off_state(), estimator, comfort_model)
    assert hot.command.power and hot.command.mode == "cool" and hot.command.set_temperature <= 30.0


def test_off_and_manual_targets(estimator, comfort_model):
    running = ApplianceState("d1", NOW - timedelta(hours=1), True, "cool", 24.0, "auto", "user")
    off = run(make_context(), target("off"), running, estimator, comfort_model)
    assert off.command is not None and not off.command.power
    manual = run(make_context(), target("manual"), running, estimator, comfort_model)
    assert manual.command is None and estimator.calls == 0 and comfort_model.calls == 0
    assert run(make_context(), None, running, estimator, comfort_model).command is None


def test_keeping_the_current_best_state_sends_nothing(estimator, comfort_model):
    first = run(make_context(29.0), target(), off_state(), estimator, comfort_model)
    state = first.command
    later = NOW + timedelta(minutes=10)
    again = run(make_context(29.0), target(), state, estimator, comfort_model, safety=first.safety, now=later)
    assert again.command is None
    assert again.reason["chosen"]["cost"]["switch"] == 0.0


class RaisingDouble:
    """Test double of either model: every call raises."""

    horizons = (5, 15, 30, 60)

    def predict_candidates(self, state, candidates):
        raise RuntimeError("broken weights")

    def predict(self, frame, history=None, personalize=True):
        raise RuntimeError("broken weights")


class NaNEstimatorDouble(FirstOrderRoomDouble):
    """Test double of the estimation model: one forecast is NaN."""

    def predict_inputs(self, inputs):
        out = super().predict_inputs(inputs)
        out["temperature"][3, 2] = np.nan
        return out


class SlowComfortDouble(PmvLikeComfortDouble):
    """Test double of the comfort model: right answers, too late."""

    def predict_many(self, groups, offsets):
        time.sleep(0.05)
        return super().predict_many(groups, offsets)


@pytest.mark.parametrize(
    "models, cause, kind",
    [
        (Models(None, PmvLikeComfortDouble()), "no estimation model", FailureKind.MISSING),
        (Models(FirstOrderRoomDouble(), None), "no comfort model", FailureKind.MISSING),
        (
            Models(RaisingDouble(), PmvLikeComfortDouble()),
            "estimation model raised RuntimeError: broken weights",
            FailureKind.RAISED,
        ),
        (
            Models(FirstOrderRoomDouble(), RaisingDouble()),
            "comfort model raised RuntimeError: broken weights",
            FailureKind.RAISED,
        ),
        (
            Models(NaNEstimatorDouble(), PmvLikeComfortDouble()),
            "estimation model returned NaN",
            FailureKind.INVALID,
        ),
        (Models(FirstOrderRoomDouble(), SlowComfortDouble()), "comfort model took", FailureKind.SLOW),
    ],
)
def test_fallback_is_logged_with_its_cause_and_recorded(models, cause, kind, caplog):
    config = ControlConfig(comfort_budget=0.02)
    with caplog.at_level(logging.WARNING, logger="skynet.control"):
        decision = decide(
            Request(make_context(29.0), target(), Appliance(), off_state(), NOW), models, config
        )
    assert decision.fallback is not None and decision.fallback.cause.startswith(cause)
    assert decision.fallback.kind is kind and decision.to_dict()["fallback_kind"] == kind.value
    assert any(cause in r.getMessage() and "d1" in r.getMessage() for r in caplog.records)
    assert decision.reason["why"].startswith("fallback thermostat")
    rules = decide_by_rules(Request(make_context(29.0), target(), Appliance(), off_state(), NOW), config)
    assert decision.command == rules.command and rules.fallback is None
    assert decision.command.power and decision.command.mode == "cool"  # 29 °C is above the band: cool


def test_no_reading_means_no_decision(estimator, comfort_model):
    context = make_context(float("nan"))
    decision = run(context, target(), off_state(), estimator, comfort_model)
    assert decision.command is None and decision.fallback.kind is FailureKind.NO_DATA and estimator.calls == 0


def test_safety_state_carries_across_decisions(estimator, comfort_model):
    controller = Controller(estimator, comfort_model, ControlConfig(min_on_seconds=600))
    on = controller.decide(Request(make_context(29.0), target(), Appliance(), off_state(), NOW))
    assert on.command.power
    soon = NOW + timedelta(minutes=5)
    safety = SafetyState.from_json(on.safety.to_json())
    off = controller.decide(Request(make_context(20.0, occupancy=0), target("off"), Appliance(), on.command, soon,
                                    safety))  # fmt: skip
    assert off.command is None and "minimum on time" in off.reason["safety"][0]


def test_build_context_lags_means_and_local_hour():
    t0 = datetime(2025, 7, 1, 11, 0)
    readings = [SensorReading("d", t0 + timedelta(minutes=m), 20.0 + 0.1 * m, 50.0) for m in range(0, 41, 2)]
    device = Device("d", timezone="Asia/Hong_Kong", latitude=22.3, climate="hot-humid")
    context = build_context(readings, Weather("d", t0, 31.0, 70.0, 29.0), device=device, occupancy=2)
    assert context.timestamp == t0 + timedelta(minutes=40) and context.temperature == pytest.approx(24.0)
    assert context.temperature_lags[5] == pytest.approx(23.5)  # between the readings at 34 and 36 min
    assert context.temperature_lags[30] == pytest.approx(21.0)
    # the estimation frame's mean: the one-minute grid (readings linear in between) of the last 30 minutes
    assert context.temperature_mean == pytest.approx(np.mean([20.0 + 0.1 * m for m in range(11, 41)]))
    assert context.hour == pytest.approx(19 + 40 / 60)  # UTC+8
    assert context.device_facts == {"latitude": 22.3, "climate": "hot-humid"}
    assert context.outdoor_running_mean == 29.0 and context.occupied
    assert local_hour(t0, None) == 11.0


def test_build_context_without_weather_or_with_gaps():
    t0 = datetime(2025, 7, 1, 11, 0)
    readings = [
        SensorReading("d", t0, 25.0, 60.0),
        SensorReading("d", t0 + timedelta(minutes=30), 26.0, 55.0),
    ]
    context = build_context(readings, None, max_gap=10)
    assert np.isnan(context.temperature_lags[5]) and context.temperature_lags[30] == 25.0
    assert context.outdoor_temperature == 26.0 and context.valid()
    assert isinstance(context, Context)
    # by default a gap up to twice the device's usual interval is bridged, as in the training frame
    assert build_context(readings, None).temperature_lags[5] == pytest.approx(25.0 + 25 / 30)


class Counting:
    """Wraps a real model and counts its prediction calls (a spy, not a double)."""

    def __init__(self, model) -> None:
        self.model, self.calls = model, 0

    def __getattr__(self, name):
        attr = getattr(self.model, name)
        if name in ("predict", "predict_candidates", "predict_arrays", "predict_inputs", "predict_many"):

            def counted(*args, **kwargs):
                self.calls += 1
                return attr(*args, **kwargs)

            return counted
        return attr


def test_real_small_models_cool_a_hot_occupied_room_in_one_call_each(small_models):
    estimator, comfort_model = Counting(small_models["estimator"]), Counting(small_models["comfort"])
    context = make_context(31.0, outdoor=33.0, humidity=65.0, occupancy=2)
    decision = run(context, target(), off_state(), estimator, comfort_model)
    assert decision.fallback is None, decision.fallback
    assert estimator.calls == 2 * ControlConfig().plan_steps and comfort_model.calls == 2
    assert (
        decision.command is not None and decision.command.power and decision.command.mode in ("cool", "dry")
    )
    chosen, off = decision.reason["chosen"], decision.reason["runner_up"]
    assert chosen["feedback"][-1] < 1.0 and chosen["temperature"][-1] < 31.0
    assert decision.latency > 0 and chosen["cost"]["total"] <= off["cost"]["total"]


def test_real_small_models_leave_a_comfortable_room_alone(small_models):
    models = Models(small_models["estimator"], small_models["comfort"])
    running = ApplianceState("d1", NOW - timedelta(hours=2), True, "cool", 26.0, "auto", "skynet")
    context = make_context(25.5, outdoor=30.0, humidity=55.0, occupancy=1)
    first = decide(Request(context, target(), Appliance(), running, NOW), models, ControlConfig())
    again = decide(Request(context, target(), Appliance(), first.command or running, NOW + timedelta(minutes=5),
                           first.safety), models, ControlConfig())  # fmt: skip
    assert first.fallback is None and again.fallback is None
    assert again.command is None  # a decision repeated on the same data does not flip-flop


def _random_requests(rng: np.random.Generator, n: int) -> list[Request]:
    """Requests of many devices: every target mode, known and unknown AC states, missing readings."""
    modes = [("comfort", None), ("comfort", None), ("temperature", 24.0), ("humidity", 50.0), ("away", None),
             ("off", None), ("manual", None), None]  # fmt: skip
    out = []
    for i in range(n):
        device = f"dev-{i}"
        picked = modes[int(rng.integers(len(modes)))]
        tgt = None if picked is None else ControlTarget(device, datetime(2025, 6, 1), *picked)
        temperature = float(rng.uniform(17.0, 33.0))
        context = Context(
            device_id=device, timestamp=NOW, temperature=temperature,
            humidity=float("nan") if rng.random() < 0.05 else float(rng.uniform(35.0, 80.0)),
            outdoor_temperature=float(rng.uniform(5.0, 38.0)), outdoor_humidity=float(rng.uniform(30.0, 90.0)),
            hour=float(rng.uniform(0, 24)),
            temperature_lags={lag: temperature - float(rng.normal(0, 0.5)) if rng.random() < 0.8 else float("nan")
                              for lag in LAGS},
            humidity_lags={lag: 55.0 if lag == 5 else float("nan") for lag in LAGS}, temperature_mean=temperature,
            humidity_mean=float("nan"),
            outdoor_running_mean=None if rng.random() < 0.3 else float(rng.uniform(10, 30)),
            occupancy=[None, 0, 1, 2][int(rng.integers(4))],
            comfort_offset=None if rng.random() < 0.5 else float(rng.normal(0, 0.7)),
            device_facts={} if rng.random() < 0.5 else {"latitude": 35.0, "climate": "hot-humid"},
        )  # fmt: skip
        states = [None, ApplianceState(device, NOW - timedelta(hours=2), False, "cool", 25.0, "auto", "user"),
                  ApplianceState(device, NOW - timedelta(minutes=3), True, "cool", float(rng.integers(20, 28)),
                                 "low", "skynet"),
                  ApplianceState(device, NOW - timedelta(hours=1), True, "heat", 22.0, "auto", "user")]  # fmt: skip
        state = states[int(rng.integers(len(states)))]
        safety = (
            None
            if rng.random() < 0.5
            else SafetyState(True, NOW - timedelta(hours=1), (NOW - timedelta(minutes=20),))
        )
        out.append(Request(context, tgt, Appliance(), state, NOW, safety))
    return out


def _same_decisions(batched, alone) -> None:
    """The same commands, fallbacks and safety states; the same reasons up to the last bits of
    the models' arithmetic (a batch multiplies other matrices, and exact ties may then break
    another way for a runner-up)."""
    assert len(batched) == len(alone)
    for a, b in zip(batched, alone, strict=True):
        assert (a.device_id, a.command, a.fallback, a.safety) == (
            b.device_id,
            b.command,
            b.fallback,
            b.safety,
        )
        assert a.reason.keys() == b.reason.keys()
        for key in ("chosen", "runner_up"):
            if key in a.reason:
                assert a.reason[key]["cost"]["total"] == pytest.approx(
                    b.reason[key]["cost"]["total"], abs=1e-3
                )
        assert a.reason.get("chosen", {}).get("sequence") == b.reason.get("chosen", {}).get("sequence")


def test_decide_many_gives_each_device_the_decision_decide_gives_it(small_models):
    controller = Controller(small_models["estimator"], small_models["comfort"], ControlConfig())
    requests = _random_requests(np.random.default_rng(7), 60)
    batched = controller.decide_many(requests)
    _same_decisions(batched, [controller.decide(r) for r in requests])
    assert any(d.reason.get("chosen", {}).get("feedback") for d in batched)  # the comfort model was asked
    assert sum(d.fallback is None and "chosen" in d.reason for d in batched) > 20
    assert all(d.latency > 0 for d in batched)


def test_decide_many_asks_each_real_model_once(small_models):
    estimator, comfort_model = Counting(small_models["estimator"]), Counting(small_models["comfort"])
    requests = [r for r in _random_requests(np.random.default_rng(8), 60)
                if r.target is not None and r.target.mode == "comfort" and r.context.valid()]  # fmt: skip
    decisions = decide_many(requests, Models(estimator, comfort_model), ControlConfig(), chunk=len(requests))
    steps = ControlConfig().plan_steps
    assert len(requests) > 8 and all(d.fallback is None for d in decisions)
    assert estimator.calls == 2 * steps and comfort_model.calls == 2 * int(
        any(r.context.occupied for r in requests)
    )
    estimator.calls = 0
    Controller(estimator, comfort_model, ControlConfig(batch_size=CHUNK)).decide_many(requests)
    assert estimator.calls == 2 * steps * -(-len(requests) // CHUNK)  # batches of batch_size devices at most


@pytest.mark.parametrize("models", ["doubles", "raising", "none"])
def test_decide_many_without_batched_models_decides_one_by_one(models):
    pair = {"doubles": (FirstOrderRoomDouble(), PmvLikeComfortDouble()),
            "raising": (FirstOrderRoomDouble(), RaisingDouble()), "none": (None, None)}[models]  # fmt: skip
    controller = Controller(*pair)
    requests = _random_requests(np.random.default_rng(9), 30)
    _same_decisions(controller.decide_many(requests), [controller.decide(r) for r in requests])
