"""Receding-horizon planning: each decision scores a few command sequences over the next hours.

For every device of a batch, the planner builds command *sequences* over ``plan_steps`` steps of
``plan_step_minutes`` (default 8 × 30 minutes) in two rounds:

1. **constant**: each candidate command (:func:`~skynet.control._candidates.candidates`) for the
   whole plan — hold the current setting, off, each set point of each mode the situation
   allows ("change now");
2. **two segments**, from the cheapest constants of round 1 (``plan_alternatives`` of them, the
   commands ``b``), switching after ``k`` steps (``plan_switch_steps``): *change later*
   (hold, then ``b``), *off then on* / *pre-cool before an arrival* (off, then ``b``), *set
   back after a departure* (``b``, then off; hold, then off) and *set back* (the current set
   point 2 K warmer when cooling, colder when heating, then back).

Each sequence is scored over the plan with the estimation model rolled forward
(:func:`~skynet.control._rollout.rollout`):

- **comfort** (comfort target): the comfort model's predicted vote at the forecast climate, with
  the device's personal offset at each step's hour, as ``comfort_weight × max(|vote -
  comfort_target| - comfort_deadband, 0)²`` per hour, weighted by the chance someone is home at that step (the
  occupancy forecast); forecasts outside the comfort model's training range (within the safety
  range) cost ``band_weight`` per K² and hour instead of trusting an extrapolation; an empty home
  keeps within ``empty_band``;
- **targets**: temperature / humidity error per hour (``target_scale`` / ``humidity_scale``),
  or ``away_band``;
- **energy** in kWh: ``kwh_per_kelvin`` for each kelvin the AC holds the room from where it
  would drift with the AC off over a step (the heat it moved), plus ``fan_kw`` while running,
  times ``energy_weight`` (comfort units per kWh);
- **switching**: every command of the sequence once (``switch_penalty``, more for switching on or
  to another mode); the first one dearer after recent commands (``repeat_factor``,
  ``dwell_minutes``); ``empty_switch_share`` of it in an empty home.

The decision is the first command of the cheapest sequence; the next decision plans again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from skynet.config import ControlConfig
from skynet.control._candidates import Candidates, Setting, candidates
from skynet.control._cost import LATENT_K_PER_RH, dwell
from skynet.control._fallback import target_band
from skynet.control._features import air_speed, estimation_inputs
from skynet.control._rollout import Rollout
from skynet.control._types import Request
from skynet.domain import Mode

__all__ = [
    "DevicePlan",
    "make_plan",
    "first_round",
    "second_round",
    "commands",
    "comfort_rows",
    "score",
    "describe",
]

#: Chance of someone home below which a step's comfort is not asked of the comfort model.
_NOBODY = 0.01


@dataclass
class DevicePlan:
    """One device's planning: its commands, sequences and (after scoring) their costs."""

    request: Request
    band: tuple[float, float]
    cmds: Candidates
    hold: int
    off: int
    occupancy: np.ndarray  # (steps,) chance someone is home at each step
    offsets: list[float | None]  # (steps,) personal offset at each step's hour
    inputs: dict[str, Any]  # the estimation model's inputs now
    comfort: bool  # whether the comfort model is asked
    guard: tuple[float, float] | None  # where the comfort model is trusted (°C)
    step_minutes: int = 30
    setback: int | None = None  # the row of the set-back command (None: nothing to set back)
    first: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    second: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    switch: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    terms: dict[str, np.ndarray] = field(default_factory=dict)
    roll: list[Rollout] = field(default_factory=list)
    feedback: list[np.ndarray | None] = field(default_factory=list)

    @property
    def steps(self) -> int:
        return len(self.occupancy)


def make_plan(request: Request, config: ControlConfig, guard: tuple[float, float] | None) -> DevicePlan:
    """A device's candidate commands and round-1 sequences (see the module docstring)."""
    context, mode, state = request.context, request.target_mode, request.state
    value = request.target.value if request.target is not None else None
    steps = config.plan_steps
    ahead = (np.arange(steps) + 0.5) * config.plan_step_minutes
    occupancy = _occupancy(request, ahead, config)
    band = target_band(mode, value, context, config)
    people = mode in ("temperature", "humidity") or (mode == "comfort" and bool(occupancy.max() > _NOBODY))
    fans = (
        config.fans
        if config.plan_all_fans
        else tuple({"auto", *([state.fan] if state and state.fan else [])})
    )
    cmds = candidates(request.appliance, config, state, context.temperature, band, people, fans)
    hold = _hold(cmds, state)
    cmds, setback = _with_setback(cmds, state, request, config)
    hours = (context.hour + ahead / 60.0) % 24.0
    personal = context.personal
    offsets = [personal(h) for h in hours] if personal is not None else [context.comfort_offset] * steps
    plan = DevicePlan(request, band, cmds, hold, 0, occupancy, offsets, estimation_inputs(context, state, request.now),
                      mode == "comfort" and people, guard, config.plan_step_minutes, setback)  # fmt: skip
    first_round(plan)
    return plan


def _occupancy(request: Request, ahead: np.ndarray, config: ControlConfig) -> np.ndarray:
    """The chance someone is home at each step (the context's forecast, else the present state)."""
    context = request.context
    if context.occupancy_forecast is not None:
        return np.clip(np.asarray(context.occupancy_forecast(ahead), dtype=float), 0.0, 1.0)
    return np.full(len(ahead), 1.0 if context.occupied else 0.0)


def _hold(cmds: Candidates, state: Any) -> int:
    """The row of the setting in force (row 0, off, when it is off or unknown)."""
    current = Setting.of(state)
    if current is None or not current.power:
        return 0
    same = (
        cmds.power
        & (cmds.mode == current.mode)
        & (cmds.fan == current.fan)
        & (np.abs(cmds.set_temperature - current.set_temperature) < 0.25)
    )
    found = np.flatnonzero(same)
    return int(found[0]) if len(found) else 0


def _with_setback(
    cmds: Candidates, state: Any, request: Request, config: ControlConfig
) -> tuple[Candidates, int | None]:
    """The commands with the set-back of the setting in force (2 K towards saving), and its row."""
    current = Setting.of(state)
    if current is None or not current.power or current.mode not in (int(Mode.COOL), int(Mode.HEAT)):
        return cmds, None
    from skynet.control._safety import allowed_set_range

    low, high = allowed_set_range(request.appliance, config)
    sign = 1.0 if current.mode == int(Mode.COOL) else -1.0
    target = float(np.clip(current.set_temperature + sign * config.setback_kelvin, low, high))
    row = (1.0, current.mode, target, current.fan)
    same = np.flatnonzero(np.all(np.abs(cmds.array - np.array(row)) < 1e-6, axis=1))
    if len(same):
        return cmds, int(same[0])
    return Candidates.of_rows(np.vstack([cmds.array, row])), len(cmds)


def second_round(plan: DevicePlan, config: ControlConfig) -> None:
    """Replace the plan's sequences with the two-segment ones built on its cheapest constants."""
    total = plan.terms["total"]
    order = [int(i) for i in np.argsort(total, kind="stable") if int(i) not in (plan.hold, plan.off)]
    best = [plan.first[i] for i in order[: config.plan_alternatives]]
    hold, off, steps = plan.hold, plan.off, plan.steps
    seqs: set[tuple[int, int, int]] = set()
    for k in config.plan_switch_steps:
        if not 0 < k < steps:
            continue
        for b in best:
            seqs.add((hold, k, b))  # change later
            seqs.add((off, k, b))  # off, then on: pre-cool before an arrival
            seqs.add((b, k, off))  # on, then off: after a departure
        if plan.cmds.power[hold]:
            seqs.add((hold, k, off))
        if plan.setback is not None:
            seqs.add((plan.setback, k, hold))
    seqs = {s for s in seqs if s[0] != s[2]}
    ordered = sorted(seqs)
    plan.first = np.array([s[0] for s in ordered], dtype=np.int64)
    plan.switch = np.array([s[1] for s in ordered], dtype=np.int64)
    plan.second = np.array([s[2] for s in ordered], dtype=np.int64)


def first_round(plan: DevicePlan) -> None:
    """The constant sequences: each command for the whole plan."""
    n = len(plan.cmds)
    plan.first, plan.second, plan.switch = np.arange(n), np.arange(n), np.full(n, plan.steps)


def commands(plan: DevicePlan) -> tuple[np.ndarray, ...]:
    """Each sequence's command at each step: power, mode, set temperature, fan ``(sequences, steps)``."""
    step = np.arange(plan.steps)[None, :]
    which = np.where(step < plan.switch[:, None], plan.first[:, None], plan.second[:, None])
    c = plan.cmds
    return c.power[which], c.mode[which], c.set_temperature[which], c.fan[which]


def comfort_rows(plan: DevicePlan, roll: Rollout) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What the comfort model is asked for a plan's sequences: the steps someone may be home at,
    at every point of the first step (a pull-down) and at the end of the others (settled rooms
    change slowly; asking about every point tripled the comfort model's work).

    Returns:
        ``mask`` ``(sequences, steps, points)`` of the asked points, and their temperature,
        humidity and air speed (in mask order).
    """
    power, _, _, fan = commands(plan)
    n, steps, points = roll.temperature.shape
    mask = np.zeros((n, steps, points), dtype=bool)
    home = plan.occupancy > _NOBODY
    mask[:, 0, :] = home[0]
    mask[:, 1:, -1] = home[None, 1:]
    speed = np.broadcast_to(air_speed(power, fan)[:, :, None], mask.shape)[mask]
    return mask, roll.temperature[mask], np.clip(roll.humidity[mask], 0.0, 100.0), speed


def score(
    plan: DevicePlan, roll: Rollout, feedback: np.ndarray | None, config: ControlConfig
) -> dict[str, np.ndarray]:
    """Cost terms of each of the plan's sequences; ``total`` sums them (see the module docstring)."""
    request, mode = plan.request, plan.request.target_mode
    value = request.target.value if request.target is not None else None
    hours = config.plan_step_minutes / 60.0
    occ = plan.occupancy[None, :]
    t, rh = roll.temperature, roll.humidity
    power, cmode, tset, fan = commands(plan)
    terms: dict[str, np.ndarray] = {}
    if plan.comfort and feedback is not None:
        beyond = np.maximum(np.abs(feedback - config.comfort_target) - config.comfort_deadband, 0.0) ** 2
        terms["comfort"] = config.comfort_weight * hours * (occ * beyond.mean(axis=2)).sum(axis=1)
        if plan.guard is not None:
            terms["guard"] = config.band_weight * hours * (occ * _outside(t, plan.guard)).sum(axis=1)
    if mode == "comfort":
        empty = 1.0 - occ if plan.comfort else np.ones_like(occ)
        terms["band"] = config.band_weight * hours * (empty * _outside(t, config.empty_band)).sum(axis=1)
    elif mode == "away":
        terms["band"] = config.band_weight * hours * _outside(t, plan.band).sum(axis=1)
    elif mode == "temperature" and value is not None:
        terms["target"] = hours * (((t - value) / config.target_scale) ** 2).mean(axis=2).sum(axis=1)
    elif mode == "humidity" and value is not None:
        terms["target"] = hours * (((rh - value) / config.humidity_scale) ** 2).mean(axis=2).sum(axis=1)
    kwh = _energy(roll, power, cmode, tset, fan, hours, config)
    terms["energy"] = config.energy_weight * kwh
    terms["switch"] = _switching(plan, power, cmode, config)
    total = np.zeros_like(kwh)
    for term in terms.values():
        total = total + term
    terms["total"] = total
    terms["kwh"] = kwh
    return terms


def _outside(t: np.ndarray, band: tuple[float, float]) -> np.ndarray:
    """Mean K² outside ``band`` of each step's points ``(sequences, steps)``."""
    excess = np.maximum(t - band[1], 0.0) + np.maximum(band[0] - t, 0.0)
    return (excess**2).mean(axis=2)


def _energy(roll: Rollout, power: np.ndarray, mode: np.ndarray, tset: np.ndarray, fan: np.ndarray, hours: float,
            config: ControlConfig) -> np.ndarray:  # fmt: skip
    """kWh of each sequence: the heat moved (kelvin held from the drift at each step's end) and the fan."""
    end_t, end_rh = roll.temperature[:, :, -1], roll.humidity[:, :, -1]
    drift_t, drift_rh = roll.drift_temperature[:, :, -1], roll.drift_humidity[:, :, -1]
    cooling = power & ((mode == Mode.COOL) | (mode == Mode.DRY) | ((mode == Mode.AUTO) & (tset < drift_t)))
    heating = power & ((mode == Mode.HEAT) | ((mode == Mode.AUTO) & ~cooling))
    held = np.where(cooling, np.maximum(drift_t - end_t, 0.0) + LATENT_K_PER_RH * np.maximum(drift_rh - end_rh, 0.0),
                    0.0)  # fmt: skip
    held += np.where(heating, np.maximum(end_t - drift_t, 0.0), 0.0)
    fan_kw = np.asarray(config.fan_kw, dtype=float)[np.clip(fan, 0, len(config.fan_kw) - 1)]
    return config.kwh_per_kelvin * held.sum(axis=1) + hours * np.where(power, fan_kw, 0.0).sum(axis=1)


def _switching(plan: DevicePlan, power: np.ndarray, mode: np.ndarray, config: ControlConfig) -> np.ndarray:
    """Every command of each sequence once, all of them dearer after recent commands and for a young
    setting. A later switch is weighed as one now (were it cheaper for being later, every decision
    would put it off again: the plan is made anew each time, the later switch never comes)."""
    request = plan.request
    now, state, safety = request.now, request.state, request.safety
    recent = (safety.commands_in_last_hour(now) if safety is not None else 0) + dwell(state, now, config)
    empty_now = plan.occupancy[0] < 0.5
    first_scale = (config.empty_switch_share if empty_now else 1.0) * (1.0 + config.repeat_factor * recent)
    current = Setting.of(state)
    cost = np.zeros(len(plan.first))
    if current is not None:
        changed = ~_same_command(plan.cmds, plan.first, current)
        cost += first_scale * changed * _penalty(current.power, current.mode, plan.cmds.power[plan.first],
                                                 plan.cmds.mode[plan.first], config)  # fmt: skip
    else:
        cost += first_scale * config.switch_penalty * plan.cmds.power[plan.first]
    later = plan.switch < plan.steps
    k = np.minimum(plan.switch, plan.steps - 1)
    share = np.where(plan.occupancy[k] < 0.5, config.empty_switch_share, 1.0) / (
        config.empty_switch_share if empty_now else 1.0
    )
    a, b = plan.first, plan.second
    c = plan.cmds
    penalty = _penalty(c.power[a], c.mode[a], c.power[b], c.mode[b], config)
    return cost + np.where(later & (a != b), first_scale * share * penalty, 0.0)


def _same_command(cmds: Candidates, rows: np.ndarray, current: Setting) -> np.ndarray:
    if not current.power:
        return ~cmds.power[rows]
    return (cmds.power[rows] & (cmds.mode[rows] == current.mode) & (cmds.fan[rows] == current.fan)
            & (np.abs(cmds.set_temperature[rows] - current.set_temperature) < 0.25))  # fmt: skip


def _penalty(
    was_on: Any, was_mode: Any, on: np.ndarray, mode: np.ndarray, config: ControlConfig
) -> np.ndarray:
    """Switching penalty of going from one setting to another (assumed different)."""
    penalty = config.switch_penalty + np.where(
        on & ~np.asarray(was_on, dtype=bool), config.power_switch_penalty, 0.0
    )
    return penalty + np.where(
        on & np.asarray(was_on, dtype=bool) & (mode != was_mode), config.mode_switch_penalty, 0.0
    )


def describe(plan: DevicePlan, a: int, b: int, k: int) -> str:
    """A sequence (``a`` for ``k`` steps, then ``b``) in a few words: ``cool 27 °C fan auto``,
    ``keep, then cool 26 °C fan auto in 60 min``."""
    first = "keep" if a == plan.hold else plan.cmds.describe(a)
    if k >= plan.steps or a == b:
        return first if a != plan.hold else f"keep ({plan.cmds.describe(a)})"
    then = plan.cmds.describe(b) if b != plan.hold else "back"
    return f"{first}, then {then} in {k * plan.step_minutes} min"
