"""A small synthetic estimation frame for tests and the shared model contract.

Rooms relax exponentially towards an equilibrium: with the AC off, the outdoor temperature
plus daytime gains (time constant 1–5 h); with it cooling or heating, the set point (time
constant 10–25 min, scaled by the fan). Cooling and dry mode pull the humidity down, the
outdoor air pulls it towards its own. Each device draws its own constants, so a model has
to generalize across rooms. Not a simulator (see :mod:`skynet.sim` for one): just enough
structure to learn from in a second.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from skynet.domain import AC_MODES, FAN_SPEEDS

__all__ = ["sample_data", "SAMPLE_PARAMS"]

#: Hyper-parameters that fit the sample in about a second.
SAMPLE_PARAMS = {"hidden": (16, 16), "epochs": 15, "batch_size": 64, "validation": 0.2, "patience": 5}

_LAGS = (2, 5, 10, 15, 30)
_HORIZONS = (5, 15, 30, 60)


def sample_data(n: int = 400, seed: int = 0, n_devices: int = 8) -> pd.DataFrame:
    """``n`` rows of an estimation frame from ``n_devices`` synthetic rooms (deterministic for ``seed``)."""
    rng = np.random.default_rng(seed)
    device = rng.integers(0, n_devices, n)
    tau_off = rng.uniform(60.0, 300.0, n_devices)[device]
    tau_ac = rng.uniform(10.0, 25.0, n_devices)[device]
    hour = rng.uniform(0.0, 24.0, n)
    t_out = rng.uniform(12.0, 36.0, n)
    rh_out = rng.uniform(30.0, 90.0, n)
    t = rng.uniform(19.0, 31.0, n)
    rh = rng.uniform(35.0, 75.0, n)
    power = rng.random(n) < 0.6
    mode = rng.choice(np.array(AC_MODES, dtype=object), n, p=[0.55, 0.2, 0.1, 0.05, 0.1])
    fan = rng.choice(np.array(FAN_SPEEDS, dtype=object), n)
    tset = np.round(rng.uniform(18.0, 28.0, n) * 2) / 2
    gains = 2.0 * np.clip(np.sin((hour - 7.0) * np.pi / 12.0), 0.0, None)
    cooling = power & (np.isin(mode, ["cool", "dry"]) | ((mode == "auto") & (t > tset)))
    heating = power & ((mode == "heat") | ((mode == "auto") & (t <= tset)))
    speed = np.select([fan == "low", fan == "medium"], [0.7, 0.85], 1.0)
    t_eq = np.where(cooling, np.minimum(tset, t_out + gains), np.where(heating, np.maximum(tset, t_out + gains),
                                                                         t_out + gains))  # fmt: skip
    tau = np.where(cooling | heating, tau_ac / speed, tau_off)
    rh_eq = np.where(cooling, 45.0, np.where(heating, rh - 10.0, rh_out))
    slope = (t_eq - t) / tau  # the recent trend continues the relaxation backwards in time

    def temperature_at(minutes):
        return t_eq + (t - t_eq) * np.exp(-minutes / tau)

    def humidity_at(minutes):
        return rh_eq + (rh - rh_eq) * np.exp(-minutes / (2.0 * tau))

    frame = pd.DataFrame({
        "device_id": np.array([f"sample-{d}" for d in range(n_devices)], dtype=object)[device],
        "timestamp": pd.Timestamp("2025-07-01") + pd.to_timedelta(np.arange(n) * 5, unit="min"),
        "temperature": t, "humidity": rh,
        **{f"temperature_lag{lag}": t - slope * lag for lag in _LAGS},
        **{f"humidity_lag{lag}": rh for lag in _LAGS},
        "temperature_mean30": t - slope * 15, "humidity_mean30": rh,
        "power": power.astype(float), "mode": mode, "set_temperature": tset, "fan": fan,
        "ac_minutes": rng.uniform(0.0, 120.0, n), "outdoor_temperature": t_out, "outdoor_humidity": rh_out,
        "hour": hour,
    })  # fmt: skip
    noise = rng.normal(0.0, 0.03, (n, 2 * len(_HORIZONS)))
    for i, h in enumerate(_HORIZONS):
        frame[f"temperature_{h}m"] = temperature_at(h) + noise[:, i]
    for i, h in enumerate(_HORIZONS):
        frame[f"humidity_{h}m"] = np.clip(humidity_at(h) + 10 * noise[:, len(_HORIZONS) + i], 0.0, 100.0)
    return frame
