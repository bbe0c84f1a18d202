"""Several devices' decisions at once: the models are asked once for all of them.

:func:`decide_many` gives each device the decision :func:`skynet.control.decide` gives it (the
same candidates, forecasts, comfort predictions, costs, fallbacks and safety rules), but the
devices that need the models share ONE estimation call (``predict_candidates_many``) and ONE
comfort call (``predict_many``): one network pass and one feature computation and tree walk
for all their candidates, rather than a few dozen small calls per device, each paying numpy's
and the models' fixed costs.

Nothing here changes a decision: when a model lacks the batched call, or the batched call
fails, is too slow or answers NaN, every device of the batch is decided on its own, by
:func:`decide`'s own path (its own calls, budgets and fallbacks).

A decision's ``latency`` runs from the start of its batch to the end of that decision: what
the device waited inside the controller. Batches are at most :data:`CHUNK` devices, which
bounds that wait (more devices are decided in several batches).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from skynet.control._decide import Models, _choose, _decide_with, _optimize, _plan, _wants_comfort
from skynet.control._predict import ModelFailure, comfort_many, estimation_state, forecast_many
from skynet.control._types import ControlConfig, Decision

__all__ = ["decide_many", "CHUNK"]

#: Devices decided together at most (their decisions wait for the whole batch).
CHUNK = 4


def decide_many(
    requests: Sequence[tuple[Any, ...]], models: Models, config: ControlConfig, chunk: int = CHUNK
) -> list[Decision]:
    """The decisions of several devices (see the module docstring).

    Args:
        requests: per device, ``(context, target, appliance, state, now, safety)`` as
            :func:`skynet.control.decide` takes them.
        models: the estimation and comfort models.
        config: weights, fallback and safety settings.
        chunk: devices decided together at most.

    Returns:
        The decisions, in the order of ``requests``.
    """
    out: list[Decision] = []
    for lo in range(0, len(requests), max(1, chunk)):
        out += _decide_batch(requests[lo : lo + max(1, chunk)], models, config)
    return out


def _decide_batch(
    requests: Sequence[tuple[Any, ...]], models: Models, config: ControlConfig
) -> list[Decision]:
    started = time.perf_counter()
    plans: dict[int, _Plan] = {}
    for i, (context, target, appliance, state, now, _) in enumerate(requests):
        mode = target.mode if target is not None else "manual"
        if mode in ("manual", "off") or not context.valid():
            continue  # no model asked: decide() as it is
        try:
            band, cands = _plan(context, mode, target.value, appliance, state, config)
        except Exception:  # noqa: BLE001 - decide() meets the same error on its own
            continue
        plans[i] = _Plan(band, cands, estimation_state(context, state, now), _wants_comfort(mode, context))
    answers = _ask_models(requests, plans, models, config) if plans else None
    out = []
    for i, (context, target, appliance, state, now, safety) in enumerate(requests):
        plan = plans.get(i) if answers is not None else None
        if plan is None:
            optimize = _alone(context, appliance, state, models, config, now)
        else:
            optimize = _answered(context, state, config, now, plan)
        out.append(_decide_with(optimize, context, target, appliance, state, config, now, safety, started))
    return out


class _Plan:
    """A device's candidates before the model calls, and (after them) the models' answers."""

    __slots__ = ("band", "cands", "state", "comfort", "temperature", "humidity", "feedback")

    def __init__(self, band: tuple[float, float], cands: Any, state: dict[str, Any], comfort: bool) -> None:
        self.band, self.cands, self.state, self.comfort = band, cands, state, comfort
        self.temperature = self.humidity = self.feedback = None


def _ask_models(
    requests: Sequence[tuple[Any, ...]], plans: dict[int, _Plan], models: Models, config: ControlConfig
) -> bool | None:
    """Fill the plans with the batched calls' answers; None when a device must go on its own."""
    if models.estimator is None:
        return None
    items = list(plans.values())
    try:
        forecasts = forecast_many(
            models.estimator, [p.state for p in items], [p.cands for p in items],
            config.horizons, config.estimator_budget,
        )  # fmt: skip
        if forecasts is None:
            return None
        for plan, (temperature, humidity) in zip(items, forecasts, strict=True):
            plan.temperature, plan.humidity = temperature, humidity
        asking = [(i, p) for i, p in plans.items() if p.comfort]
        if asking:
            if models.comfort is None:
                return None
            feedback = comfort_many(
                models.comfort, [requests[i][0] for i, _ in asking], [p.cands for _, p in asking],
                [p.temperature for _, p in asking], [p.humidity for _, p in asking], config.comfort_budget,
            )  # fmt: skip
            if feedback is None:
                return None
            for (_, plan), values in zip(asking, feedback, strict=True):
                plan.feedback = values
    except ModelFailure:
        return None
    return True


def _alone(
    context: Any, appliance: Any, state: Any, models: Models, config: ControlConfig, now: Any
) -> Callable[..., Any]:
    """The model step of :func:`decide` itself (its own calls)."""
    return lambda mode, value, safety: _optimize(
        context, mode, value, appliance, state, models, config, now, safety
    )


def _answered(context: Any, state: Any, config: ControlConfig, now: Any, plan: _Plan) -> Callable[..., Any]:
    """The model step reading the batch's answers for this device."""
    return lambda mode, value, safety: _choose(
        context, mode, value, state, config, now, safety, plan.band, plan.cands,
        plan.temperature, plan.humidity, plan.feedback,
    )  # fmt: skip
