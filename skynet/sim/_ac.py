"""The AC unit: a split heat pump with its own thermostat — parameters and behaviour.

The per-minute computation is in ``_kernel.py``; this module holds what it does and why.

Settings (what a remote or skynet sends): power, mode (:data:`skynet.domain.AC_MODES`:
cool, heat, dry, fan, auto), set temperature (16–30 °C, 0.5 °C steps) and fan speed
(:data:`skynet.domain.FAN_SPEEDS`: auto, low, medium, high).

What the unit does with them each minute:

- **Thermostat.** It senses the air at the indoor unit, which reads warmer than the room's
  occupied zone (0–1.5 °C offset per unit: warm air stratifies under the ceiling). The
  compressor starts 0.5 °C past the set point and stops 0.5 °C (fixed speed) or 1 °C
  (inverter) on the other side, with a minimum on time (5 min fixed, 3 min inverter) and the
  usual 3-minute restart protection (minimum off time). Dry mode runs the compressor slowly
  with the fan forced low while RH > 45 % and the room is not 1.5 °C under the set point.
  Auto picks cooling or heating 1 °C away from the set point.
- **Capacity.** Inverter units modulate 30–115 % of rated capacity in proportion to the
  error; fixed-speed units run at 100 %. The fan speed caps the capacity (low 60 %, medium
  85 %) and sets the airflow (low 50 %, medium 75 %, high 100 % of 0.065 m³/s per rated kW,
  the usual 400 cfm/ton sizing; auto follows the load). Capacity falls with outdoor
  temperature: -0.8 %/K above 35 °C when cooling, -2 %/K below 7 °C when heating.
- **Dehumidification.** A cooling coil by the apparatus-dew-point / bypass-factor model
  (ASHRAE Fundamentals ch. 1 and HVAC Systems ch. 23): the coil's leaving state follows from
  the heat removed and the airflow; water condenses when the room's humidity ratio is above
  that at the apparatus dew point, so the sensible heat ratio falls with humid rooms, low
  airflow and dry mode (typically 0.65–0.85 in cool mode, about 0.5 in dry mode).
- **Power.** Compressor power = heat moved / COP, the rated COP (cooling at 35 °C outdoor,
  2.8–4.2; heating at 7 °C, 3.0–4.2) corrected by +3 %/K (cooling, cooler outside) or
  +2.5 %/K (heating, warmer outside), and for inverters up to +40 % at part load; plus the
  indoor fan (12 W per rated kW at high speed, cubic in airflow). Fan heat ends in the room.
  All electric power is zero when the unit is off.

Sizing: 130–200 W of rated cooling per m² of floor, rounded to 0.5 kW, 2–7 kW; heating
capacity 105–125 % of cooling; 70 % of units are inverters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skynet.domain import Fan, Mode

__all__ = [
    "AcParams",
    "sample_ac",
    "outdoor_limits",
    "air_speed",
    "FLOW",
    "CAP_INVERTER",
    "CAP_FIXED",
]

#: The mode codes as plain ints (:class:`skynet.domain.Mode`), for the compiled kernel.
COOL, HEAT, DRY, FAN_ONLY, AUTO = (int(m) for m in (Mode.COOL, Mode.HEAT, Mode.DRY, Mode.FAN, Mode.AUTO))

#: By fan code (auto, low, medium, high): airflow as a share of the rated airflow (auto: at
#: idle; it rises with the load), and the capacity cap of inverter and fixed-speed units.
FLOW = np.array([0.45, 0.5, 0.75, 1.0])
CAP_INVERTER = np.array([1.15, 0.6, 0.85, 1.15])
CAP_FIXED = np.array([1.0, 0.85, 0.93, 1.0])


@dataclass
class AcParams:
    """One home's AC unit (W, m³/s, minutes, °C)."""

    capacity_cool: float
    capacity_heat: float
    cop_cool: float
    cop_heat: float
    inverter: bool
    airflow: float
    fan_power: float
    min_on: int
    min_off: int
    sensor_offset: float


def sample_ac(rng: np.random.Generator, floor_area: float) -> AcParams:
    """Draw an AC unit sized for a room of ``floor_area`` m² (ranges in the module docstring)."""
    kw = float(np.clip(np.round(floor_area * rng.uniform(0.13, 0.20) * 2) / 2, 2.0, 7.0))
    inverter = bool(rng.random() < 0.7)
    return AcParams(
        capacity_cool=kw * 1000,
        capacity_heat=kw * 1000 * rng.uniform(1.05, 1.25),
        cop_cool=rng.uniform(3.2, 4.2) if inverter else rng.uniform(2.8, 3.4),
        cop_heat=rng.uniform(3.4, 4.2) if inverter else rng.uniform(3.0, 3.6),
        inverter=inverter,
        airflow=0.065 * kw * rng.uniform(0.9, 1.1),
        fan_power=12.0 * kw * rng.uniform(0.8, 1.3),
        min_on=3 if inverter else 5,
        min_off=3,
        sensor_offset=rng.uniform(0.0, 1.5),
    )


def air_speed(power: np.ndarray, fan: np.ndarray) -> np.ndarray:
    """Air speed at the occupants (m/s) for PMV: still air, more with the AC's fan running."""
    return 0.1 + 0.2 * np.where(power, np.where(fan == Fan.AUTO, 0.6, 0.25 * fan + 0.25), 0.0)


def outdoor_limits(units: list[AcParams], t_out: np.ndarray) -> np.ndarray:
    """Capacities (W) and full-load COPs of ``units`` at outdoor temperatures ``t_out`` (minutes, homes).

    Returns:
        (minutes, 4, homes): cooling capacity, heating capacity, cooling COP, heating COP.
    """
    cap_c, cap_h, cop_c, cop_h = (np.array([getattr(u, name) for u in units]) for name in
                                  ("capacity_cool", "capacity_heat", "cop_cool", "cop_heat"))  # fmt: skip
    return np.stack([
        cap_c * np.clip(1.0 - 0.008 * (t_out - 35.0), 0.75, 1.2),
        cap_h * np.clip(1.0 + 0.02 * (t_out - 7.0), 0.45, 1.2),
        cop_c * np.clip(1.0 + 0.03 * (35.0 - t_out), 0.6, 1.7),
        cop_h * np.clip(1.0 + 0.025 * (t_out - 7.0), 0.45, 1.5),
    ], axis=1)  # fmt: skip
