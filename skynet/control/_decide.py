"""The decision: plan command sequences with the models, take the cheapest's first command, make it safe.

One path: :func:`decide_many` decides a batch of :class:`~skynet.control.Request`; the models
are asked together for all of its devices; :func:`decide` is a batch of one. Per device it

1. returns "no change" for a manual target, and proposes "off" for an off target;
2. otherwise plans (:mod:`._plan`): command sequences over the next hours, scored with the
   estimation model rolled forward (one call per plan step for the whole batch) and the comfort
   model (one call per round), in two rounds (constant commands, then two-segment sequences
   built on the cheapest); the proposal is the first command of the cheapest sequence, and the
   reason names it and the runner-up (the cheapest with another first command) with their
   forecasts, comfort, kWh and cost terms;
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
from skynet.control._fallback import off_command, thermostat
from skynet.control._plan import DevicePlan, comfort_rows, commands, describe, make_plan, score, second_round
from skynet.control._predict import ModelFailure, Models, feedback_many, rollout_many
from skynet.control._rollout import Rollout
from skynet.control._safety import SafetyState, apply_safety
from skynet.control._types import Decision, FailureKind, Fallback, Request
from skynet.domain import ApplianceState, Fan, Mode

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


def _batch(
    requests: Sequence[Request], models: Models, config: ControlConfig, started: float, log: bool
) -> list[Decision]:
    plans = {
        i: make_plan(r, config, models.guard(config)) for i, r in enumerate(requests) if _wants_models(r)
    }
    failure = None
    if plans:
        try:
            _plan_all(list(plans.values()), models, config)
        except ModelFailure as exc:
            if len(requests) > 1:  # each device alone: only those the failure is about fall back
                return [d for r in requests for d in _batch([r], models, config, started, log)]
            failure = exc.fallback
    return [_finish(r, plans.get(i), failure, config, started, log) for i, r in enumerate(requests)]


def _wants_models(request: Request) -> bool:
    return request.target_mode not in ("manual", "off") and request.context.valid()


def _plan_all(plans: list[DevicePlan], models: Models, config: ControlConfig) -> None:
    """Both rounds of every plan: the constant commands, then the two-segment sequences."""
    _round(plans, models, config)
    for plan in plans:
        second_round(plan, config)
    _round([p for p in plans if len(p.first)], models, config)


def _round(
    plans: list[DevicePlan],
    models: Models,
    config: ControlConfig,
) -> None:
    """Roll, ask the comfort model and score the current sequences of every plan (one call each)."""
    if not plans:
        return
    sizes = [len(p.first) for p in plans]
    rooms = _rooms(plans, sizes)
    cmds = [commands(p) for p in plans]
    joined = tuple(np.concatenate([c[j] for c in cmds]) for j in range(4))
    roll = rollout_many(models, rooms, joined, config.plan_step_minutes, config.estimator_budget)
    parts = _split(roll, sizes)
    feedback = _feedback(plans, parts, models, config)
    for plan, part, votes in zip(plans, parts, feedback, strict=True):
        terms = score(plan, part, votes, config)
        plan.roll.append(part)
        plan.feedback.append(votes)
        _keep(plan, terms)


def _rooms(plans: list[DevicePlan], sizes: list[int]) -> dict[str, np.ndarray]:
    """Every sequence's room now: its device's estimation inputs (mode and fan as codes)."""
    out: dict[str, list[Any]] = {}
    for plan, n in zip(plans, sizes, strict=True):
        for key, value in plan.inputs.items():
            if key in ("mode", "fan"):
                kind = Mode if key == "mode" else Fan
                value = -1 if value is None else int(kind.of(value))
            out.setdefault(key, []).append(np.full(n, np.nan if value is None else value, dtype=float))
    return {k: np.concatenate(v) for k, v in out.items()}


def _split(roll: Rollout, sizes: list[int]) -> list[Rollout]:
    bounds = np.cumsum([0, *sizes])
    return [Rollout(roll.points, *(getattr(roll, f)[lo:hi] for f in ("temperature", "humidity", "drift_temperature",
                                                                       "drift_humidity")))
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]  # fmt: skip


def _feedback(
    plans: list[DevicePlan], parts: list[Rollout], models: Models, config: ControlConfig
) -> list[np.ndarray | None]:
    """The comfort model's votes of every plan's asked steps (one call; groups by personal offset)."""
    contexts, rows, offsets, where = [], [], [], []
    for p, (plan, roll) in enumerate(zip(plans, parts, strict=True)):
        if not plan.comfort:
            continue
        mask, ta, rh, va = comfort_rows(plan, roll)
        step = np.broadcast_to(np.arange(plan.steps)[None, :, None], mask.shape)[mask]
        for offset in dict.fromkeys(plan.offsets):
            chosen = np.isin(step, [s for s in range(plan.steps) if plan.offsets[s] == offset])
            contexts.append(plan.request.context)
            rows.append((ta[chosen], rh[chosen], va[chosen]))
            offsets.append(offset)
            where.append((p, mask, chosen))
    out: list[np.ndarray | None] = [None] * len(plans)
    if not contexts:
        return out
    values = feedback_many(models, contexts, rows, offsets, config.comfort_budget)
    flat: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for (p, mask, chosen), v in zip(where, values, strict=True):
        flat.setdefault(p, (mask, np.zeros(len(chosen))))[1][chosen] = v
    for p, (mask, v) in flat.items():
        full = np.zeros(parts[p].temperature.shape)
        full[mask] = v
        full[:, 1:, :-1] = full[:, 1:, -1:]  # a settled step: its end stands for its points
        out[p] = full
    return out


def _keep(plan: DevicePlan, terms: dict[str, np.ndarray]) -> None:
    """Add a round's sequences and costs to the plan's (the sequences scored so far)."""
    kept = plan.terms
    for key in ("first", "second", "switch"):
        kept.setdefault(f"_{key}", np.zeros(0, dtype=np.int64))
        kept[f"_{key}"] = np.concatenate([kept[f"_{key}"], getattr(plan, key)])
    for key, value in terms.items():
        kept[key] = np.concatenate([kept.get(key, np.zeros(0)), value])
    kept.setdefault("_round", np.zeros(0, dtype=np.int64))
    kept["_round"] = np.concatenate([kept["_round"], np.full(len(plan.first), len(plan.roll) - 1)])


def _finish(
    request: Request,
    plan: DevicePlan | None,
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
            proposal, details = _choose(request, plan, config)
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
    request: Request, plan: DevicePlan, config: ControlConfig
) -> tuple[ApplianceState, dict[str, Any]]:
    """The first command of the cheapest sequence, and the reason's details."""
    context, state, now, mode = request.context, request.state, request.now, request.target_mode
    kept = plan.terms
    total = kept["total"]
    if not np.isfinite(total).all():
        raise ModelFailure(Fallback(FailureKind.INVALID, "plan cost", detail="NaN"))
    order = np.argsort(total, kind="stable")
    first = kept["_first"]
    best = int(order[0])
    runner = next((int(i) for i in order[1:] if first[i] != first[best]), best)
    chosen = plan.cmds.command(int(first[best]), context.device_id, now, state)
    starts = np.cumsum([0, *(len(r.temperature) for r in plan.roll)])

    def summary(i: int) -> dict[str, Any]:
        r = int(kept["_round"][i])
        j = i - int(starts[r])
        roll, votes = plan.roll[r], plan.feedback[r]
        out = {
            "sequence": describe(plan, int(first[i]), int(kept["_second"][i]), int(kept["_switch"][i])),
            "command": plan.cmds.describe(int(first[i])),
            "temperature": [round(float(x), 2) for x in roll.temperature[j, :, -1]],
            "humidity": [round(float(x), 1) for x in roll.humidity[j, :, -1]],
            "kwh": round(float(kept["kwh"][i]), 3),
            "cost": {
                k: round(float(v[i]), 4) for k, v in kept.items() if not k.startswith("_") and k != "kwh"
            },
        }
        if votes is not None:
            out["feedback"] = [round(float(x), 2) for x in votes[j].mean(axis=1)]
        return out

    details = {
        "why": (
            "least cost of comfort, energy and switching over the plan"
            if plan.comfort
            else f"least cost for the {mode} target over the plan"
        ),
        "plan": {"steps": plan.steps, "step_minutes": plan.step_minutes, "sequences": len(total),
                 "occupancy": [round(float(x), 2) for x in plan.occupancy]},  # fmt: skip
        "candidates": len(plan.cmds),
        "chosen": summary(best),
        "runner_up": summary(runner),
    }
    if mode == "comfort" and not context.occupied:
        details["why"] = f"nobody home now: {details['why']} (comfort weighed by the chance someone is home)"
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
        """Several devices' decisions, the models asked once per batch of ``config.batch_size``
        (see :func:`skynet.control.decide_many`)."""
        return decide_many(requests, self.models, self.config, self.config.batch_size, log=self.log_fallbacks)
