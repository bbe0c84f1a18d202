"""Train the control models on simulated homes (for ``skynet control evaluate`` without stored models).

Two sets of homes are simulated (other seeds than the evaluated homes): one under the
simulator's exploring rule-based controller, one where only the people work the AC (so rooms
also run warm and votes cover hot hours). The estimation model learns from their estimation
frame and the user model from their votes. The simulator's readings carry no air speed; the votes'
rows get the air speed the AC's fan makes at the occupants (the table the controller uses,
:func:`skynet.control.air_speed`), so the comfort model can weigh the fan.

:func:`cached_models` keeps what was trained under a folder keyed by everything the training
read (``skynet control evaluate`` reuses the models of a case instead of training them again).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from skynet.errors import ModelError

__all__ = ["train_on_simulation", "train_on_energyplus", "with_air_speed", "cached_models"]

_ROLES = ("estimator", "comfort")
logger = logging.getLogger("skynet.control")


def cached_models(
    folder: Path | None, key: dict[str, Any], train: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """``train()``'s models (``estimator``, ``comfort``, ``note``), kept under ``folder``.

    The first call for a ``key`` (everything the training reads, JSON-able) trains and saves the
    models in ``folder/<digest of key>/`` (written under a temporary name, then renamed); later
    calls load them. ``folder`` None: always train.
    """
    if folder is None:
        return train()
    from skynet import __version__
    from skynet.models import load_model

    text = json.dumps({**key, "skynet": __version__}, sort_keys=True, default=str)
    place = Path(folder) / hashlib.sha256(text.encode()).hexdigest()[:16]
    if (place / "key.json").exists():
        try:
            models = {role: load_model(place / role) if (place / role).exists() else None for role in _ROLES}
        except ModelError as exc:  # kept by an older skynet (a pickle, another model's state): train again
            logger.warning("models kept in %s cannot be used (%s); training them again", place, exc)
        else:
            note = (place / "note.txt").read_text().strip()
            return {**models, "note": f"{note} (cached: {place})"}
    trained = train()
    tmp = place.with_name(f".{place.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for role in _ROLES:
        if trained.get(role) is not None:
            trained[role].save(tmp / role)
    (tmp / "note.txt").write_text(trained["note"] + "\n")
    (tmp / "key.json").write_text(text + "\n")
    shutil.rmtree(place, ignore_errors=True)
    os.replace(tmp, place)
    return trained


def with_air_speed(votes: pd.DataFrame, states: pd.DataFrame) -> pd.DataFrame:
    """``votes`` (a comfort frame) with ``air_speed`` from the AC state in force at each vote."""
    from skynet.control import AIR_SPEED_OFF, air_speed
    from skynet.domain import Fan

    if votes.empty or states.empty:
        return votes.assign(air_speed=AIR_SPEED_OFF)
    left = votes.assign(_t=pd.to_datetime(votes["timestamp"]).astype("datetime64[ns]")).sort_values("_t")
    right = states.assign(_t=pd.to_datetime(states["timestamp"]).astype("datetime64[ns]")).sort_values("_t")
    joined = pd.merge_asof(left, right[["device_id", "_t", "power", "fan"]].rename(columns={"power": "_on", "fan": "_fan"}),
                           on="_t", by="device_id", direction="backward")  # fmt: skip
    codes = [int(Fan.of(f)) if isinstance(f, str) else int(Fan.AUTO) for f in joined["_fan"]]
    on = joined["_on"].fillna(False).astype(bool).to_numpy()
    joined["air_speed"] = air_speed(on, np.asarray(codes, dtype=np.int64))
    return joined.drop(columns=["_t", "_on", "_fan"]).reset_index(drop=True)


def train_on_simulation(climate: str, seed: int, devices: int, days: float,
                        weather_file: str | Path | None = None, progress: bool = True,
                        estimator_params: dict[str, Any] | None = None,
                        comfort_params: dict[str, Any] | None = None,
                        fit_estimator: bool = True) -> dict[str, Any]:  # fmt: skip
    """Simulate twice ``devices`` homes for ``days`` days and fit both control models on them.

    ``estimator_params`` / ``comfort_params`` override the models' hyper-parameters (tests
    train small ones); ``fit_estimator=False`` fits the comfort model only (``estimator`` None).

    Returns:
        ``estimator``, ``comfort`` (fitted models) and ``note`` (what they were trained on).
    """
    from tqdm import tqdm

    from skynet.data import comfort_frame
    from skynet.data.estimation import estimation_frame
    from skynet.domain import ApplianceState, Device, Feedback, SensorReading, Weather
    from skynet.models.estimation import EstimationModel
    from skynet.models.user_model import UserModel
    from skynet.sim import simulate_fleet

    started = time.perf_counter()
    runs = {"rule": seed, None: seed + 1}  # the exploring rule controller; people alone
    frames: dict[str, list[pd.DataFrame]] = {
        k: [] for k in ("readings", "states", "weather", "homes", "feedback")
    }
    with tqdm(total=len(runs) * int(round(days * 1440)), unit="min", desc="simulate training homes",
              disable=None if progress else True, leave=False) as bar:  # fmt: skip
        for policy, run_seed in runs.items():
            offset = bar.n

            def advance(_stage: str, done: int, _total: int, offset: int = offset) -> None:
                bar.update(offset + done - bar.n)

            result = simulate_fleet(devices, days, run_seed, climate=climate, weather_file=weather_file,
                                    policy=policy, keep_truth=False, progress=advance)  # fmt: skip
            for key, kind in (("readings", SensorReading), ("states", ApplianceState), ("weather", Weather),
                              ("homes", Device), ("feedback", Feedback)):  # fmt: skip
                frames[key].append(result.frame(kind))
    readings, states, weather, homes, feedback = (pd.concat(frames[k], ignore_index=True) for k in frames)
    with tqdm(total=2, desc="train control models", disable=None if progress else True, leave=False) as bar:
        estimator = None
        if fit_estimator:
            bar.set_postfix_str("estimation model")
            estimator = EstimationModel(**{"random_state": seed, **(estimator_params or {})}).fit(
                estimation_frame(readings, states, weather, homes)
            )
        bar.update()
        bar.set_postfix_str("user model")
        votes = with_air_speed(comfort_frame(feedback, readings, weather, homes), states)
        comfort = UserModel(**{"random_state": seed, **(comfort_params or {})}).fit(votes)
        bar.update()
    seconds = time.perf_counter() - started
    where = f"EPW {Path(weather_file).name}" if weather_file else climate
    note = (f"trained here on simulated homes (2 x {devices} homes x {days:g} days, {where}, seeds {seed}/{seed + 1}, "
            f"{len(votes)} votes; {seconds:.0f} s; not saved)")  # fmt: skip
    return {"estimator": estimator, "comfort": comfort, "note": note}


def train_on_energyplus(building: str, weather: str, start: Any, days: int, seed: int, climate: str,
                        sim_devices: int, sim_days: float, progress: bool = True,
                        estimator_params: dict[str, Any] | None = None,
                        comfort_params: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """The control models for EnergyPlus homes: the estimation model learns the building itself.

    EnergyPlus runs ``building`` under ``weather`` for the ``days`` days before ``start`` with
    its seeded random thermostat schedules (5-minute timestep), and the estimation model is fit
    on its zones; the comfort model learns from the votes of simulated homes in ``climate``
    (the EnergyPlus homes' people are the simulator's people), as :func:`train_on_simulation`.

    Returns:
        ``estimator``, ``comfort`` and ``note``.
    """
    from datetime import timedelta

    from tqdm import tqdm

    from skynet.data.estimation import estimation_frame
    from skynet.models.estimation import EstimationModel
    from skynet.sim.energyplus import run_energyplus
    from skynet.sim.energyplus._run import _day

    started = time.perf_counter()
    first = _day(start, "start") - timedelta(days=int(days))
    with tqdm(total=int(days) * 1440, unit="min", desc="energyplus training run",
              disable=None if progress else True, leave=False) as bar:  # fmt: skip

        def advance(_stage: str, done: int, _total: int) -> None:
            bar.update(done - bar.n)

        result = run_energyplus(building, weather, first, _day(start, "start"), seed, timestep_minutes=5,
                                progress=advance)  # fmt: skip
    frame = estimation_frame(result.sensor_readings, result.appliance_states, result.weather, result.devices)
    estimator = EstimationModel(**{"random_state": seed, **(estimator_params or {})}).fit(frame)
    people = train_on_simulation(climate, seed, sim_devices, sim_days, progress=progress,
                                 comfort_params=comfort_params, fit_estimator=False)  # fmt: skip
    seconds = time.perf_counter() - started
    note = (f"estimation: trained here on EnergyPlus {result.building} / {result.city}, {len(result.zones)} zones, "
            f"{first} .. {_day(start, 'start')} under random schedules (seed {seed}); comfort: "
            f"{people['note']}; {seconds:.0f} s in all; not saved")  # fmt: skip
    return {"estimator": estimator, "comfort": people["comfort"], "note": note}
