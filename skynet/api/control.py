"""Application functions of control: decide for a stored device; evaluate control in closed loop.

- :func:`decide` reads a device's newest readings, weather, control target, AC state and
  votes from the record store and the newest models from the model store, and runs one
  :func:`skynet.control.decide` with the settings' ``control:`` section.
- :func:`evaluate` runs skynet's controller, a fixed 24 °C cooling thermostat and the
  comfort-band thermostat against the same simulated homes (:func:`skynet.control.closed_loop`)
  and writes a report folder (table as JSON, PNG plots) under ``models.reports``. Models come
  from the model store, or are trained on simulated homes (other seeds) when it has none.
"""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from skynet.api._context import model_store_path, open_records, reports_path
from skynet.config import Settings
from skynet.domain import ApplianceState, ControlTarget, Device, SensorReading, Weather
from skynet.errors import DataError, ModelError, StorageError

__all__ = ["decide", "evaluate", "load_models", "format_decision", "format_evaluation", "MODEL_TYPES"]

#: The models a decision uses: role -> model type in the model store.
MODEL_TYPES = {"estimator": "estimation", "comfort": "user_model"}
_US = timedelta(microseconds=1)


def load_models(
    settings: Settings, names: dict[str, str | None] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """The newest (or named) model of each role, None where the store has none or it cannot load.

    Returns:
        (role -> model or None, role -> its name or why it is missing).
    """
    from skynet.models import load_model
    from skynet.storage import LocalModelStore

    store = LocalModelStore(model_store_path(settings))
    models: dict[str, Any] = {}
    notes: dict[str, str] = {}
    for role, model_type in MODEL_TYPES.items():
        name = (names or {}).get(role)
        try:
            name = name or store.newest(model_type)
            models[role], notes[role] = load_model(store.path_for(name)), name
        except (StorageError, ModelError) as exc:
            models[role], notes[role] = None, f"none ({exc})"
    return models, notes


def decide(
    settings: Settings, device_id: str, at: datetime | None = None, config: Any = None
) -> dict[str, Any]:
    """One decision for a stored device, as of its newest reading (at or before ``at``).

    Returns:
        :meth:`skynet.control.Decision.to_dict` plus ``models`` (their names, or why missing)
        and ``context`` (the readings decided from).

    Raises:
        DataError: the device is unknown or has no sensor reading.
        StorageError: the store failed.
    """
    from skynet import control
    from skynet.control._features import in_force

    with open_records(settings) as store:
        device = next(iter(store.read(Device, device_id)), None)
        end = None if at is None else at + _US
        newest = store.read(SensorReading, device_id, end=end, limit=1, newest_first=True)
        if not newest:
            what = "has no sensor readings" if device is not None else "is not in the store"
            raise DataError(f"device {device_id!r} {what}" + (f" at or before {at}" if at else ""))
        now = newest[0].timestamp
        readings = store.read(SensorReading, device_id, now - timedelta(minutes=45), now + _US)
        weather = next(iter(store.read(Weather, device_id, now - timedelta(hours=6), now + _US, limit=1,
                                       newest_first=True)), None)  # fmt: skip
        target = next(
            iter(store.read(ControlTarget, device_id, end=now + _US, limit=1, newest_first=True)), None
        )
        states = store.read(ApplianceState, device_id, now - timedelta(hours=2), now + _US)
        if not states:
            states = store.read(ApplianceState, device_id, end=now + _US, limit=1, newest_first=True)
    models, notes = load_models(settings)
    config = config or settings.control
    context = control.build_context(readings, weather, device=device)
    offset = _personal_offset(settings, models["comfort"], device_id, device, context.hour, now, config)
    context.comfort_offset = offset
    state = in_force(states)
    safety = control.SafetyState.from_history(states, now)
    request = control.Request(context, target, control.Appliance.from_device(device), state, now, safety)
    decision = control.decide(request, control.Models(models["estimator"], models["comfort"]), config)
    out = decision.to_dict()
    out["models"] = notes
    out["context"] = {"temperature": context.temperature, "humidity": context.humidity,
                      "outdoor_temperature": context.outdoor_temperature, "hour": round(context.hour, 2),
                      "comfort_offset": offset,
                      "state": None if state is None else _state_text(state)}  # fmt: skip
    return out


def _personal_offset(settings: Settings, comfort: Any, device_id: str, device: Device | None, hour: float,
                     now: datetime, config: Any) -> float | None:  # fmt: skip
    """The device's personal comfort offset at local ``hour`` from its stored votes (the
    :class:`skynet.control.Personalizer` of the worker and the closed loop; None: no model)."""
    if comfort is None or not hasattr(comfort, "personal_offsets"):
        return None
    import pandas as pd

    from skynet.api.data import device_history
    from skynet.control import Personalizer, local_hour

    zone = device.timezone if device is not None else None
    personalizer = Personalizer(comfort, config.night_offset, pool=False)
    history = device_history(settings, device_id, end=now + _US)
    if not history.empty:
        stamps = pd.to_datetime(history["timestamp"]).dt.to_pydatetime()
        personalizer.learn(history.assign(hour=[local_hour(t, zone) for t in stamps]))
    found = personalizer.offset(device_id, hour)
    return None if found is None else round(float(found), 4)


def _state_text(state: ApplianceState) -> str:
    if not state.power:
        return "off"
    return (
        f"{state.mode} {state.set_temperature:g} °C fan {state.fan} ({state.origin}, since {state.timestamp})"
    )


def format_decision(result: dict[str, Any]) -> str:
    """A decision (:func:`decide`'s result) as a few lines of text."""
    reason, command = result["reason"], result["command"]
    target = reason["target"]
    value = "" if target.get("value") is None else f" {target['value']:g}"
    lines = [f"device {result['device_id']} at {result['time']}: target {target['mode']}{value}"]
    if command is None:
        lines.append("command: none (no change)")
    elif not command["power"]:
        lines.append("command: off")
    else:
        lines.append(f"command: {command['mode']} {command['set_temperature']:g} °C fan {command['fan']}")
    lines.append(f"why: {reason.get('why')}")
    for key, label in (("chosen", "chosen"), ("runner_up", "runner-up")):
        if key in reason:
            c = reason[key]
            feel = f"  feedback {c['feedback']}" if "feedback" in c else ""
            lines.append(
                f"{label}: {c['command']}  T {c['temperature']} °C  RH {c['humidity']} %{feel}  cost {c['cost']}"
            )
    if "horizons" in reason:
        lines.append(f"forecast horizons: {reason['horizons']} min; {reason['candidates']} candidates")
    if result.get("fallback"):
        lines.append(f"fallback: {result['fallback']}")
    for action in reason.get("safety", []):
        lines.append(f"safety: {action}")
    ctx = result.get("context", {})
    if ctx:
        lines.append(f"now: {ctx['temperature']:g} °C, {ctx['humidity']:g} %RH, outdoor {ctx['outdoor_temperature']:g} °C;"
                     f" AC {ctx['state'] or 'unknown'}")  # fmt: skip
    models = result.get("models", {})
    lines.append("models: " + ", ".join(f"{role} {name}" for role, name in models.items()))
    lines.append(f"latency: {result['latency_ms']:.1f} ms")
    return "\n".join(lines)


def format_evaluation(result: dict[str, Any]) -> str:
    """An evaluation (:func:`evaluate`'s result) as text: setup, models, the table, the report."""
    setup = result["setup"]
    band = f"comfort band {setup['comfort_band'][0]:g}-{setup['comfort_band'][1]:g} °C"
    if setup.get("engine") == "energyplus":
        lines = [f"{setup['devices']} EnergyPlus zones of {setup['building']} ({setup['weather']}) as homes x "
                 f"{setup['days']:g} days from {setup['start']} (people seed {setup['seed']}); {band}"]  # fmt: skip
    else:
        lines = [f"{setup['devices']} simulated homes x {setup['days']:g} days ({setup['climate']}, "
                 f"seed {setup['seed']}); {band}"]  # fmt: skip
    lines += [f"{role}: {note}" for role, note in result["models"].items()]
    rows = result["table"]
    columns = list(rows[0])
    cells = [[_cell(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines.append("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    lines += ["  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True)))
              for r in cells]  # fmt: skip
    d = result["decisions"]
    lines.append(
        f"skynet: {d['count']} decisions, fallbacks {d['fallbacks'] or 'none'}, latency ms {d['latency_ms']}"
    )
    lines.append(f"report: {result['report']} ({result['seconds']} s)")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def evaluate(
    settings: Settings,
    devices: int = 10,
    days: float = 3.0,
    seed: int = 0,
    climate: str = "hot-humid",
    weather_file: str | Path | None = None,
    interval: int = 5,
    occupancy: bool = True,
    occupant_actions: bool = False,
    train: str = "auto",
    train_devices: int = 20,
    train_days: float = 10.0,
    plot_devices: int = 3,
    plot_days: float = 3.0,
    config: Any = None,
    progress: bool = True,
    engine: str = "builtin",
    building: str = "apartment-midrise",
    weather: str = "miami",
    start: Any = None,
    cache: bool = True,
) -> dict[str, Any]:
    """Closed-loop evaluation of skynet's controller against two thermostats on simulated homes.

    Args:
        settings: the effective configuration (models from ``models.store``, report to ``models.reports``).
        devices, days, seed, climate, weather_file: the simulated homes the controllers run on.
        interval: minutes between skynet's (and the band thermostat's) regular decisions.
        occupancy: controllers know when someone is home (the 24 °C thermostat runs only then too).
        occupant_actions: people change the AC themselves (off: every controller keeps control).
        train: "auto" (the store's newest models, trained on simulated homes where missing),
            "always" (train on simulated homes) or "never" (store only; missing: fallback).
        train_devices, train_days: the simulated homes (seed + 1000) models are trained on.
        plot_devices, plot_days: how many homes and days the PNG plots show.
        config: a :class:`skynet.control.ControlConfig` (default: the settings' ``control:`` section).
        progress: progress bars on stderr.
        engine: "builtin" (skynet's simulator) or "energyplus": the thermostat-controlled zones of
            ``building`` under ``weather`` from local day ``start`` (default July 15) for
            ``days`` whole days, with the simulator's people (``devices``, ``climate`` and
            ``weather_file`` then only shape the homes the comfort model is trained on;
            ``climate`` also labels the EnergyPlus homes); see
            :class:`skynet.sim.energyplus.EnergyPlusHomes`. Models trained here learn the
            building from an EnergyPlus run of the ``train_days`` days before ``start``.
        cache: keep models trained here under ``{data_dir}/cache/control-models`` and reuse them
            for the same training homes (:func:`skynet.api._control_train.cached_models`).

    Returns:
        ``table`` (one row per controller), ``models`` (where they came from), ``report``
        (folder), ``plots``, ``decisions`` (count, fallbacks, latency), ``seconds``.
    """
    from skynet import control
    from skynet.api._control_train import train_on_simulation
    from skynet.control._report import plot_homes
    from skynet.sim import Fleet

    if train not in ("auto", "always", "never"):
        raise DataError(f"train must be auto, always or never, got {train!r}")
    if engine not in ("builtin", "energyplus"):
        raise DataError(f"engine must be builtin or energyplus, got {engine!r}")
    started = time.perf_counter()
    config = config or settings.control
    if engine == "energyplus":
        make_fleet, start = _energyplus_homes(building, weather, start, days, seed, climate)
        make_fleet()  # a bad building, city or date fails here, before any training
    models, notes = load_models(settings) if train != "always" else ({"estimator": None, "comfort": None}, {})
    if train != "never" and (models["estimator"] is None or models["comfort"] is None):
        from skynet.api._control_train import cached_models, train_on_energyplus

        folder = settings.data_dir / "cache" / "control-models" if cache else None
        key = {"engine": engine, "climate": climate, "seed": seed + 1000, "devices": train_devices,
               "days": train_days, "weather_file": _file_key(weather_file)}  # fmt: skip
        if engine == "energyplus":
            key.update(building=_file_key(building), weather=_file_key(weather), start=str(start))
            trained = cached_models(folder, key, lambda: train_on_energyplus(
                building, weather, start, int(round(train_days)), seed + 1000, climate, train_devices, train_days,
                progress))  # fmt: skip
        else:
            trained = cached_models(folder, key, lambda: train_on_simulation(
                climate, seed + 1000, train_devices, train_days, weather_file, progress))  # fmt: skip
        for role in ("estimator", "comfort"):
            if models[role] is None:
                models[role], notes[role] = trained[role], trained["note"]
    controller = control.Controller(models["estimator"], models["comfort"], config)
    policies = {
        "fixed 24 °C": control.FixedThermostat(24.0, occupancy=occupancy),
        "comfort band": control.DevicePolicy.band_thermostat(config, interval=interval, occupancy=occupancy),
        "skynet": control.DevicePolicy.skynet(controller, interval=interval, occupancy=occupancy),
    }

    if engine == "builtin":

        def make_fleet() -> Fleet:
            return Fleet(
                devices,
                days,
                seed,
                climate=climate,
                weather_file=weather_file,
                occupant_actions=occupant_actions,
            )

    evaluation = _run_quietly(control.closed_loop, make_fleet, policies, config.comfort_band, plot_devices,
                              "fixed 24 °C", progress, days)  # fmt: skip
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = reports_path(settings) / f"control-evaluation-{stamp}"
    plots = [str(p) for p in plot_homes(evaluation, folder, plot_days)]
    sky = next(r for r in evaluation.results if r.name == "skynet")
    setup = {"engine": engine, "devices": len(evaluation.device_ids), "days": days, "seed": seed,
             "climate": climate if not weather_file else str(weather_file), "interval": interval,
             "occupancy": occupancy, "occupant_actions": occupant_actions and engine == "builtin",
             "comfort_band": list(config.comfort_band)}  # fmt: skip
    if engine == "energyplus":
        setup.update(building=building, weather=weather, start=str(start))
    out = {
        "table": evaluation.table(),
        "setup": setup,
        "models": notes,
        "decisions": {"count": sky.decisions, "fallbacks": sky.fallbacks, "latency_ms": sky.latency_ms},
        "report": str(folder),
        "plots": plots,
        "seconds": round(time.perf_counter() - started, 1),
    }
    _write_json(folder / "evaluation.json", out)
    return out


def _file_key(name: Any) -> Any:
    """A name as a cache key: a file's path, size and time of change; anything else as it is."""
    if name is None or not Path(str(name)).is_file():
        return None if name is None else str(name)
    stat = Path(str(name)).stat()
    return [str(Path(str(name)).resolve()), stat.st_size, stat.st_mtime_ns]


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


def _run_quietly(closed_loop: Any, make_fleet: Any, policies: dict, band: tuple, plot_devices: int,
                 reference: str, progress: bool, days: float) -> Any:  # fmt: skip
    """Run the closed loop under a progress bar; then one line per cause of fallback with its count.

    Thousands of decisions may fall back for the same reason (no model, a slow machine): each
    controller counts its decisions' typed fallbacks and logs the first of each kind as it
    happens (:class:`skynet.control.DevicePolicy`); the counts close the run (the report shows
    them too).
    """
    from tqdm import tqdm

    total = len(policies) * int(round(days * 1440))
    bars: dict[str, int] = {}
    log = logging.getLogger("skynet.control")
    try:
        with tqdm(
            total=total, unit="min", desc="closed loop", disable=None if progress else True, leave=False
        ) as bar:

            def advance(name: str, done: int, _total: int) -> None:
                bar.set_postfix_str(name)
                bar.update(done - bars.get(name, 0))
                bars[name] = done

            return closed_loop(make_fleet, policies, band, plot_devices, reference, advance)
    finally:
        for policy in policies.values():
            for cause, count in getattr(policy, "fallbacks", {}).items():
                if count > 1:
                    log.warning("control fallback (%s): %d decisions in this evaluation", cause, count)


def _write_json(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)
    return path
