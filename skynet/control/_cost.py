"""The cost of each candidate command, from its forecast climate and predicted comfort.

All terms are in "comfort units" (a predicted feedback of ±1 held over the horizon, beyond the
dead band, costs about 1) and averaged over the forecast horizons:

- **comfort** (comfort target, someone home): ``comfort_weight × max(|feedback| - deadband, 0)²``;
- **temperature** / **humidity** targets: the squared error to the target value, scaled by
  ``target_scale`` (K) / ``humidity_scale`` (%RH);
- **band**: ``band_weight`` per K² outside a band at the last horizon (where the room
  settles: a room that is too warm now gets cooled to the band, not at the coldest set point
  to get there a few minutes sooner): ``away_band`` (away target),
  ``empty_band`` (comfort target, nobody home) or ``occupied_band`` (comfort target, someone
  home: a guard against a comfort model asked about climates beyond those it learned from);
- **energy**: ``energy_weight`` × how far the AC holds the room from where it would drift with
  the AC off (the "off" candidate's forecast) — down to its set point, or as far as the unit
  can (heat moved ≈ that gap × time; the cooling degrees to the set point over the horizon),
  dry mode as cooling (its compressor runs long, if slowly), latent heat counted at 0.5 K per %RH of humidity removed — plus
  ``running_cost`` for a running unit and ``fan_cost`` by fan speed; an AC that is off costs
  nothing;
- **switching**: ``switch_penalty`` for any change from the current state,
  ``power_switch_penalty`` more for switching on and ``mode_switch_penalty`` more for another
  mode of a running unit (cool, dry and fan-only take turns otherwise), all multiplied by one plus
  ``repeat_factor`` times the number of commands sent in the last hour (a device that just changed twice needs a clear
  gain to change again: no on/off chatter at the edge of a band), and a setting younger than
  ``dwell_minutes`` counts up to ``dwell_weight`` more commands (:func:`dwell`); in an empty home only
  ``empty_switch_share`` of them applies (nobody hears the beep; the rate limit still holds).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from skynet.config import ControlConfig
from skynet.control._candidates import Candidates, Setting
from skynet.domain import ApplianceState, Mode

__all__ = ["costs", "dwell", "LATENT_K_PER_RH"]

#: Sensible-heat equivalent of removing 1 %RH near 25 °C (1 g/kg ≈ 2.5 K ≈ 4.8 %RH).
LATENT_K_PER_RH = 0.5


def costs(
    cands: Candidates,
    temperature: np.ndarray,
    humidity: np.ndarray,
    feedback: np.ndarray | None,
    target_mode: str,
    target_value: float | None,
    band: tuple[float, float] | None,
    current: Setting | None,
    config: ControlConfig,
    recent_commands: float = 0,
    switch_share: float = 1.0,
) -> dict[str, np.ndarray]:
    """Cost terms of every candidate; ``total`` sums them.

    Args:
        cands: the candidates; row 0 is "off".
        temperature, humidity: forecasts ``(n, horizons)``.
        feedback: predicted feedback ``(n, horizons)`` (comfort target only).
        target_mode: comfort, temperature, humidity or away.
        target_value: the temperature / humidity target.
        band: the band to stay in (away, empty home), or None.
        current: the current setting (None: unknown).
        config: the weights.
        recent_commands: commands sent to the device in the last hour (each makes the next
            change dearer: the switching penalties are multiplied by
            ``1 + repeat_factor × recent_commands``); :func:`dwell` adds a young setting's share.
        switch_share: share of the switching penalties that applies (an empty home hears no beep).
    """
    n = len(cands)
    on = cands.power
    out: dict[str, np.ndarray] = {}
    if feedback is not None:
        beyond = np.maximum(np.abs(feedback) - config.comfort_deadband, 0.0)
        out["comfort"] = config.comfort_weight * (beyond**2).mean(axis=1)
    if target_mode == "temperature" and target_value is not None:
        out["target"] = (((temperature - target_value) / config.target_scale) ** 2).mean(axis=1)
    if target_mode == "humidity" and target_value is not None:
        out["target"] = (((humidity - target_value) / config.humidity_scale) ** 2).mean(axis=1)
    if band is not None:  # where the room settles (the last horizon), not the way there
        last = temperature[:, -1]
        outside = np.maximum(last - band[1], 0.0) + np.maximum(band[0] - last, 0.0)
        out["band"] = config.band_weight * outside**2
    held = _held(cands, temperature, humidity)
    fan_cost = np.asarray(config.fan_cost, dtype=float)[cands.fan.clip(0, len(config.fan_cost) - 1)]
    out["energy"] = np.where(on, config.energy_weight * held + config.running_cost + fan_cost, 0.0)
    scale = switch_share * (1.0 + config.repeat_factor * recent_commands)
    out["switch"] = scale * _switching(cands, current, config) if current is not None else np.zeros(n)
    out["total"] = sum(out.values())
    return out


def _held(cands: Candidates, temperature: np.ndarray, humidity: np.ndarray) -> np.ndarray:
    """Kelvin (mean over the horizons) each candidate holds the room from its drift with the AC off.

    Cooling holds the room at its set point, or at the coldest any candidate of its mode
    reaches (the unit's capacity), below the "off" forecast (row 0); heating likewise upwards. The set
    point, not the candidate's own forecast, measures it: a command that starts now reaches
    its set point later than the one in force, which would otherwise look cheaper each time.
    """
    on, mode, tset = cands.power, cands.mode, cands.set_temperature[:, None]
    drift = temperature[0][None, :]
    cooling = on & (
        (mode == Mode.COOL) | (mode == Mode.DRY) | ((mode == Mode.AUTO) & (tset[:, 0] < drift[0, 0]))
    )
    heating = on & ((mode == Mode.HEAT) | ((mode == Mode.AUTO) & ~cooling))
    floor = np.repeat(drift, len(cands), axis=0)  # per candidate: the coldest its mode reaches
    ceiling = floor.copy()
    for code in np.unique(mode[cooling | heating]):
        same = (mode == code) & on
        floor[same] = temperature[same].min(axis=0)
        ceiling[same] = temperature[same].max(axis=0)
    held = np.where(cooling[:, None], np.maximum(drift - np.maximum(tset, floor), 0.0), 0.0)
    held += np.where(heating[:, None], np.maximum(np.minimum(tset, ceiling) - drift, 0.0), 0.0)
    latent = LATENT_K_PER_RH * np.maximum(humidity[0][None, :] - humidity, 0.0) * cooling[:, None]
    return (held + latent).mean(axis=1)


def _switching(cands: Candidates, current: Setting, config: ControlConfig) -> np.ndarray:
    on, was_on = cands.power, current.power
    if was_on:
        same = (
            on
            & (cands.mode == current.mode)
            & (np.abs(cands.set_temperature - current.set_temperature) < 0.25)
            & (cands.fan == current.fan)
        )
    else:
        same = ~on
    penalty = config.switch_penalty + np.where(on & ~was_on, config.power_switch_penalty, 0.0)
    if was_on:  # another running mode (cool <-> dry <-> fan): the room's behaviour changes most
        penalty = penalty + np.where(on & (cands.mode != current.mode), config.mode_switch_penalty, 0.0)
    return np.where(same, 0.0, penalty)


def dwell(state: ApplianceState | None, now: datetime, config: ControlConfig) -> float:
    """Extra "recent commands" for a young setting: ``dwell_weight`` when it just began, falling
    linearly to 0 at ``dwell_minutes`` (a reading taken while the compressor just started or
    stopped does not undo a command five minutes later; the last-hour count alone let a set
    point go up and back down within ten minutes)."""
    if state is None or config.dwell_minutes <= 0:
        return 0.0
    age = (now - state.timestamp).total_seconds() / 60.0
    return config.dwell_weight * max(0.0, 1.0 - age / config.dwell_minutes)
