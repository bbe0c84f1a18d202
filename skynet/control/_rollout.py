"""The estimation model rolled forward: a room's temperature and humidity over hours of commands.

The estimation model forecasts 5 to 60 minutes ahead from the room's recent readings and the
AC command. :func:`rollout` chains it over a plan: each step (``step`` minutes, 30 or 60) asks
the model about every row (a device's command sequence) at once, reads the forecasts at the
horizons within the step, and makes the next step's room from them — the forecast at the
step's end becomes the reading, the lags and the half-hour mean come from the forecasts of the
step (piecewise linear between them, as the estimation frame's one-minute grid is), the AC
setting in force and its age carry on, the local hour advances; the outdoor weather persists.

Every step also asks the model about the same rooms with the AC off: the *drift*. How far a
command holds the room from its drift over a step is the heat the AC moved (see
:mod:`skynet.control._plan`'s energy).

Rows that are the same at a step (sequences that have not yet parted, a drift row that is an
"off" row) are asked once: two-segment sequences share their first segment with a constant one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from skynet.data.estimation import LAGS, WINDOW

__all__ = ["Rollout", "rollout"]


@dataclass
class Rollout:
    """Forecasts of every row at every step: arrays ``(rows, steps, points)``.

    Attributes:
        points: the minutes within a step the forecasts are at (the model's horizons up to the step).
        temperature, humidity: under the rows' commands.
        drift_temperature, drift_humidity: from the same rooms with the AC off during the step.
    """

    points: tuple[int, ...]
    temperature: np.ndarray
    humidity: np.ndarray
    drift_temperature: np.ndarray
    drift_humidity: np.ndarray


def rollout(
    predict: Callable[[dict[str, Any]], tuple[np.ndarray, np.ndarray]],
    horizons: tuple[int, ...],
    rooms: dict[str, np.ndarray],
    power: np.ndarray,
    mode: np.ndarray,
    set_temperature: np.ndarray,
    fan: np.ndarray,
    step: int,
) -> Rollout:
    """Roll the model forward over the commands of every row.

    Args:
        predict: the model on rows of arrays (``predict_inputs``): ``(temperature, humidity)``,
            each ``(rows, len(horizons))``.
        horizons: the model's horizons (minutes); ``step`` must be one of them.
        rooms: each row's room now: every estimation input as an array (``mode`` / ``fan`` as
            codes; the AC fields are the setting in force and ``ac_minutes`` its age).
        power, mode, set_temperature, fan: each row's command at each step ``(rows, steps)``.
        step: minutes per step (30 or 60: the longest lag fits in one step).

    Returns:
        The forecasts of every row and step.
    """
    if step not in horizons or step < max(*LAGS, WINDOW):
        raise ValueError(f"a plan step must be a model horizon of at least {max(*LAGS, WINDOW)} minutes")
    points = tuple(h for h in horizons if h <= step)
    at = [horizons.index(p) for p in points]
    rows, steps = power.shape
    state = {k: np.array(v, dtype=float, copy=True) for k, v in rooms.items()}
    out = {k: np.empty((rows, steps, len(points))) for k in ("t", "rh", "t0", "rh0")}
    off = np.zeros(rows)
    weights = _step_weights(points, step)
    for s in range(steps):
        cmd = (power[:, s].astype(float), mode[:, s], set_temperature[:, s], fan[:, s])
        same = _same(state, *cmd)
        age = np.where(same, state["ac_minutes"], 0.0)
        was_off = state["power"] < 0.5
        asked = {k: np.concatenate([v, v]) for k, v in state.items()}
        asked["power"] = np.concatenate([cmd[0], off])
        asked["mode"] = np.concatenate([cmd[1], state["mode"]])
        asked["set_temperature"] = np.concatenate([cmd[2], state["set_temperature"]])
        asked["fan"] = np.concatenate([cmd[3], state["fan"]])
        asked["ac_minutes"] = np.concatenate([age, np.where(was_off, state["ac_minutes"], 0.0)])
        first, inverse = _distinct(asked)
        temperature, humidity = predict({k: v[first] for k, v in asked.items()})
        temperature, humidity = temperature[inverse], humidity[inverse]
        t, rh = temperature[:rows][:, at], humidity[:rows][:, at]
        out["t"][:, s], out["rh"][:, s] = t, rh
        out["t0"][:, s], out["rh0"][:, s] = temperature[rows:][:, at], humidity[rows:][:, at]
        state = _next(state, t, rh, weights, step)
        state["power"], state["mode"], state["set_temperature"], state["fan"] = cmd
        state["ac_minutes"] = age + step
    return Rollout(points, out["t"], out["rh"], out["t0"], out["rh0"])


_KEY = np.random.default_rng(1).uniform(0.5, 1.5, 64)


def _distinct(rows: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The first of each distinct row, and each row's distinct index (rows compared in full)."""
    matrix = np.nan_to_num(np.column_stack(list(rows.values())), nan=-1e9)
    key = matrix @ _KEY[: matrix.shape[1]]
    order = np.argsort(key, kind="stable")
    new = np.empty(len(order), dtype=bool)
    new[:1] = True
    new[1:] = np.any(matrix[order[1:]] != matrix[order[:-1]], axis=1)
    inverse = np.empty(len(order), dtype=np.intp)
    inverse[order] = np.cumsum(new) - 1
    first = order[new]
    perm = np.argsort(first, kind="stable")  # groups in the order of their first row
    return first[perm], np.argsort(perm)[inverse]


def _same(state: dict[str, np.ndarray], power: np.ndarray, mode: np.ndarray, tset: np.ndarray,
          fan: np.ndarray) -> np.ndarray:  # fmt: skip
    """Whether each row's command is the setting in force (off is off, whatever else)."""
    on, was_on = power > 0.5, state["power"] > 0.5
    alike = (mode == state["mode"]) & (fan == state["fan"]) & (np.abs(tset - state["set_temperature"]) < 0.25)
    return np.where(on, was_on & alike, ~was_on)


def _next(state: dict[str, np.ndarray], t: np.ndarray, rh: np.ndarray, weights: dict[Any, np.ndarray],
          step: int) -> dict[str, np.ndarray]:  # fmt: skip
    """The rooms at the end of a step: the forecasts become the readings, their lags and mean."""
    new = dict(state)
    t_path = np.column_stack([state["temperature"], t])  # values at the knots (0 and the points)
    rh_path = np.column_stack([state["humidity"], rh])
    new["temperature"], new["humidity"] = t_path[:, -1], rh_path[:, -1]
    for lag in LAGS:
        new[f"temperature_lag{lag}"] = t_path @ weights[lag]
        new[f"humidity_lag{lag}"] = rh_path @ weights[lag]
    new[f"temperature_mean{WINDOW}"] = t_path @ weights["mean"]
    new[f"humidity_mean{WINDOW}"] = rh_path @ weights["mean"]
    new["hour"] = (state["hour"] + step / 60.0) % 24.0
    return new


@lru_cache(maxsize=8)
def _step_weights(points: tuple[int, ...], step: int) -> dict[Any, np.ndarray]:
    """Weights on a step's values (now and at ``points``) of each lag and of the mean at its end."""
    knots = np.array([0.0, *points])
    weights: dict[Any, np.ndarray] = {lag: _weights(knots, step - lag) for lag in LAGS}
    weights["mean"] = _mean_weights(knots, step - WINDOW, step)
    return weights


def _weights(knots: np.ndarray, at: float) -> np.ndarray:
    """Weights on the knots' values of the piecewise-linear value at ``at``."""
    w = np.zeros(len(knots))
    i = int(np.clip(np.searchsorted(knots, at, side="right") - 1, 0, len(knots) - 2))
    share = (at - knots[i]) / (knots[i + 1] - knots[i])
    w[i], w[i + 1] = 1.0 - share, share
    return w


def _mean_weights(knots: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Weights on the knots' values of the mean of the piecewise-linear path over ``(lo, hi]``."""
    grid = np.linspace(lo, hi, 61)[1:]  # fine enough: the path is linear between knots
    return np.mean([_weights(knots, x) for x in grid], axis=0)
