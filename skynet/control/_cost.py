"""The cost of each candidate command, from its forecast climate and predicted comfort.

All terms are in "comfort units" (a predicted feedback of ±1 held over the horizon, beyond the
dead band, costs about 1) and averaged over the forecast horizons:

- **comfort** (comfort target, someone home): ``max(|feedback| - deadband, 0)²``;
- **temperature** / **humidity** targets: the squared error to the target value, scaled by
  ``target_scale`` (K) / ``humidity_scale`` (%RH);
- **band** (away target, or an empty home under the comfort target): ``band_weight`` per K²
  outside the band;
- **energy**: ``energy_weight`` × how far the AC holds the room from where it would drift with
  the AC off (the "off" candidate's forecast: heat moved ≈ that gap × time), latent heat
  counted at 0.5 K per %RH of humidity removed, plus ``running_cost`` for a running unit and
  ``fan_cost`` by fan speed; no energy is charged for an AC that is off;
- **switching**: ``switch_penalty`` for any change from the current state and
  ``power_switch_penalty`` more for switching on or off.
"""

from __future__ import annotations

import numpy as np

from skynet.control._types import ControlConfig
from skynet.domain import ApplianceState

__all__ = ["costs", "LATENT_K_PER_RH"]

#: Sensible-heat equivalent of removing 1 %RH near 25 °C (1 g/kg ≈ 2.5 K ≈ 4.8 %RH).
LATENT_K_PER_RH = 0.5


def costs(
    cands: np.ndarray,
    temperature: np.ndarray,
    humidity: np.ndarray,
    feedback: np.ndarray | None,
    target_mode: str,
    target_value: float | None,
    band: tuple[float, float] | None,
    current_row: np.ndarray | None,
    config: ControlConfig,
) -> dict[str, np.ndarray]:
    """Cost terms of every candidate; ``total`` sums them.

    Args:
        cands: candidates ``(n, 4)``; row 0 is "off".
        temperature, humidity: forecasts ``(n, horizons)``.
        feedback: predicted feedback ``(n, horizons)`` (comfort target only).
        target_mode: comfort, temperature, humidity or away.
        target_value: the temperature / humidity target.
        band: the band to stay in (away, empty home), or None.
        current_row: the current state as a candidate row (None: unknown).
        config: the weights.
    """
    n = len(cands)
    on = cands[:, 0] > 0.5
    out: dict[str, np.ndarray] = {}
    if feedback is not None:
        out["comfort"] = (np.maximum(np.abs(feedback) - config.comfort_deadband, 0.0) ** 2).mean(axis=1)
    if target_mode == "temperature" and target_value is not None:
        out["target"] = (((temperature - target_value) / config.target_scale) ** 2).mean(axis=1)
    if target_mode == "humidity" and target_value is not None:
        out["target"] = (((humidity - target_value) / config.humidity_scale) ** 2).mean(axis=1)
    if band is not None:
        outside = np.maximum(temperature - band[1], 0.0) + np.maximum(band[0] - temperature, 0.0)
        out["band"] = config.band_weight * (outside**2).mean(axis=1)
    held = np.abs(temperature - temperature[0]) + LATENT_K_PER_RH * np.maximum(humidity[0] - humidity, 0.0)
    fan_cost = np.asarray(config.fan_cost, dtype=float)[
        cands[:, 3].astype(int).clip(0, len(config.fan_cost) - 1)
    ]
    out["energy"] = np.where(
        on, config.energy_weight * held.mean(axis=1) + config.running_cost + fan_cost, 0.0
    )
    out["switch"] = _switching(cands, current_row, config) if current_row is not None else np.zeros(n)
    out["total"] = sum(out.values())
    return out


def _switching(cands: np.ndarray, current: np.ndarray, config: ControlConfig) -> np.ndarray:
    on, was_on = cands[:, 0] > 0.5, current[0] > 0.5
    if was_on:
        same = (
            on
            & (cands[:, 1] == current[1])
            & (np.abs(cands[:, 2] - current[2]) < 0.25)
            & (cands[:, 3] == current[3])
        )
    else:
        same = ~on
    return np.where(
        same, 0.0, config.switch_penalty + np.where(on != was_on, config.power_switch_penalty, 0.0)
    )


def current_row(
    state: ApplianceState | None, mode_code: dict[str, int], fan_code: dict[str, int]
) -> np.ndarray | None:
    """The current state as a candidate row (None when unknown)."""
    if state is None:
        return None
    if not state.power:
        return np.array([0.0, 0.0, np.nan, 0.0])
    tset = state.set_temperature if state.set_temperature is not None else np.nan
    return np.array([1.0, mode_code.get(state.mode or "", -1), tset, fan_code.get(state.fan or "", -1)])
