"""Calibrate the plan's energy proxy to kWh against the simulator and EnergyPlus.

    python benchmarks/calibrate_energy.py [--engine builtin|energyplus] [--days 1] [--seed 0] [--json]

The planner (``skynet.control._plan``) counts a command's energy as the kelvin it holds the room
from where it would drift with the AC off over a plan step (the estimation model's forecasts
from the same room), times ``kwh_per_kelvin``, plus ``fan_kw`` while running. This script runs
homes under random fixed set points (cooling at 23–29 °C, or off, changed every two hours), asks
the models at every plan step what the planner would, and fits the AC's measured kWh of each home
and step: ``kWh = kwh_per_kelvin × held + fan_kw × hours running`` (least squares). It prints the
fit, its R² and the mean absolute error against a fit on the running hours alone (the baseline).

Models: the case's, trained as ``skynet control evaluate`` trains them (kept in ``{data_dir}/cache``).
EnergyPlus: apartment-midrise in Miami and apartment-midrise-2004 in Phoenix only (the tuned
cases of ``benchmarks/control_cases.yml``; the held-out building is never used here).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table  # noqa: E402

STEP = 30


class RandomSchedules:
    """Every home cools at a random set point (or is off), changed every two hours; every plan
    step's requests and the commands then in force are kept."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.steps: list[tuple[list[Any], list[Any]]] = []  # (requests, commands in force)
        self.sent: dict[str, Any] = {}

    def __call__(self, requests: list[Any]) -> list[Any]:
        from skynet.control import Decision
        from skynet.domain import ApplianceState

        out, in_force = [], []
        for r in requests:
            command = None
            if (r.now.minute == 0 and r.now.hour % 2 == 0) or r.device_id not in self.sent:
                if self.rng.random() < 0.2:
                    command = ApplianceState(r.device_id, r.now, False, "cool", 26.0, "auto", "skynet")
                else:
                    tset = float(self.rng.integers(46, 59)) / 2
                    command = ApplianceState(r.device_id, r.now, True, "cool", tset, "auto", "skynet")
                self.sent[r.device_id] = command
            in_force.append(self.sent[r.device_id])
            out.append(Decision(r.device_id, r.now, command, {}, None, 0.0, r.safety))
        self.steps.append((list(requests), in_force))
        return out


def calibrate(engine: str, days: int, seed: int) -> dict[str, Any]:
    """Run the homes, then fit kWh per step on the proxy."""
    from skynet.api._control_evaluate import _energyplus_homes
    from skynet.api._control_train import cached_models, train_on_energyplus, train_on_simulation
    from skynet.config import load_settings
    from skynet.control import DevicePolicy, run_controller
    from skynet.sim import Fleet

    settings = load_settings(None)
    folder = settings.data_dir / "cache" / "control-models"
    if engine == "builtin":
        key = {"engine": "builtin", "climate": "hot-humid", "seed": seed + 1000, "devices": 20, "days": 10.0,
               "weather_file": None}  # fmt: skip
        models = cached_models(folder, key, lambda: train_on_simulation("hot-humid", seed + 1000, 20, 10.0))
        fleets = [("sim hot-humid", lambda: Fleet(10, days, seed, climate="hot-humid"))]
    else:
        fleets = []
        for building, weather, climate in (("apartment-midrise", "miami", "hot-humid"),
                                           ("apartment-midrise-2004", "phoenix", "hot-dry")):  # fmt: skip
            make, start = _energyplus_homes(building, weather, date(2025, 7, 15), days, seed, climate)
            fleets.append((f"{building} {weather}", make, building, weather, start, climate))
    rows = []
    for entry in fleets:
        name, make = entry[0], entry[1]
        if engine != "builtin":
            _, _, building, weather, start, climate = entry
            key = {"engine": "energyplus", "climate": climate, "seed": seed + 1000, "devices": 20, "days": 10.0,
                   "weather_file": None, "building": building, "weather": weather, "start": str(start)}  # fmt: skip
            models = cached_models(folder, key, lambda b=building, w=weather, s=start, c=climate: train_on_energyplus(
                b, w, s, 10, seed + 1000, c, 20, 10.0))  # fmt: skip
        schedules = RandomSchedules(seed)
        policy = DevicePolicy(schedules, interval=STEP, occupancy=False)
        fleet = make()
        energy: list[np.ndarray] = []
        original = policy.decide

        def decide(obs: Any, original: Any = original, energy: list = energy) -> Any:
            if obs.minute % STEP == 0:
                energy.append(np.asarray(obs.energy_kwh, dtype=float).copy())
            return original(obs)

        policy.decide = decide  # type: ignore[method-assign]
        run_controller(name, fleet, policy)
        rows += _held_rows(schedules, energy, models["estimator"], fleet.device_ids)
    return _fit(rows)


def _held_rows(schedules: RandomSchedules, energy: list[np.ndarray], estimator: Any,
               devices: list[str]) -> list[tuple[float, float, float]]:  # fmt: skip
    """(held K, running hours, measured kWh) of every home and plan step, as the planner counts held."""
    from skynet.control._features import estimation_inputs
    from skynet.control._rollout import rollout
    from skynet.domain import Fan, Mode

    def predict(inputs: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        out = estimator.predict_inputs(inputs)
        return out.temperature, out.humidity

    rows = []
    for j, (requests, commands) in enumerate(schedules.steps[:-1]):
        if j + 1 >= len(energy):
            break
        rooms: dict[str, list[float]] = {}
        for r in requests:
            for k, v in estimation_inputs(r.context, r.state, r.now).items():
                if k in ("mode", "fan"):
                    v = -1 if v is None else int((Mode if k == "mode" else Fan).of(v))
                rooms.setdefault(k, []).append(np.nan if v is None else float(v))
        arrays = {k: np.asarray(v) for k, v in rooms.items()}
        power = np.array([[c.power] for c in commands])
        mode = np.array([[int(Mode.of(c.mode))] for c in commands])
        tset = np.array([[c.set_temperature] for c in commands], dtype=float)
        fan = np.array([[int(Fan.of(c.fan))] for c in commands])
        roll = rollout(predict, tuple(estimator.horizons), arrays, power, mode, tset, fan, STEP)
        held = np.where(
            power[:, 0],
            np.maximum(roll.drift_temperature[:, 0, -1] - roll.temperature[:, 0, -1], 0.0)
            + 0.5 * np.maximum(roll.drift_humidity[:, 0, -1] - roll.humidity[:, 0, -1], 0.0),
            0.0,
        )
        for r, h, on in zip(requests, held, power[:, 0], strict=True):
            i = devices.index(r.device_id)
            rows.append((float(h), float(on) * STEP / 60.0, float(energy[j + 1][i] - energy[j][i])))
    return rows


def _fit(rows: list[tuple[float, float, float]]) -> dict[str, Any]:
    data = np.array(rows)
    held, on, kwh = data[:, 0], data[:, 1], data[:, 2]
    design = np.column_stack([held, on])
    coef, *_ = np.linalg.lstsq(design, kwh, rcond=None)
    fitted = design @ coef
    base, *_ = np.linalg.lstsq(on[:, None], kwh, rcond=None)
    r2 = 1.0 - float(((kwh - fitted) ** 2).sum()) / float(((kwh - kwh.mean()) ** 2).sum())
    return {"steps": len(rows), "kwh_per_kelvin": round(float(coef[0]), 3),
            "fan_kw": round(float(coef[1]) / (STEP / 60.0), 3), "r2": round(r2, 3),
            "mae_kwh": round(float(np.abs(kwh - fitted).mean()), 4),
            "mae_kwh_running_only": round(float(np.abs(kwh - on[:, None] @ base).mean()), 4),
            "mean_kwh_per_step": round(float(kwh.mean()), 4)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["builtin", "energyplus"], default="builtin")
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = calibrate(args.engine, args.days, args.seed)
    print_table(f"energy proxy calibration ({args.engine}, {args.days} day(s), seed {args.seed})", [result])
    if args.json:
        print(json.dumps({"engine": args.engine, **result}))


if __name__ == "__main__":
    main()
