"""The decision: score candidate commands with the models, pick the cheapest, make it safe.

One path: :func:`decide_many` decides a batch of :class:`~skynet.control.Request`; the models
are asked once for all of its devices (one estimation call, one comfort call); :func:`decide`
is a batch of one. Per device it

1. returns "no change" for a manual target, and proposes "off" for an off target;
2. otherwise enumerates candidates (:mod:`._candidates`), reads the batch's forecasts and
   comfort predictions of them, and picks the candidate of least cost (:mod:`._cost`); the
   reason names it and the runner-up with their predicted climate, comfort and cost terms;
3. falls back to the thermostat (:mod:`._fallback`) when a model is missing, raises, is too
   slow or returns NaN: recorded as a typed :class:`~skynet.control.Fallback` in the decision
   (and logged as a warning unless the caller counts them itself);
4. passes the proposal through the safety rules (:mod:`._safety`), which no model overrides.

When a batch's model call fails, each of its devices is decided again as a batch of one, so one
device's bad input makes only that device fall back. A decision's ``latency`` runs from the
start of its batch to the end of that decision: what the device waited inside the controller.
Batches are at most :data:`CHUNK` devices, which bounds that wait.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from skynet.config import ControlConfig
from skynet.control._candidates import Candidates, Setting, candidates
from skynet.control._cost import costs, dwell
from skynet.control._fallback import off_command, target_band, thermostat
from skynet.control._features import estimation_inputs
from skynet.control._predict import ModelFailure, Models, comfort_many, forecast_many
from skynet.control._safety import SafetyState, apply_safety
from skynet.control._types import Decision, FailureKind, Fallback, Request
from skynet.domain import ApplianceState

__all__ = ["Models", "Controller", "decide", "decide_many", "decide_by_rules", "CHUNK"]

logger = logging.getLogger("skynet.control")
#: Devices decided together at most (their decisions wait for the whole batch).
CHUNK = 4


def decide(request: Request, models: Models, config: ControlConfig, log: bool = True) -> Decision:
    """Decide the AC command for one device: a batch of one (see :func:`decide_many`).

    Args:
        request: the device's situation, target, appliance, AC state, time and safety state.
        models: the estimation and comfort models.
        config: weights, fallback and safety settings.
        log: log each fallback as a warning.

    Returns:
        The decision; ``command`` is None when nothing is to be sent.
    """
    return decide_many([request], models, config, log=log)[0]


def decide_many(
    requests: Sequence[Request], models: Models, config: ControlConfig, chunk: int = CHUNK, log: bool = True
) -> list[Decision]:
    """The decisions of several devices, the models asked once per batch (see the module docstring).

    Args:
        requests: one per device.
        models: the estimation and comfort models.
        config: weights, fallback and safety settings.
        chunk: devices decided together at most.
        log: log each fallback as a warning (False: the caller counts ``decision.fallback``).

    Returns:
        The decisions, in the order of ``requests``.
    """
    out: list[Decision] = []
    step = max(1, chunk)
    for lo in range(0, len(requests), step):
        out += _batch(requests[lo : lo + step], models, config, time.perf_counter(), log)
    return out


class _Plan:
    """A device's candidates before the model calls, and (after them) the models' answers."""

    __slots__ = ("band", "cands", "inputs", "comfort", "temperature", "humidity", "feedback")

    def __init__(
        self, band: tuple[float, float], cands: Candidates, inputs: dict[str, Any], comfort: bool
    ) -> None:
        self.band, self.cands, self.inputs, self.comfort = band, cands, inputs, comfort
        self.temperature: np.ndarray | None = None
        self.humidity: np.ndarray | None = None
        self.feedback: np.ndarray | None = None


def _batch(
    requests: Sequence[Request], models: Models, config: ControlConfig, started: float, log: bool
) -> list[Decision]:
    plans = {i: _plan(r, config) for i, r in enumerate(requests) if _wants_models(r)}
    failure = None
    if plans:
        try:
            _ask_models(requests, plans, models, config)
        except ModelFailure as exc:
            if len(requests) > 1:  # each device alone: only those the failure is about fall back
                return [d for r in requests for d in _batch([r], models, config, started, log)]
            failure = exc.fallback
    return [_finish(r, plans.get(i), failure, config, started, log) for i, r in enumerate(requests)]


def _wants_models(request: Request) -> bool:
    return request.target_mode not in ("manual", "off") and request.context.valid()


def _wants_comfort(request: Request) -> bool:
    """Whether the decision asks the comfort model (comfort target, someone home)."""
    return request.target_mode == "comfort" and request.context.occupied


def _plan(request: Request, config: ControlConfig) -> _Plan:
    """The target band and the candidate commands of a decision (before any model call)."""
    context, mode = request.context, request.target_mode
    band = target_band(mode, request.target.value, context, config)
    people = mode in ("temperature", "humidity") or (mode == "comfort" and context.occupied)
    cands = candidates(request.appliance, config, request.state, context.temperature, band, people)
    inputs = estimation_inputs(context, request.state, request.now)
    return _Plan(band, cands, inputs, _wants_comfort(request))


def _ask_models(
    requests: Sequence[Request], plans: dict[int, _Plan], models: Models, config: ControlConfig
) -> None:
    """Fill the plans with the batched calls' answers."""
    items = list(plans.values())
    forecasts = forecast_many(models, [p.inputs for p in items], [p.cands for p in items],
                              config.horizons, config.estimator_budget)  # fmt: skip
    for plan, (temperature, humidity) in zip(items, forecasts, strict=True):
        plan.temperature, plan.humidity = temperature, humidity
    asking = [(i, p) for i, p in plans.items() if p.comfort]
    if asking:
        feedback = comfort_many(models, [requests[i].context for i, _ in asking], [p.cands for _, p in asking],
                                [p.temperature for _, p in asking], [p.humidity for _, p in asking],
                                config.comfort_budget)  # fmt: skip
        for (_, plan), values in zip(asking, feedback, strict=True):
            plan.feedback = values


def _finish(
    request: Request,
    plan: _Plan | None,
    failure: Fallback | None,
    config: ControlConfig,
    started: float,
    log: bool,
) -> Decision:
    """The decision of one device from its plan's answers (or the fallback), through the safety rules."""
    context, state, now, mode = request.context, request.state, request.now, request.target_mode
    safety = (request.safety or SafetyState()).observe(state)
    target = request.target
    reason: dict[str, Any] = {"target": {"mode": mode, "value": target.value if target is not None else None}}
    if mode == "manual":
        reason["why"] = "manual target: hands off" if target is not None else "no control target: hands off"
        return Decision(context.device_id, now, None, reason, None, time.perf_counter() - started, safety)
    if not context.valid():
        reason["why"] = "no usable reading or weather: no decision"
        return Decision(context.device_id, now, None, reason, Fallback(FailureKind.NO_DATA),
                        time.perf_counter() - started, safety)  # fmt: skip
    if mode == "off":
        proposal: ApplianceState | None = off_command(context.device_id, now, state)
        reason["why"] = "off target"
    else:
        try:
            if failure is not None:
                raise ModelFailure(failure)
            assert plan is not None
            proposal, details = _choose(request, plan, safety, config)
            reason.update(details)
        except ModelFailure as exc:
            failure = exc.fallback
            if log:
                logger.warning("control fallback for device %s: %s", context.device_id, failure.cause)
            proposal, why = thermostat(context, target, state, config, now)
            reason["why"] = f"fallback thermostat: {why}"
    result = apply_safety(proposal, state, request.appliance, safety, config, now)
    reason["proposal"] = _short(proposal)
    if result.actions:
        reason["safety"] = result.actions
    latency = time.perf_counter() - started
    return Decision(context.device_id, now, result.command, reason, failure, latency, result.safety)


def decide_by_rules(request: Request, config: ControlConfig) -> Decision:
    """The rule-based thermostat alone, through the same safety rules (no models, nothing logged).

    What a device gets when no model is deployed at all; also the comfort-band baseline of
    ``skynet control evaluate``.
    """
    started = time.perf_counter()
    context, state, now = request.context, request.state, request.now
    safety = (request.safety or SafetyState()).observe(state)
    target = request.target
    reason: dict[str, Any] = {"target": {"mode": request.target_mode,
                                         "value": target.value if target is not None else None}}  # fmt: skip
    if not context.valid():
        reason["why"] = "no usable reading or weather: no decision"
        return Decision(context.device_id, now, None, reason, Fallback(FailureKind.NO_DATA),
                        time.perf_counter() - started, safety)  # fmt: skip
    proposal, reason["why"] = thermostat(context, target, state, config, now)
    result = apply_safety(proposal, state, request.appliance, safety, config, now)
    reason["proposal"] = _short(proposal)
    if result.actions:
        reason["safety"] = result.actions
    return Decision(context.device_id, now, result.command, reason, None, time.perf_counter() - started,
                    result.safety)  # fmt: skip


def _choose(
    request: Request, plan: _Plan, safety: SafetyState, config: ControlConfig
) -> tuple[ApplianceState, dict[str, Any]]:
    """The candidate of least cost from the models' answers, and the reason's details."""
    context, state, now, mode = request.context, request.state, request.now, request.target_mode
    value = request.target.value if request.target is not None else None
    cands, temperature, humidity, feedback = plan.cands, plan.temperature, plan.humidity, plan.feedback
    assert temperature is not None and humidity is not None
    guard = config.occupied_band if plan.comfort else plan.band if mode in ("away", "comfort") else None
    terms = costs(cands, temperature, humidity, feedback, mode, value, guard, Setting.of(state), config,
                  safety.commands_in_last_hour(now) + dwell(state, now, config),
                  1.0 if context.occupied else config.empty_switch_share)  # fmt: skip
    total = terms["total"]
    if not np.isfinite(total).all():
        raise ModelFailure(Fallback(FailureKind.INVALID, "candidate cost", detail="NaN"))
    order = np.argsort(total, kind="stable")
    best, runner = int(order[0]), int(order[1]) if len(order) > 1 else int(order[0])
    chosen = cands.command(best, context.device_id, now, state)

    def summary(i: int) -> dict[str, Any]:
        out = {
            "command": cands.describe(i),
            "temperature": [round(float(x), 2) for x in temperature[i]],
            "humidity": [round(float(x), 1) for x in humidity[i]],
            "cost": {k: round(float(v[i]), 4) for k, v in terms.items()},
        }
        if feedback is not None:
            out["feedback"] = [round(float(x), 2) for x in feedback[i]]
        return out

    details = {
        "why": (
            "least cost of comfort, energy and switching"
            if plan.comfort
            else f"least cost for the {mode} target"
        ),
        "horizons": list(config.horizons),
        "candidates": len(cands),
        "chosen": summary(best),
        "runner_up": summary(runner),
    }
    if mode == "comfort" and not context.occupied:
        details["why"] = f"nobody home: stay within {plan.band[0]:g}–{plan.band[1]:g} °C at least energy"
    return chosen, details


def _short(command: ApplianceState | None) -> str | None:
    if command is None:
        return None
    if not command.power:
        return "off"
    tset = (
        ""
        if command.set_temperature is None or math.isnan(command.set_temperature)
        else f" {command.set_temperature:g} °C"
    )
    return f"{command.mode}{tset} fan {command.fan}"


class Controller:
    """:func:`decide_many` with its models and configuration bound (what the worker holds).

    Args:
        estimator: the estimation model (None: missing).
        comfort_model: the user comfort model (None: missing).
        config: the control configuration (default: :class:`~skynet.config.ControlConfig`).
        log_fallbacks: log each fallback as a warning (False where the caller counts them).
    """

    def __init__(self, estimator: Any = None, comfort_model: Any = None, config: ControlConfig | None = None,
                 log_fallbacks: bool = True) -> None:  # fmt: skip
        self.models = Models(estimator, comfort_model)
        self.config = config or ControlConfig()
        self.log_fallbacks = log_fallbacks

    def decide(self, request: Request) -> Decision:
        """One device's decision: ``decide_many([request])[0]``."""
        return self.decide_many([request])[0]

    def decide_many(self, requests: Sequence[Request]) -> list[Decision]:
        """Several devices' decisions, the models asked once per batch (see :func:`skynet.control.decide_many`)."""
        return decide_many(requests, self.models, self.config, log=self.log_fallbacks)
