"""The room: a 2R2C lumped thermal model with a moisture balance — parameters and equations.

Two thermal nodes per room — the air (with the furniture that follows it within minutes) and
the building mass (walls, floor, ceiling) — after the simple hourly method of ISO 13790 /
ISO 52016-1 reduced to one zone::

    C_air  dT_air/dt  = UA_air (T_out - T_air) + H_im (T_mass - T_air) + Q_conv + Q_ac
    C_mass dT_mass/dt = UA_mass (T_out - T_mass) + H_im (T_air - T_mass) + Q_rad

``UA_air`` is the windows plus infiltration (they act on the air directly), ``UA_mass`` the
opaque envelope (it acts through the mass). Solar gains enter 30 % convective / 70 % on the
mass; internal gains 60 % / 40 %. Each minute is integrated with a semi-implicit (backward)
Euler step, unconditionally stable (the step itself is in ``_kernel.py``). Moisture: one
humidity-ratio node with an effective moisture mass (room air times a hygroscopic buffer factor for furnishings), exchanged with the
outdoor air by infiltration, raised by occupants and activities, lowered by the AC coil.

Parameter ranges (uniform draws per home; sources):

================================  ===================  =========================================
floor area                        12–35 m²             one conditioned room or small apartment
ceiling height                    2.5–2.8 m
opaque envelope UA                0.5–2.0 W/K per m²   insulated to uninsulated masonry
window area                       10–20 % of floor     window U 1.4–5.8 W/m²K (double low-e … single)
infiltration                      0.2–1.0 ACH          tight to leaky dwellings (ASHRAE Fund. ch. 16)
air + furniture capacity          4–8 × ρ c_p V
mass capacity                     80–260 kJ/K per m²   ISO 13790 table 12 (very light … heavy)
air–mass coupling H_im            3.45 × 4.5 × A_f     ISO 13790 eqs. 9–10, ±20 %
solar aperture                    window × g × F       g 0.3–0.75, shading/orientation F 0.1–0.35
moisture buffer factor            2–5 × air mass       furnishings' short-term buffering
occupant gains                    70 W + 45 W latent   seated; asleep 45 W + 25 W (ASHRAE Fund. ch. 18)
appliances                        20–60 W always, 40–150 W more while someone is up, lights 20–60 W
open windows                      +1.5–5 ACH           single-sided ventilation, when people open them
                                                       (see ``_occupants``)
background heating                keeps 12–17 °C      other heating (radiators, baseboards): rooms
                                                       are not left to freeze; not part of the AC's energy
================================  ===================  =========================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skynet.sim._psychro import CP_AIR, RHO_AIR

__all__ = ["RoomParams", "sample_room", "infiltration"]

#: Occupant heat and moisture (W sensible, kg/s water) awake and asleep.
PERSON_SENSIBLE_AWAKE, PERSON_SENSIBLE_ASLEEP = 70.0, 45.0
PERSON_MOISTURE_AWAKE, PERSON_MOISTURE_ASLEEP = 45.0 / 2.45e6, 25.0 / 2.45e6


@dataclass
class RoomParams:
    """One home's room (SI units: m², m³, J/K, W/K, W, kg)."""

    floor_area: float
    volume: float
    c_air: float
    c_mass: float
    ua_air: float
    ua_mass: float
    h_im: float
    ach: float
    solar_aperture: float
    moisture_mass: float
    base_gain: float
    activity_gain: float
    light_gain: float
    activity_moisture: float  # kg/s while someone is up (cooking, washing)
    daylight_factor: float  # indoor lux per W/m² of outdoor global irradiance
    light_lux: float
    sensor_bias_t: float  # °C, the skynet device's temperature sensor
    sensor_bias_rh: float  # %RH
    background_heating: float  # °C the home's other heating keeps the room at, at least


def sample_room(rng: np.random.Generator) -> RoomParams:
    """Draw one home's room parameters (ranges in the module docstring)."""
    area = rng.uniform(12.0, 35.0)
    volume = area * rng.uniform(2.5, 2.8)
    window = area * rng.uniform(0.10, 0.20)
    ach = rng.uniform(0.2, 1.0)
    ua_inf = RHO_AIR * CP_AIR * volume * ach / 3600.0
    return RoomParams(
        floor_area=area,
        volume=volume,
        c_air=RHO_AIR * CP_AIR * volume * rng.uniform(4.0, 8.0),
        c_mass=area * rng.uniform(80e3, 260e3),
        ua_air=window * rng.uniform(1.4, 5.8) + ua_inf,
        ua_mass=area * rng.uniform(0.5, 2.0),
        h_im=3.45 * 4.5 * area * rng.uniform(0.8, 1.2),
        ach=ach,
        solar_aperture=window * rng.uniform(0.3, 0.75) * rng.uniform(0.1, 0.35),
        moisture_mass=RHO_AIR * volume * rng.uniform(2.0, 5.0),
        base_gain=rng.uniform(20.0, 60.0),
        activity_gain=rng.uniform(40.0, 150.0),
        light_gain=rng.uniform(20.0, 60.0),
        activity_moisture=rng.uniform(5.0, 25.0) / 3.6e6,
        daylight_factor=rng.uniform(1.0, 3.5),
        light_lux=rng.uniform(150.0, 350.0),
        sensor_bias_t=rng.normal(0.0, 0.2),
        sensor_bias_rh=rng.normal(0.0, 1.5),
        background_heating=rng.uniform(12.0, 17.0),
    )


def infiltration(room: RoomParams) -> float:
    """Outdoor air entering the room (kg/s)."""
    return RHO_AIR * room.volume * room.ach / 3600.0
