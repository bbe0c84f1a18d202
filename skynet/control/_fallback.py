"""The rule-based fallback: a thermostat with hysteresis for each control target.

Used when a model is missing, fails, is too slow or returns NaN, and as the "comfort-band
thermostat" baseline of ``skynet control evaluate``. It reads only the current indoor
temperature and humidity, never a forecast:

- **comfort** (someone home or occupancy unknown): start cooling above the comfort band's
  top + hysteresis (set point: the top), heating below its bottom - hysteresis (set point:
  the bottom); a running AC keeps running (its own thermostat holds the set point) until the
  room is 2 × hysteresis past the *other* side of the band, then it goes off. An empty home uses
  ``empty_band`` the same way.
- **temperature** ``v``: the band is ``[v, v]``: cool above ``v + h``, heat below ``v - h``
  (a unit whose room reads a little under its set point keeps running).
- **humidity** ``v`` %RH: dry mode above ``v + 5``, off below ``v - 5``.
- **away**: ``away_band`` as for comfort.
- **off**: power off. **manual**: nothing.
"""

from __future__ import annotations

from datetime import datetime

from skynet.config import ControlConfig
from skynet.control._types import Context
from skynet.domain import ApplianceState, ControlTarget

__all__ = ["thermostat", "off_command", "target_band"]

_HUMIDITY_HYSTERESIS = 5.0


def off_command(device_id: str, now: datetime, current: ApplianceState | None) -> ApplianceState:
    """Power off, remembering the current mode, set point and fan."""
    if current is None:
        return ApplianceState(device_id, now, power=False, origin="skynet")
    return ApplianceState(device_id, now, False, current.mode, current.set_temperature, current.fan, "skynet")


def target_band(
    target_mode: str, value: float | None, context: Context, config: ControlConfig
) -> tuple[float, float]:
    """The temperature band (°C) a target asks for: comfort, empty home, away or ``[v, v]``."""
    if target_mode == "temperature" and value is not None:
        return float(value), float(value)
    if target_mode == "away":
        return config.away_band
    return config.comfort_band if context.occupied else config.empty_band


def thermostat(
    context: Context,
    target: ControlTarget | None,
    current: ApplianceState | None,
    config: ControlConfig,
    now: datetime,
) -> tuple[ApplianceState | None, str]:
    """What the fallback thermostat does now (see the module docstring).

    Returns:
        The proposed command (None: leave the AC as it is) and a one-line explanation.
    """
    device, t, h = context.device_id, context.temperature, config.hysteresis
    mode = target.mode if target is not None else "manual"
    running = current is not None and current.power
    running_mode = current.mode if running else None
    if mode == "manual":
        return None, "manual target: hands off"
    if mode == "off":
        return off_command(device, now, current), "off target"
    if mode == "humidity":
        v, rh = float(target.value), context.humidity
        if rh > v + _HUMIDITY_HYSTERESIS and running_mode != "dry":
            tset = round(t * 2) / 2
            return (
                ApplianceState(device, now, True, "dry", tset, "auto", "skynet"),
                f"humidity {rh:.0f} % > {v:g} %",
            )
        if running and rh < v - _HUMIDITY_HYSTERESIS:
            return off_command(device, now, current), f"humidity {rh:.0f} % < {v:g} %"
        return None, f"humidity {rh:.0f} % near {v:g} %"
    low, high = target_band(mode, target.value, context, config)
    if running_mode == "cool":
        if t < low - 2 * h:
            return off_command(device, now, current), f"{t:.1f} °C below {low:g} °C while cooling"
        return _run(device, now, "cool", high, current), f"cooling to {high:g} °C"
    if running_mode == "heat":
        if t > high + 2 * h:
            return off_command(device, now, current), f"{t:.1f} °C above {high:g} °C while heating"
        return _run(device, now, "heat", low, current), f"heating to {low:g} °C"
    if t > high + h:
        return _run(device, now, "cool", high, current), f"{t:.1f} °C above {high:g} °C"
    if t < low - h:
        return _run(device, now, "heat", low, current), f"{t:.1f} °C below {low:g} °C"
    if running:  # dry, fan or auto inside the band: the thermostat leaves it, or stops it off-band
        return None, f"{t:.1f} °C inside {low:g}–{high:g} °C"
    return None, f"{t:.1f} °C inside {low:g}–{high:g} °C, AC off"


def _run(
    device: str, now: datetime, mode: str, tset: float, current: ApplianceState | None
) -> ApplianceState:
    fan = current.fan if current is not None and current.power and current.fan else "auto"
    return ApplianceState(device, now, True, mode, float(tset), fan, "skynet")
