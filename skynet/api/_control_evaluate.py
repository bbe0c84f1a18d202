"""``skynet control evaluate``: skynet's controller against thermostats on the same homes, measured.

The controllers, each on its own fresh copy of the same homes (:func:`skynet.control.run_controller`):

- **fixed 24 °C**: cooling at 24 °C while someone is home (the reference of the energy column);
- **comfort band**: skynet's rule-based fallback thermostat alone (``comfort_band``);
- **fixed set points of a sweep** (``sweep``): cooling at ``s`` °C while someone is home. The
  *best fixed set point* is the one of least energy whose uncomfortable share is no higher than
  the band thermostat's. ``"auto"`` walks 1 K steps up from the band's top while the share is
  within the band thermostat's or still falling (people who feel cold at the band's top feel
  better warmer), and stops at the first set point worse than both the band and the one before
  (warmer only gets worse from there; warmer always saves energy); when no set point up there
  qualifies, it walks down from the band's top the same way;
- **skynet**: the models, the fallback and the safety rules.

Comfort is the occupants' own: the share of occupied minutes with their mean sensation beyond
±0.5, the mean |sensation|, and degree-hours outside the comfort band. A baseline's result does
not depend on skynet's models or knobs: with ``cache`` it is kept under
``{data_dir}/cache/control-results`` and reused (an EnergyPlus run takes minutes), as are the
models trained here (:func:`skynet.api._control_train.cached_models`). One stage line per
controller goes to stderr (with ``progress``), besides the progress bar.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from skynet.api._context import reports_path
from skynet.config import ControlConfig, Settings
from skynet.errors import DataError

__all__ = ["evaluate", "best_fixed"]

_SWEEP_STEP = 1.0
_SWEEP_LIMITS = (20.0, 30.0)


def evaluate(settings: Settings, devices: int = 10, days: float = 3.0, seed: int = 0, climate: str = "hot-humid",
             weather_file: str | Path | None = None, interval: int = 5, occupancy: bool = True,
             occupant_actions: bool = False, train: str = "auto", train_devices: int = 20, train_days: float = 10.0,
             plot_devices: int = 3, plot_days: float = 3.0, config: ControlConfig | None = None, progress: bool = True,
             engine: str = "builtin", building: str = "apartment-midrise", weather: str = "miami", start: Any = None,
             cache: bool = True, sweep: str | list[float] = "auto") -> dict[str, Any]:  # fmt: skip
    """Closed-loop evaluation of skynet's controller against thermostats (see the module docstring).

    Arguments as :func:`skynet.api.control.evaluate`'s.
    """
    from skynet import control
    from skynet.control._evaluate import evaluation_of
    from skynet.control._report import plot_homes

    if train not in ("auto", "always", "never"):
        raise DataError(f"train must be auto, always or never, got {train!r}")
    if engine not in ("builtin", "energyplus"):
        raise DataError(f"engine must be builtin or energyplus, got {engine!r}")
    points = _sweep_points(sweep)
    started = time.perf_counter()
    config = config or settings.control
    case = {"engine": engine, "devices": devices, "days": days, "seed": seed, "climate": climate,
            "weather_file": _file_key(weather_file), "occupant_actions": occupant_actions}  # fmt: skip
    if engine == "energyplus":
        make_fleet, start = _energyplus_homes(building, weather, start, days, seed, climate)
        make_fleet()  # a bad building, city or date fails here, before any training
        case.update(building=_file_key(building), weather=_file_key(weather), start=str(start), devices=None,
                    occupant_actions=False)  # fmt: skip
    else:
        make_fleet = _builtin_homes(devices, days, seed, climate, weather_file, occupant_actions)
    models, notes = _models(settings, train, case, engine, building, weather, start, seed, climate, weather_file,
                            train_devices, train_days, progress, cache)  # fmt: skip
    folder = settings.data_dir / "cache" / "control-results" if cache else None
    runner = _Runner(make_fleet, config, case, interval, occupancy, folder, progress, days)
    try:
        runner.run("fixed 24 °C", control.FixedThermostat(24.0, occupancy=occupancy), {"set_point": 24.0})
        band = runner.run("comfort band", control.DevicePolicy.band_thermostat(config, interval=interval,
                          occupancy=occupancy), _band_key(config))  # fmt: skip
        best = best_fixed(lambda s: runner.fixed(s, occupancy), band, points, config.comfort_band[1],
                          runner.results["fixed 24 °C"])  # fmt: skip
        controller = control.Controller(models["estimator"], models["comfort"], config)
        sky = runner.run(
            "skynet", control.DevicePolicy.skynet(controller, interval=interval, occupancy=occupancy)
        )
    finally:
        runner.close()
    evaluation = evaluation_of(list(runner.results.values()), runner.fleet or make_fleet(), config.comfort_band,
                               plot_devices, "fixed 24 °C")  # fmt: skip
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report = reports_path(settings) / f"control-evaluation-{stamp}"
    plotted = [r for r in evaluation.results if r.name in ("fixed 24 °C", "comfort band", "skynet")
               or (best is not None and r.name == best.name)]  # fmt: skip
    plots = [str(p) for p in plot_homes(_only(evaluation, plotted), report, plot_days)]
    setup = {
        "engine": engine,
        "devices": len(evaluation.device_ids),
        "days": days,
        "seed": seed,
        "climate": climate if not weather_file else str(weather_file),
        "interval": interval,
        "occupancy": occupancy,
        "occupant_actions": occupant_actions and engine == "builtin",
        "comfort_band": list(config.comfort_band),
        "sweep": sweep if isinstance(sweep, str) else list(points or ()),
    }
    if engine == "energyplus":
        setup.update(building=building, weather=weather, start=str(start))
    out = {
        "table": _table(evaluation, best),
        "best_fixed": None if best is None else best.name,
        "setup": setup,
        "models": notes,
        "decisions": {"count": sky.decisions, "fallbacks": sky.fallbacks, "latency_ms": sky.latency_ms},
        "report": str(report),
        "plots": plots,
        "seconds": round(time.perf_counter() - started, 1),
    }
    _write_json(report / "evaluation.json", out)
    return out


def best_fixed(run: Callable[[float], Any], band: Any, points: list[float] | None, band_top: float,
               at_24: Any = None) -> Any:  # fmt: skip
    """The best fixed set point's result: least energy with an uncomfortable share no higher than
    the band thermostat's (``band``), among ``points`` (None: the automatic 1 K sweep from the
    band's top, ``band_top``; see the module docstring). ``run(s)`` runs set point ``s``."""
    limit = band.uncomfortable + 1e-12
    if points is not None:
        tried = [run(s) for s in points]
    else:
        top = float(math.ceil(band_top))
        tried = _walk(run, top, _SWEEP_STEP, limit, at_24)
        if not any(r.uncomfortable <= limit for r in tried):
            tried += _walk(run, top - _SWEEP_STEP, -_SWEEP_STEP, limit, at_24, tried[0])
    fine = [r for r in tried if r.uncomfortable <= limit]
    return min(fine, key=lambda r: float(r.energy_kwh.sum())) if fine else None


def _walk(
    run: Callable[[float], Any], s: float, step: float, limit: float, at_24: Any, previous: Any = None
) -> list:
    """Set points from ``s`` by ``step`` while the share is within ``limit`` or still falling: the
    walk stops at the first set point that is worse than the band and worse than the one before
    (people only get warmer, or only colder, further on); walking down (more energy) it also
    stops at the first set point within ``limit``."""
    tried: list[Any] = []
    while _SWEEP_LIMITS[0] <= s <= _SWEEP_LIMITS[1]:
        result = at_24 if s == 24.0 and at_24 is not None else run(s)
        tried.append(result)
        worse = previous is not None and result.uncomfortable >= previous.uncomfortable
        if (result.uncomfortable > limit and worse) or (result.uncomfortable <= limit and step < 0):
            break
        previous, s = result, s + step
    return tried


class _Runner:
    """Runs controllers on fresh homes, keeping (and reusing) the baselines' results."""

    def __init__(self, make_fleet: Callable[[], Any], config: ControlConfig, case: dict[str, Any], interval: int,
                 occupancy: bool, folder: Path | None, progress: bool, days: float) -> None:  # fmt: skip
        from tqdm import tqdm

        self.make_fleet, self.config, self.case, self.folder = make_fleet, config, case, folder
        self.interval, self.occupancy, self.progress = interval, occupancy, progress
        self.results: dict[str, Any] = {}
        self.fleet: Any = None
        self.minutes = int(round(days * 1440))
        self.bar = tqdm(total=self.minutes, unit="min", desc="closed loop", disable=None if progress else True,
                        leave=False)  # fmt: skip

    def fixed(self, set_point: float, occupancy: bool) -> Any:
        from skynet.control import FixedThermostat

        name = f"fixed {set_point:g} °C"
        if name in self.results:
            return self.results[name]
        return self.run(name, FixedThermostat(set_point, occupancy=occupancy), {"set_point": set_point})

    def run(self, name: str, policy: Any, key: dict[str, Any] | None = None) -> Any:
        """Run one controller (a baseline with ``key``: reused from the cache when kept)."""
        from skynet.control import PolicyResult, run_controller

        began = time.perf_counter()
        place = self._place(name, key)
        if place is not None and (place / "result.json").exists():
            result = PolicyResult.load(place)
            how = "kept from an earlier run"
        else:
            self.fleet = self.make_fleet()
            self.bar.reset(self.minutes)
            self.bar.set_postfix_str(name)

            def advance(_name: str, done: int, _total: int) -> None:
                self.bar.update(done - self.bar.n)

            result = run_controller(name, self.fleet, policy, self.config.comfort_band, advance)
            if place is not None:
                result.save(place)
            how = f"{time.perf_counter() - began:.0f} s"
        self.results[name] = result
        row = result.row()
        self._say(f"{name}: {row['uncomfortable_%']} % uncomfortable, {row['kwh_per_home_day']} kWh/home-day, "
                  f"{row['commands_per_home_day']} commands/home-day ({how})")  # fmt: skip
        for cause, count in result.fallbacks.items():
            if count > 1:
                logging.getLogger("skynet.control").warning(
                    "control fallback (%s): %d decisions in this evaluation", cause, count
                )
        return result

    def _place(self, name: str, key: dict[str, Any] | None) -> Path | None:
        if self.folder is None or key is None:
            return None
        text = json.dumps({"case": self.case, "controller": name, **key, "interval": self.interval,
                           "occupancy": self.occupancy, "version": 2}, sort_keys=True, default=str)  # fmt: skip
        return self.folder / hashlib.sha256(text.encode()).hexdigest()[:16]

    def _say(self, line: str) -> None:
        if self.progress:
            self.bar.write(line, file=sys.stderr)

    def close(self) -> None:
        self.bar.close()


def _band_key(config: ControlConfig) -> dict[str, Any]:
    """What the band thermostat's result depends on: its band, its hysteresis, the safety rules."""
    names = ("comfort_band", "empty_band", "away_band", "hysteresis", "min_set_temperature", "max_set_temperature",
             "min_off_seconds", "min_on_seconds", "max_commands_per_hour")  # fmt: skip
    values = asdict(config)
    return {k: values[k] for k in names}


def _sweep_points(sweep: str | list[float]) -> list[float] | None:
    """The sweep's set points (None: automatic)."""
    if isinstance(sweep, str):
        if sweep == "auto":
            return None
        if sweep == "none":
            return []
        try:
            sweep = [float(v) for v in sweep.split(",") if v.strip()]
        except ValueError:
            raise DataError(f"sweep must be auto, none or set points like 25,26,27; got {sweep!r}") from None
    if any(not 16.0 <= s <= 30.0 for s in sweep):
        raise DataError(f"sweep set points must be within 16-30 °C, got {sweep!r}")
    return sorted(float(s) for s in sweep)


def _table(evaluation: Any, best: Any) -> list[dict[str, Any]]:
    """One row per controller, with the energy against the best fixed set point's too."""
    rows = evaluation.table()
    total = None if best is None else float(best.energy_kwh.sum())
    for row, result in zip(rows, evaluation.results, strict=True):
        row["best_fixed"] = best is not None and result.name == best.name
        mine = float(result.energy_kwh.sum())
        row["energy_vs_best_fixed_%"] = None if not total else round(100.0 * (mine / total - 1.0), 1)
    return rows


def _only(evaluation: Any, results: list[Any]) -> Any:
    from dataclasses import replace

    return replace(evaluation, results=results)


def _models(settings: Settings, train: str, case: dict[str, Any], engine: str, building: str, weather: str,
            start: Any, seed: int, climate: str, weather_file: Any, train_devices: int, train_days: float,
            progress: bool, cache: bool) -> tuple[dict[str, Any], dict[str, str]]:  # fmt: skip
    """The store's models, or models trained (or kept from an earlier run) on other homes of the case."""
    from skynet.api._control_train import cached_models, train_on_energyplus, train_on_simulation
    from skynet.api.control import load_models

    models, notes = load_models(settings) if train != "always" else ({"estimator": None, "comfort": None}, {})
    if train == "never" or (models["estimator"] is not None and models["comfort"] is not None):
        return models, notes
    folder = settings.data_dir / "cache" / "control-models" if cache else None
    key = {"engine": engine, "climate": climate, "seed": seed + 1000, "devices": train_devices, "days": train_days,
           "weather_file": _file_key(weather_file)}  # fmt: skip
    if engine == "energyplus":
        key.update(building=case["building"], weather=case["weather"], start=case["start"])
        trained = cached_models(folder, key, lambda: train_on_energyplus(
            building, weather, start, int(round(train_days)), seed + 1000, climate, train_devices, train_days,
            progress))  # fmt: skip
    else:
        trained = cached_models(folder, key, lambda: train_on_simulation(
            climate, seed + 1000, train_devices, train_days, weather_file, progress))  # fmt: skip
    for role in ("estimator", "comfort"):
        if models[role] is None:
            models[role], notes[role] = trained[role], trained["note"]
    return models, notes


def _builtin_homes(devices: int, days: float, seed: int, climate: str, weather_file: Any,
                   occupant_actions: bool) -> Callable[[], Any]:  # fmt: skip
    from skynet.sim import Fleet

    def make_fleet() -> Fleet:
        return Fleet(
            devices, days, seed, climate=climate, weather_file=weather_file, occupant_actions=occupant_actions
        )

    return make_fleet


def _energyplus_homes(building: str, weather: str, start: Any, days: float, seed: int,
                      climate: str) -> tuple[Any, Any]:  # fmt: skip
    """A factory of identical EnergyPlus homes, and the start day it uses."""
    from datetime import date

    from skynet.sim.energyplus import EnergyPlusHomes

    if days != int(days) or days < 1:
        raise DataError(f"EnergyPlus simulates whole days: --days must be a whole number >= 1, got {days:g}")
    start = start or date(2025, 7, 15)

    def make_fleet() -> EnergyPlusHomes:
        return EnergyPlusHomes(building, weather, start, int(days), seed, climate=climate)

    return make_fleet, start


def _file_key(name: Any) -> Any:
    """A name as a cache key: a file's path, size and time of change; anything else as it is."""
    if name is None or not Path(str(name)).is_file():
        return None if name is None else str(name)
    stat = Path(str(name)).stat()
    return [str(Path(str(name)).resolve()), stat.st_size, stat.st_mtime_ns]


def _write_json(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)
    return path
