"""A small synthetic comfort frame for tests, examples and the shared model contract test."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["sample_data", "SAMPLE_PARAMS"]

#: Hyper-parameters that fit the sample in about a second (tests, examples).
SAMPLE_PARAMS: dict[str, Any] = {"max_iter": 40, "min_samples_leaf": 20, "calibration_folds": 3}


def sample_data(
    n: int = 600,
    seed: int = 0,
    n_devices: int = 12,
    offsets: dict[str, float] | None = None,
    people: int = 0,
    person_offsets: dict[str, tuple[float, float]] | None = None,
) -> pd.DataFrame:
    """A comfort frame of ``n`` synthetic votes over ``n_devices`` devices.

    Votes follow a PMV-like response to temperature, clothing and activity, plus each
    device's own offset (random, or as given in ``offsets``) and noise, rounded to -3…3.
    Some humidity, air speed, clothing and outdoor values are missing, as in real data.
    With ``people``, each device has that many people (``user_id`` ``<device>/u<k>``), each
    with an offset and a slope per °C of their own on top of the device's (N(0, 0.5) and
    N(0, 0.1) 1/°C, or as given in ``person_offsets``: user -> (offset, slope)); without,
    ``user_id`` is empty.
    """
    rng = np.random.default_rng(seed)
    devices = [f"dev-{i:02d}" for i in range(n_devices)]
    device = rng.choice(devices, n)
    own = {d: float(rng.normal(0, 0.6)) for d in devices}
    own.update(offsets or {})
    person = rng.integers(0, max(people, 1), n)
    user = np.array([f"{d}/u{k}" for d, k in zip(device, person, strict=True)], dtype=object)
    traits = {u: (float(rng.normal(0, 0.5)), float(rng.normal(0, 0.1))) for u in sorted(set(user))}
    traits.update(person_offsets or {})
    latitude = {d: float(rng.choice([-33.9, 1.3, 37.8, 51.5])) for d in devices}
    day = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365 * 24 * 60, n), unit="min")
    ta = rng.uniform(17, 32, n)
    clo = rng.uniform(0.3, 1.2, n)
    met = rng.uniform(1.0, 1.6, n)
    signal = 0.45 * (ta - 24.5) + 1.2 * (clo - 0.7) + 1.0 * (met - 1.2) + np.array([own[d] for d in device])
    if people:
        signal += np.array([traits[u][0] + traits[u][1] * (t - 24.5) for u, t in zip(user, ta, strict=True)])
    value = np.clip(np.round(signal + rng.normal(0, 0.7, n)), -3, 3)
    frame = pd.DataFrame(
        {
            "device_id": device,
            "user_id": user if people else None,
            "timestamp": day.astype("datetime64[us]"),
            "temperature": ta.round(1),
            "humidity": rng.uniform(30, 80, n).round(0),
            "air_speed": rng.uniform(0.0, 0.4, n).round(2),
            "clothing": clo.round(2),
            "metabolic_rate": met.round(2),
            "outdoor_temperature": (ta + rng.normal(0, 5, n)).round(1),
            "outdoor_humidity": rng.uniform(20, 95, n).round(0),
            "outdoor_running_mean": (ta + rng.normal(-2, 3, n)).round(1),
            "latitude": [latitude[d] for d in device],
            "climate": rng.choice(["tropical", "temperate oceanic", "hot semi-arid"], n),
            "building_type": rng.choice(["office", "multifamily housing"], n),
            "cooling_type": rng.choice(["air conditioned", "naturally ventilated", None], n),
            "value": value,
        }
    )
    for column, share in (
        ("humidity", 0.05),
        ("air_speed", 0.1),
        ("clothing", 0.05),
        ("outdoor_temperature", 0.3),
    ):
        frame.loc[rng.random(n) < share, column] = np.nan
    return frame.sort_values(["device_id", "timestamp"], kind="stable").reset_index(drop=True)
