"""Moist-air psychrometrics for the simulator, vectorized over numpy arrays.

Sea-level pressure throughout (101 325 Pa). Saturation vapour pressure over water by the
Magnus form with the Alduchov & Eskridge (1996) coefficients (within 0.4 % of the ASHRAE
Handbook formulation from -20 to 50 °C); humidity ratio and moist-air enthalpy as in the
ASHRAE Handbook — Fundamentals, ch. 1 (eqs. 22 and 32). Enthalpies are in kJ per kg of dry air.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numba import njit

__all__ = [
    "P_ATM",
    "H_FG",
    "CP_AIR",
    "RHO_AIR",
    "saturation_pressure",
    "humidity_ratio",
    "relative_humidity",
    "enthalpy",
    "saturation_humidity_ratio",
    "saturation_temperature",
    "H_TABLE",
    "W_TABLE",
    "jit_cached",
]

P_ATM = 101_325.0  # Pa
H_FG = 2.45e6  # J/kg, latent heat of condensation near 20 °C
CP_AIR = 1006.0  # J/(kg K), dry air
RHO_AIR = 1.2  # kg/m³, indoor air near 20 °C

Num = float | np.ndarray


def jit_cached(fn: Callable) -> Callable:
    """numba-compile ``fn`` (nopython), cached on disk when a cache location is writable."""
    try:
        return njit(cache=True)(fn)
    except RuntimeError:  # no writable cache location (a read-only install): compile per process
        return njit(fn)


# The functions take floats or float arrays and use nothing numba cannot compile: the
# simulator's per-minute kernel (``_kernel.py``) jit-compiles these same definitions. The
# one they all call is compiled here so that the compiled ones can call it.


@jit_cached
def saturation_pressure(t: Num) -> Num:
    """Saturation vapour pressure (Pa) over water at ``t`` °C (Magnus, Alduchov & Eskridge)."""
    return 610.94 * np.exp(17.625 * t / (t + 243.04))


def humidity_ratio(t: Num, rh: Num) -> Num:
    """Humidity ratio (kg water per kg dry air) of air at ``t`` °C and ``rh`` %RH."""
    pw = rh / 100.0 * saturation_pressure(t)
    return 0.621945 * pw / (P_ATM - pw)


def saturation_humidity_ratio(t: Num) -> Num:
    """Humidity ratio of saturated air at ``t`` °C."""
    pw = saturation_pressure(t)
    return 0.621945 * pw / (P_ATM - pw)


def relative_humidity(t: Num, w: Num) -> Num:
    """Relative humidity (%) of air at ``t`` °C holding ``w`` kg/kg (not clipped)."""
    pw = w * P_ATM / (0.621945 + w)
    return 100.0 * pw / saturation_pressure(t)


def enthalpy(t: Num, w: Num) -> Num:
    """Moist-air enthalpy (kJ/kg dry air) at ``t`` °C and humidity ratio ``w``."""
    return 1.006 * t + w * (2501.0 + 1.86 * t)


# Saturated-air enthalpy is monotonic in temperature: invert it by table interpolation
# (0.05 K steps; the inverse is used for the cooling coil's apparatus dew point).
_T_TABLE = np.arange(-20.0, 50.0001, 0.05)
#: Saturated air's enthalpy (kJ/kg) and humidity ratio on a 0.05 K grid from -20 to 50 °C.
H_TABLE = enthalpy(_T_TABLE, saturation_humidity_ratio(_T_TABLE))
W_TABLE = saturation_humidity_ratio(_T_TABLE)


def saturation_temperature(h: Num) -> Num:
    """Temperature (°C) at which saturated air has enthalpy ``h`` kJ/kg (inverse of the table)."""
    return np.interp(h, H_TABLE, _T_TABLE)
