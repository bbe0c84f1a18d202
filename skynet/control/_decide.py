"""The decision: score candidate commands with the models, pick the cheapest, make it safe.

:func:`decide` is pure (no I/O but a log line on fallback): given a device's context, target,
appliance and current state, the models and the configuration, it

1. returns "no change" for a manual target, and proposes "off" for an off target;
2. otherwise enumerates candidates (:mod:`._candidates`), forecasts every one in ONE batched
   estimation-model call, predicts comfort for every candidate and horizon in ONE batched
   comfort-model call (comfort target, someone home), and picks the candidate of least cost
   (:mod:`._cost`); the reason names it and the runner-up with their predicted climate, comfort
   and cost terms;
3. falls back to the thermostat (:mod:`._fallback`) when a model is missing, raises, is too
   slow or returns NaN — logged as a warning and recorded in :attr:`Decision.fallback`;
4. passes the proposal through the safety rules (:mod:`._safety`), which no model overrides.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from skynet.control._candidates import FAN_CODE, MODE_CODE, candidates, describe, to_state
from skynet.control._cost import costs, current_row, dwell
from skynet.control._fallback import off_command, target_band, thermostat
from skynet.control._predict import ModelFailure, comfort, estimation_state, forecast
from skynet.control._safety import SafetyState, apply_safety
from skynet.control._types import Appliance, Context, ControlConfig, Decision
from skynet.domain import ApplianceState, ControlTarget

__all__ = ["Models", "Controller", "decide", "decide_by_rules"]

logger = logging.getLogger("skynet.control")


@dataclass
class Models:
    """The models a decision may use (None: missing; the fallback thermostat decides).

    Attributes:
        estimator: has ``predict_candidates(state, candidates)`` (see :mod:`skynet.models.estimation`).
        comfort: has ``predict(frame)`` -> expected feedback (see :class:`skynet.models.user_model.UserModel`).
    """

    estimator: Any = None
    comfort: Any = None


def decide(
    context: Context,
    target: ControlTarget | None,
    appliance: Appliance,
    state: ApplianceState | None,
    models: Models,
    config: ControlConfig,
    now: datetime,
    safety: SafetyState | None = None,
) -> Decision:
    """Decide the AC command for one device (see the module docstring).

    Args:
        context: the newest readings and weather (:func:`skynet.control.build_context`).
        target: the device's control target (None: nothing asked, same as manual).
        appliance: what the AC accepts.
        state: the AC's current state (None: unknown).
        models: the estimation and comfort models.
        config: weights, fallback and safety settings.
        now: the decision time (naive UTC).
        safety: the device's safety state (None: fresh); the new one is in the decision.

    Returns:
        The decision; ``command`` is None when nothing is to be sent.
    """
    return _decide_with(
        lambda mode, value, safety: _optimize(
            context, mode, value, appliance, state, models, config, now, safety
        ),
        context, target, appliance, state, config, now, safety, time.perf_counter(),
    )  # fmt: skip


def _decide_with(
    optimize: Any,
    context: Context,
    target: ControlTarget | None,
    appliance: Appliance,
    state: ApplianceState | None,
    config: ControlConfig,
    now: datetime,
    safety: SafetyState | None,
    started: float,
) -> Decision:
    """:func:`decide` with its model step ``optimize(mode, value, safety)`` given (the batched
    path of :mod:`._batch` gives one that reads the batch's forecasts), timed from ``started``."""
    safety = (safety or SafetyState()).observe(state)
    mode = target.mode if target is not None else "manual"
    reason: dict[str, Any] = {"target": {"mode": mode, "value": target.value if target is not None else None}}
    fallback = None
    if mode == "manual":
        reason["why"] = "manual target: hands off" if target is not None else "no control target: hands off"
        return Decision(context.device_id, now, None, reason, None, time.perf_counter() - started, safety)
    if not context.valid():
        reason["why"] = "no usable reading or weather: no decision"
        return Decision(
            context.device_id, now, None, reason, "no data", time.perf_counter() - started, safety
        )
    if mode == "off":
        proposal: ApplianceState | None = off_command(context.device_id, now, state)
        reason["why"] = "off target"
    else:
        try:
            proposal, details = optimize(mode, target.value, safety)
            reason.update(details)
        except ModelFailure as failure:
            fallback = failure.cause
            logger.warning("control fallback for device %s: %s", context.device_id, failure.cause)
            proposal, why = thermostat(context, target, state, config, now)
            reason["why"] = f"fallback thermostat: {why}"
    result = apply_safety(proposal, state, appliance, safety, config, now)
    reason["proposal"] = _short(proposal)
    if result.actions:
        reason["safety"] = result.actions
    latency = time.perf_counter() - started
    return Decision(context.device_id, now, result.command, reason, fallback, latency, result.safety)


def decide_by_rules(
    context: Context,
    target: ControlTarget | None,
    appliance: Appliance,
    state: ApplianceState | None,
    config: ControlConfig,
    now: datetime,
    safety: SafetyState | None = None,
) -> Decision:
    """The rule-based thermostat alone, through the same safety rules (no models, nothing logged).

    What a device gets when no model is deployed at all; also the comfort-band baseline of
    ``skynet control evaluate``. Arguments as for :func:`decide`.
    """
    started = time.perf_counter()
    safety = (safety or SafetyState()).observe(state)
    mode = target.mode if target is not None else "manual"
    reason: dict[str, Any] = {"target": {"mode": mode, "value": target.value if target is not None else None}}
    if not context.valid():
        reason["why"] = "no usable reading or weather: no decision"
        return Decision(
            context.device_id, now, None, reason, "no data", time.perf_counter() - started, safety
        )
    proposal, reason["why"] = thermostat(context, target, state, config, now)
    result = apply_safety(proposal, state, appliance, safety, config, now)
    reason["proposal"] = _short(proposal)
    if result.actions:
        reason["safety"] = result.actions
    return Decision(
        context.device_id, now, result.command, reason, None, time.perf_counter() - started, result.safety
    )


def _optimize(
    context: Context,
    mode: str,
    value: float | None,
    appliance: Appliance,
    state: ApplianceState | None,
    models: Models,
    config: ControlConfig,
    now: datetime,
    safety: SafetyState,
) -> tuple[ApplianceState, dict[str, Any]]:
    band, cands = _plan(context, mode, value, appliance, state, config)
    temperature, humidity = forecast(
        models.estimator,
        estimation_state(context, state, now),
        cands,
        config.horizons,
        config.estimator_budget,
    )
    feedback = None
    if _wants_comfort(mode, context):
        feedback = comfort(models.comfort, context, cands, temperature, humidity, config.comfort_budget)
    return _choose(
        context, mode, value, state, config, now, safety, band, cands, temperature, humidity, feedback
    )


def _plan(
    context: Context,
    mode: str,
    value: float | None,
    appliance: Appliance,
    state: ApplianceState | None,
    config: ControlConfig,
) -> tuple[tuple[float, float], np.ndarray]:
    """The target band and the candidate commands of a decision (before any model call)."""
    band = target_band(mode, value, context, config)
    people = mode in ("temperature", "humidity") or (mode == "comfort" and context.occupied)
    cands = candidates(appliance, config, state, context.temperature, band, people)
    return band, cands


def _wants_comfort(mode: str, context: Context) -> bool:
    """Whether the decision asks the comfort model (comfort target, someone home)."""
    return mode == "comfort" and context.occupied


def _choose(
    context: Context,
    mode: str,
    value: float | None,
    state: ApplianceState | None,
    config: ControlConfig,
    now: datetime,
    safety: SafetyState,
    band: tuple[float, float],
    cands: np.ndarray,
    temperature: np.ndarray,
    humidity: np.ndarray,
    feedback: np.ndarray | None,
) -> tuple[ApplianceState, dict[str, Any]]:
    """The candidate of least cost from the models' answers, and the reason's details."""
    wants_comfort = _wants_comfort(mode, context)
    guard = config.occupied_band if wants_comfort else band if mode in ("away", "comfort") else None
    terms = costs(cands, temperature, humidity, feedback, mode, value, guard,
                  current_row(state, MODE_CODE, FAN_CODE), config,
                  safety.commands_in_last_hour(now) + dwell(state, now, config),
                  1.0 if context.occupied else config.empty_switch_share)  # fmt: skip
    total = terms["total"]
    if not np.isfinite(total).all():
        raise ModelFailure("a candidate's cost is NaN")
    order = np.argsort(total, kind="stable")
    best, runner = int(order[0]), int(order[1]) if len(order) > 1 else int(order[0])
    chosen = to_state(cands[best], context.device_id, now, state)

    def summary(i: int) -> dict[str, Any]:
        out = {
            "command": describe(cands[i]),
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
            if wants_comfort
            else f"least cost for the {mode} target"
        ),
        "horizons": list(config.horizons),
        "candidates": len(cands),
        "chosen": summary(best),
        "runner_up": summary(runner),
    }
    if mode == "comfort" and not context.occupied:
        details["why"] = f"nobody home: stay within {band[0]:g}–{band[1]:g} °C at least energy"
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
    """:func:`decide` with its models and configuration bound (what the worker holds).

    Args:
        estimator: the estimation model (None: missing).
        comfort_model: the user comfort model (None: missing).
        config: the control configuration (default: :class:`ControlConfig`).
    """

    def __init__(
        self, estimator: Any = None, comfort_model: Any = None, config: ControlConfig | None = None
    ) -> None:
        self.models = Models(estimator, comfort_model)
        self.config = config or ControlConfig()

    def decide(
        self,
        context: Context,
        target: ControlTarget | None,
        appliance: Appliance,
        state: ApplianceState | None,
        now: datetime,
        safety: SafetyState | None = None,
    ) -> Decision:
        """See :func:`skynet.control.decide`."""
        return decide(context, target, appliance, state, self.models, self.config, now, safety)

    def decide_many(self, requests: Any) -> list[Decision]:
        """Several devices' decisions, the models asked once for all (see :func:`skynet.control.decide_many`).

        Args:
            requests: per device, the arguments of :meth:`decide` as a tuple
                ``(context, target, appliance, state, now, safety)``.
        """
        from skynet.control._batch import decide_many

        return decide_many(requests, self.models, self.config)
