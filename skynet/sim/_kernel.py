"""The per-minute physics of every home, compiled with numba.

One call advances all homes by one minute: the AC unit of ``_ac`` (thermostat, compressor
timers, capacity, coil, power) then the room of ``_room`` (2R2C air and mass nodes, moisture).
The equations and parameters are documented in those two modules; this module only runs them.

Why numba rather than numpy ufuncs over the fleet: a fleet of ~100 homes makes every numpy
call cost its fixed overhead (1–5 µs) rather than its arithmetic, and a minute of the AC and
room takes about 70 of them — 0.25 ms a minute, 11 s for 100 homes × 30 days on a busy
2-core machine. Compiled, the same minute takes a few µs. numba is already a dependency
(pythermalcomfort requires it); the compiled kernel is cached beside this file.

Arrays are packed by rows (row names below) with one column per home, so a call passes a
handful of arrays however many homes there are.
"""

from __future__ import annotations

import numpy as np

from skynet.domain import Fan
from skynet.sim import _psychro as psy
from skynet.sim._ac import AUTO, CAP_FIXED, CAP_INVERTER, COOL, DRY, FLOW, HEAT

__all__ = [
    "PARAMS",
    "STATE",
    "INPUTS",
    "OUTPUTS",
    "SETTINGS",
    "READINGS",
    "step_homes",
    "read_homes",
    "draw_events",
]

#: Rows of the packed arrays.
PARAMS = ("sensor_offset", "inverter", "min_on", "min_off", "airflow", "fan_power", "c_air", "c_mass",
          "ua_air", "ua_mass", "h_im", "moisture_mass", "infiltration", "background_heating")  # fmt: skip
SETTINGS = ("power", "mode", "set_temperature", "fan", "ventilation")
STATE = ("t_air", "t_mass", "w", "compressor", "timer", "auto_cool")
INPUTS = ("t_out", "w_out", "q_air", "q_mass", "water", "cap_cool", "cap_heat", "cop_cool", "cop_heat")
OUTPUTS = ("electric", "sensible", "latent", "plr")
READINGS = ("rh", "temperature", "humidity", "pmv", "sensation")

(P_OFFSET, P_INVERTER, P_MIN_ON, P_MIN_OFF, P_AIRFLOW, P_FAN_POWER, P_CA, P_CM, P_UA_AIR, P_UA_MASS,
 P_HIM, P_MW, P_INF, P_BACKGROUND) = range(len(PARAMS))  # fmt: skip
S_POWER, S_MODE, S_TSET, S_FAN, S_VENT = range(len(SETTINGS))
X_TAIR, X_TMASS, X_W, X_COMP, X_TIMER, X_AUTO = range(len(STATE))
U_TOUT, U_WOUT, U_QAIR, U_QMASS, U_WATER, U_CAPC, U_CAPH, U_COPC, U_COPH = range(len(INPUTS))
O_ELECTRIC, O_SENSIBLE, O_LATENT, O_PLR = range(len(OUTPUTS))
R_RH, R_TEMPERATURE, R_HUMIDITY, R_PMV, R_SENSATION = range(len(READINGS))

DT = 60.0
_FAN_AUTO = int(Fan.AUTO)
_H_MIN = float(psy.enthalpy(3.0, psy.saturation_humidity_ratio(3.0)))  # coil frost limit: ADP >= 3 °C
_FLOW, _CAP_INV, _CAP_FIX = FLOW, CAP_INVERTER, CAP_FIXED
_H_TABLE, _W_TABLE = psy.H_TABLE, psy.W_TABLE
_rh = psy.jit_cached(psy.relative_humidity)
_wsat = psy.jit_cached(psy.saturation_humidity_ratio)
_enthalpy = psy.jit_cached(psy.enthalpy)


@psy.jit_cached
def step_homes(p: np.ndarray, s: np.ndarray, x: np.ndarray, u: np.ndarray, out: np.ndarray) -> None:
    """Advance every home one minute; ``x`` (state) and ``out`` are written in place."""
    for i in range(x.shape[1]):
        t, tm, w = x[X_TAIR, i], x[X_TMASS, i], x[X_W, i]
        power, mode, tset, fan = s[S_POWER, i] > 0.5, int(s[S_MODE, i]), s[S_TSET, i], int(s[S_FAN, i])
        inverter = p[P_INVERTER, i] > 0.5
        sensed = t + p[P_OFFSET, i]
        rh = _rh(t, w)

        # Which way the unit works (auto: 1 °C away from the set point, else as before).
        cooling, heating, dry = False, False, False
        if power:
            if mode == AUTO:
                if sensed > tset + 1.0:
                    x[X_AUTO, i] = 1.0
                elif sensed < tset - 1.0:
                    x[X_AUTO, i] = 0.0
                cooling = x[X_AUTO, i] > 0.5
                heating = not cooling
            elif mode in (COOL, DRY):
                cooling, dry = True, mode == DRY
            elif mode == HEAT:
                heating = True
        err = tset - sensed if heating else sensed - tset

        # Thermostat with minimum on and off times.
        if dry:
            start, stop = err > -1.5 and rh > 45.0, err < -2.5 or rh < 40.0
        else:
            start, stop = err > 0.5, err < (-1.0 if inverter else -0.5)
        on, timer = x[X_COMP, i] > 0.5, x[X_TIMER, i]
        if not (cooling or heating):
            new_on = False
        elif on:
            new_on = not (stop and timer >= p[P_MIN_ON, i])
        else:
            new_on = start and timer >= p[P_MIN_OFF, i]
        x[X_TIMER, i] = 1.0 if new_on != on else timer + 1.0
        x[X_COMP, i] = 1.0 if new_on else 0.0

        # Part-load ratio and airflow.
        if not new_on:
            plr = 0.0
        elif dry:
            plr = 0.4 if inverter else 1.0
        elif inverter:
            plr = min(max(0.95 + 0.6 * err, 0.3), _CAP_INV[fan])
        else:
            plr = _CAP_FIX[fan]
        if not power:
            flow = 0.0
        elif dry:
            flow = 0.3
        elif fan == _FAN_AUTO:
            flow = 0.45 + 0.55 * min(plr, 1.0)
        else:
            flow = _FLOW[fan]
        fan_w = p[P_FAN_POWER, i] * flow**3 + 3.0 if power else 0.0

        # Heat moved: the cooling coil by its apparatus dew point, or the heating condenser.
        q_cool, q_heat, water = 0.0, 0.0, 0.0
        if new_on and cooling:
            coil = psy.RHO_AIR * p[P_AIRFLOW, i] * flow * (0.95 - 0.15 * flow)  # kg/s, (1 - bypass factor)
            h_in = _enthalpy(t, w)
            q_cool = min(u[U_CAPC, i] * plr, max(coil * (h_in - _H_MIN) * 1000.0, 0.0))
            w_adp = np.interp(h_in - q_cool / (coil * 1000.0), _H_TABLE, _W_TABLE)
            water = min(max(coil * (w - w_adp), 0.0), q_cool / psy.H_FG)
        elif new_on and heating:
            q_heat = u[U_CAPH, i] * plr
        part = 1.4 - 0.4 * min(max(plr, 0.3), 1.0) - 0.25 * max(plr - 1.0, 0.0) if inverter else 1.0
        electric = (q_cool / u[U_COPC, i] + q_heat / u[U_COPH, i]) / part + fan_w
        sensible = q_heat - q_cool + water * psy.H_FG + fan_w

        # The room: implicit Euler on the air and mass nodes, then the moisture balance.
        ca, cm, him = p[P_CA, i] / DT, p[P_CM, i] / DT, p[P_HIM, i]
        t_out, vent = u[U_TOUT, i], s[S_VENT, i]  # vent: kg/s of outdoor air through open windows
        ua_air = p[P_UA_AIR, i] + vent * psy.CP_AIR
        t_new = (ca * t + ua_air * t_out + him * tm + u[U_QAIR, i] + sensible) / (ca + ua_air + him)
        t_new = max(t_new, p[P_BACKGROUND, i])  # the home's other heating (ideal, not the AC's energy)
        x[X_TMASS, i] = (cm * tm + p[P_UA_MASS, i] * t_out + him * t_new + u[U_QMASS, i]) / (
            cm + p[P_UA_MASS, i] + him
        )
        mw, inf = p[P_MW, i] / DT, p[P_INF, i] + vent
        w_new = (mw * w + inf * u[U_WOUT, i] + u[U_WATER, i] - water) / (mw + inf)
        x[X_W, i] = min(max(w_new, 5e-4), _wsat(t_new))
        x[X_TAIR, i] = t_new
        out[O_ELECTRIC, i], out[O_SENSIBLE, i], out[O_LATENT, i], out[O_PLR, i] = (
            electric,
            sensible,
            water,
            plr,
        )


@psy.jit_cached
def read_homes(x: np.ndarray, t_noise: np.ndarray, rh_noise: np.ndarray, pmv: np.ndarray, sensation: np.ndarray,
               home: np.ndarray, out: np.ndarray) -> None:  # fmt: skip
    """What an observation reports, into ``out`` rows (see :data:`READINGS`).

    The noise rows carry each sensor's bias plus noise, NaN for a lost reading; ``pmv`` and
    ``sensation`` are per person (homes, people), averaged over the people ``home``.
    """
    for i in range(x.shape[1]):
        rh = min(_rh(x[X_TAIR, i], x[X_W, i]), 100.0)
        out[R_RH, i] = rh
        out[R_TEMPERATURE, i] = np.rint((x[X_TAIR, i] + t_noise[i]) * 10.0) / 10.0
        humidity = np.rint((rh + rh_noise[i]) * 2.0) / 2.0
        if humidity < 0.0:  # written as comparisons so that NaN (a lost reading) stays NaN
            humidity = 0.0
        elif humidity > 100.0:
            humidity = 100.0
        out[R_HUMIDITY, i] = humidity
        n, p_sum, s_sum = 0, 0.0, 0.0
        for person in range(home.shape[1]):
            if home[i, person]:
                n, p_sum, s_sum = n + 1, p_sum + pmv[i, person], s_sum + sensation[i, person]
        out[R_PMV, i] = p_sum / n if n else np.nan
        out[R_SENSATION, i] = s_sum / n if n else np.nan


@psy.jit_cached
def draw_events(u_act: np.ndarray, act_rate: np.ndarray, is_home: np.ndarray, u_vote: np.ndarray,
                vote_rate: np.ndarray, up: np.ndarray, acting: np.ndarray, votes: np.ndarray) -> int:  # fmt: skip
    """Who changes the AC and who votes this minute (masks written in place); returns how many."""
    count = 0
    for i in range(u_act.shape[0]):
        acting[i] = is_home[i] and u_act[i] < act_rate[i]
        count += acting[i]
        for person in range(u_vote.shape[1]):
            votes[i, person] = up[i, person] and u_vote[i, person] < vote_rate[i, person]
            count += votes[i, person]
    return count
