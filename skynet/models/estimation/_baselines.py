"""Baselines the estimation model is judged against: persistence and a fitted gray-box RC model.

- :class:`Persistence`: the room stays as it is now, at every horizon.
- :class:`RcModel`: a first-order gray-box (1R1C) model with an ideal thermostat, **fitted
  per device** by least squares on that device's own history (the usual way a gray-box
  model is calibrated for a building). One air node, forecast in 5-minute steps:

  - AC off, fan only, or the unit idle on the right side of its set point (floating)::

        T[k+1] - T[k] = a (T_out - T) + g_s sin(hour) + g_c cos(hour) + g_0

    (the daily harmonics stand for solar and occupant gains);
  - cooling (cool, dry, auto above the set point) with the room above ``set + d_c``: the
    thermostat pulls it there, ``T[k+1] = set + d_c + r_c (T - set - d_c)``; heating the same
    with ``d_h``, ``r_h``. ``d`` is where the room settles relative to the set point (a unit
    senses the air at the ceiling), ``r`` how fast it gets there; a floating room does not
    cross ``set + d`` while the unit is on.

  Moisture is a linear step on the humidity ratio (g/kg): the outdoor difference, the coil's
  dehumidification while cooling (more the further above the set point), dry mode, the daily
  harmonics; the relative humidity follows from the forecast temperature and humidity ratio.
  A device with fewer than ``min_rows`` 5-minute steps uses the parameters fitted on all
  devices pooled (listed in :attr:`RcModel.pooled_`); a part (floating, cooling, heating) a
  device never showed uses the pooled one too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from skynet.domain import Mode
from skynet.errors import DataError
from skynet.models.estimation import _features as F

__all__ = ["Persistence", "RcModel"]

_STEP = 5  # minutes per RC step
_COOL, _HEAT, _DRY, _FAN_ONLY, _AUTO = Mode.COOL, Mode.HEAT, Mode.DRY, Mode.FAN, Mode.AUTO


def _targets(horizons: Sequence[int]) -> list[str]:
    return [f"temperature_{h}m" for h in horizons] + [f"humidity_{h}m" for h in horizons]


class Persistence:
    """Forecast: nothing changes."""

    def __init__(self, horizons: Sequence[int] = (5, 15, 30, 60)) -> None:
        self.horizons = tuple(horizons)

    def fit(self, frame: pd.DataFrame) -> Persistence:
        return self

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        k = len(self.horizons)
        values = np.column_stack([np.repeat(frame[["temperature"]].to_numpy(float), k, axis=1),
                                  np.repeat(frame[["humidity"]].to_numpy(float), k, axis=1)])  # fmt: skip
        return pd.DataFrame(values, columns=_targets(self.horizons), index=frame.index)


def _inputs(frame: pd.DataFrame) -> dict[str, Any]:
    raw = F.frame_inputs(frame)
    on, mode, hour = raw["power"] > 0.5, raw["mode"], raw["hour"]
    tset = np.nan_to_num(raw["set_temperature"], nan=24.0)
    return {
        "t": raw["temperature"], "w": F.humidity_ratio(raw["temperature"], raw["humidity"]), "set": tset,
        "cool": on & (np.isin(mode, (_COOL, _DRY)) | ((mode == _AUTO) & (raw["temperature"] > tset))),
        "heat": on & ((mode == _HEAT) | ((mode == _AUTO) & (raw["temperature"] <= tset))),
        "dry": on & (mode == _DRY), "t_out": raw["outdoor_temperature"],
        "w_out": F.humidity_ratio(raw["outdoor_temperature"], raw["outdoor_humidity"]), "hour": hour,
        "ac_minutes": np.nan_to_num(raw["ac_minutes"], nan=1e3),
    }  # fmt: skip


def _harmonics(hour: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.sin(hour * np.pi / 12), np.cos(hour * np.pi / 12)


def _free_regressors(t: np.ndarray, x: dict[str, Any], hour: np.ndarray) -> np.ndarray:
    s, c = _harmonics(hour)
    return np.column_stack([x["t_out"] - t, s, c, np.ones_like(t)])


def _moisture_regressors(t: np.ndarray, w: np.ndarray, x: dict[str, Any], hour: np.ndarray) -> np.ndarray:
    s, c = _harmonics(hour)
    pull = x["cool"] * np.clip(t - x["set"], 0.0, 3.0)
    return np.column_stack([x["w_out"] - w, x["cool"], pull, x["dry"], s, c, np.ones_like(t)])


def _solve(A: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    gram = A.T @ A + ridge * len(A) * np.eye(A.shape[1])
    return np.linalg.solve(gram, A.T @ y)


class _Params:
    """One device's (or the pool's) fitted parameters; None where its data showed no such regime."""

    def __init__(self, x: dict[str, Any], t5: np.ndarray, w5: np.ndarray, ridge: float, fallback: _Params | None,
                 settle: float = 60.0):  # fmt: skip
        t, w = x["t"], x["w"]
        floating = ~(x["cool"] | x["heat"]) & (x["ac_minutes"] >= settle)
        if floating.sum() >= 20:
            self.free = _solve(_free_regressors(t, x, x["hour"])[floating], (t5 - t)[floating], ridge)
        else:
            self.free = fallback.free if fallback else np.zeros(4)
        self.moisture = _solve(_moisture_regressors(t, w, x, x["hour"]), w5 - w, ridge)
        for name, sign in (("cool", 1.0), ("heat", -1.0)):
            unit = x[name]
            settled = unit & (x["ac_minutes"] >= 30) & (np.abs(t - x["set"]) < 3.0)
            offset = float(np.median((t - x["set"])[settled])) if settled.sum() >= 10 else None
            if offset is None:
                offset = getattr(fallback, f"{name}_offset", 0.0) if fallback else 0.0
            above = sign * (t - x["set"] - offset)
            pulling = unit & (above > 0.3)
            if pulling.sum() >= 10:
                rate, capacity = _fit_pull(above[pulling], sign * (t5 - x["set"] - offset)[pulling],
                                           sign * (_free_regressors(t, x, x["hour"]) @ self.free)[pulling])  # fmt: skip
            else:
                rate = getattr(fallback, f"{name}_rate", 0.5) if fallback else 0.5
                capacity = getattr(fallback, f"{name}_capacity", np.inf) if fallback else np.inf
            setattr(self, f"{name}_offset", offset)
            setattr(self, f"{name}_rate", rate)
            setattr(self, f"{name}_capacity", max(capacity, 0.0))


def _fit_pull(gap: np.ndarray, later: np.ndarray, drift: np.ndarray) -> tuple[float, float]:
    """(rate, capacity) of a unit pulling a room ``gap`` K beyond its settling point: the next
    gap is ``max(rate * gap, gap + drift - capacity)`` (in the pulling direction); least squares
    over a grid (rates 0..1, capacities at quantiles of the observed pulls)."""
    pulls = gap + drift - later
    best = (np.inf, 1.0, np.inf)
    for capacity in (*np.quantile(pulls, [0.5, 0.7, 0.8, 0.9, 0.95, 0.99]), np.inf):
        floor = gap + drift - capacity
        for rate in np.linspace(0.0, 1.0, 21):
            error = float(np.sum((np.maximum(rate * gap, floor) - later) ** 2))
            if error < best[0]:
                best = (error, float(rate), float(max(capacity, 0.0)))
    return best[1], best[2]


class RcModel:
    """First-order gray-box room model fitted per device (see the module docstring).

    Args:
        horizons: forecast horizons in minutes (multiples of 5).
        min_rows: fewest 5-minute steps to fit a device on its own.
        ridge: relative ridge penalty keeping the least-squares fit well posed.
    """

    def __init__(
        self, horizons: Sequence[int] = (5, 15, 30, 60), min_rows: int = 100, ridge: float = 1e-4
    ) -> None:
        bad = [h for h in horizons if h % _STEP]
        if bad:
            raise DataError(f"the RC model steps {_STEP} minutes; horizon {bad[0]} is not a multiple")
        self.horizons = tuple(horizons)
        self.min_rows = min_rows
        self.ridge = ridge

    def fit(self, frame: pd.DataFrame) -> RcModel:
        """Fit each device's parameters on its rows with a 5-minute target.

        Raises:
            DataError: no row has ``temperature_5m`` and ``humidity_5m``.
        """
        if "temperature_5m" not in frame or "humidity_5m" not in frame:
            raise DataError(
                "the RC model learns from 5-minute steps: the frame needs temperature_5m and humidity_5m"
            )
        ok = frame["temperature_5m"].notna().to_numpy() & frame["humidity_5m"].notna().to_numpy()
        if not ok.any():
            raise DataError("no rows with 5-minute targets to fit the RC model on")
        frame = frame[ok]
        x = _inputs(frame)
        t5 = frame["temperature_5m"].to_numpy(float)
        w5 = F.humidity_ratio(t5, frame["humidity_5m"].to_numpy(float))
        self.pooled_params_ = _Params(x, t5, w5, self.ridge, None)
        self.params_: dict[str, _Params] = {}
        self.pooled_: list[str] = []
        devices = (
            frame["device_id"].astype(str).to_numpy() if "device_id" in frame else np.full(len(frame), "")
        )
        for device in np.unique(devices):
            rows = devices == device
            if rows.sum() < self.min_rows:
                self.pooled_.append(str(device))
                continue
            part = {k: v[rows] for k, v in x.items()}
            self.params_[str(device)] = _Params(part, t5[rows], w5[rows], self.ridge, self.pooled_params_)
        return self

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Forecast each row by stepping its device's model (the pooled one for unknown devices)."""
        x = _inputs(frame)
        devices = (
            frame["device_id"].astype(str).to_numpy() if "device_id" in frame else np.full(len(frame), "")
        )
        k = len(self.horizons)
        out = np.empty((len(frame), 2 * k))
        for device in np.unique(devices):
            rows = devices == device
            params = self.params_.get(str(device), self.pooled_params_)
            part = {name: values[rows] for name, values in x.items()}
            out[rows] = self._forecast(part, params)
        return pd.DataFrame(out, columns=_targets(self.horizons), index=frame.index)

    def _forecast(self, x: dict[str, Any], p: _Params) -> np.ndarray:
        t, w = x["t"].copy(), x["w"].copy()
        k = len(self.horizons)
        out = np.empty((len(t), 2 * k))
        steps = {h // _STEP: i for i, h in enumerate(self.horizons)}
        cool_to, heat_to = x["set"] + p.cool_offset, x["set"] + p.heat_offset
        for step in range(1, max(steps) + 1):
            hour = x["hour"] + (step - 1) * _STEP / 60.0
            w = np.clip(w + _moisture_regressors(t, w, x, hour) @ p.moisture, 0.1, 40.0)
            free = t + _free_regressors(t, x, hour) @ p.free
            cooling = x["cool"] & (t > cool_to)
            heating = x["heat"] & (t < heat_to)
            cooled = np.maximum(cool_to + p.cool_rate * (t - cool_to), free - p.cool_capacity)
            heated = np.minimum(heat_to + p.heat_rate * (t - heat_to), free + p.heat_capacity)
            free = np.where(x["cool"] & ~cooling, np.minimum(free, cool_to), free)
            free = np.where(x["heat"] & ~heating, np.maximum(free, heat_to), free)
            t = np.where(cooling, cooled, np.where(heating, heated, free))
            if step in steps:
                i = steps[step]
                out[:, i] = t
                out[:, k + i] = np.clip(F.relative_humidity(t, w), 0.0, 100.0)
        return out
