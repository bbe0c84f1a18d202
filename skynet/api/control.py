"""Application functions of control: decide for a stored device; evaluate control in closed loop.

- :func:`decide` reads a device's newest readings, weather, control target, AC state and
  votes from the record store and the models from the registry (:func:`load_models`:
  ``TYPE@production``, else the newest of each type), and runs one :func:`skynet.control.decide`
  with the settings' ``control:`` section.
- :func:`evaluate` runs skynet's controller, a fixed 24 °C cooling thermostat, the comfort-band
  thermostat and a sweep of fixed set points (the best one: least energy at no more discomfort
  than the band thermostat) against the same simulated homes and writes a report folder (table
  as JSON, PNG plots) under ``models.reports`` (:mod:`skynet.api._control_evaluate`). Models
  come from the registry, or are trained on simulated homes (other seeds) when it has none.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from skynet.api._context import open_records
from skynet.config import Settings
from skynet.domain import ApplianceState, ControlTarget, Device, SensorReading, Weather
from skynet.errors import DataError, ModelError, StorageError

__all__ = ["decide", "evaluate", "load_models", "format_decision", "format_evaluation", "MODEL_TYPES"]

#: The models a decision uses: role -> model type in the registry.
MODEL_TYPES = {"estimator": "estimation", "comfort": "user_model"}
_US = timedelta(microseconds=1)


def load_models(
    settings: Settings, names: dict[str, str | None] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Each role's model from the registry, None where there is none or it cannot be used.

    Args:
        names: role -> a model reference (``NAME`` or ``TYPE@ALIAS``); a role not named gets
            ``TYPE@production``, else the newest registered model of its type
            (:func:`skynet.api.models.load_trained`, the one resolver).

    Returns:
        (role -> model or None, role -> its name or ``none (why)``).
    """
    from skynet.api.models import load_trained

    models: dict[str, Any] = {}
    notes: dict[str, str] = {}
    for role, model_type in MODEL_TYPES.items():
        try:
            notes[role], models[role] = load_trained(settings, model_type, (names or {}).get(role))
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
    columns = [c for c in rows[0] if c != "best_fixed"]
    cells = [[_cell(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines.append("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    lines += ["  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True)))
              for r in cells]  # fmt: skip
    best = result.get("best_fixed")
    lines.append(
        f"best fixed set point: {best} (least energy with no more people uncomfortable than the band)"
        if best
        else "best fixed set point: none of the sweep had no more people uncomfortable than the band"
    )
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
    sweep: str | list[float] = "auto",
) -> dict[str, Any]:
    """Closed-loop evaluation of skynet's controller against thermostats on the same simulated homes.

    The controllers: fixed 24 °C, the comfort-band thermostat, the fixed set points of a sweep
    (the best one: least energy with an uncomfortable share no higher than the band
    thermostat's) and skynet; see :mod:`skynet.api._control_evaluate`.

    Args:
        settings: the effective configuration (models from ``models.store``, report to ``models.reports``).
        devices, days, seed, climate, weather_file: the simulated homes the controllers run on.
        interval: minutes between skynet's (and the band thermostat's) regular decisions.
        occupancy: controllers know when someone is home (the fixed thermostats run only then too).
        occupant_actions: people change the AC themselves (off: every controller keeps control).
        train: "auto" (the registry's models, as :func:`load_models` picks them; trained on
            simulated homes where missing), "always" (train on simulated homes) or "never"
            (registry only; missing: fallback).
        train_devices, train_days: the simulated homes (seed + 1000) models are trained on.
        plot_devices, plot_days: how many homes and days the PNG plots show.
        config: a :class:`skynet.control.ControlConfig` (default: the settings' ``control:`` section).
        progress: progress bars and one line per controller on stderr.
        engine: "builtin" (skynet's simulator) or "energyplus": the thermostat-controlled zones of
            ``building`` under ``weather`` from local day ``start`` (default July 15) for
            ``days`` whole days, with the simulator's people (``devices``, ``climate`` and
            ``weather_file`` then only shape the homes the comfort model is trained on;
            ``climate`` also labels the EnergyPlus homes); see
            :class:`skynet.sim.energyplus.EnergyPlusHomes`. Models trained here learn the
            building from an EnergyPlus run of the ``train_days`` days before ``start``.
        cache: keep models trained here and the baselines' results under ``{data_dir}/cache``
            and reuse them for the same homes.
        sweep: the fixed set points to try for the best one: "auto" (1 K steps from the band's
            top), "none", or a list (``[25, 26, 27]`` or ``"25,26,27"``).

    Returns:
        ``table`` (one row per controller), ``best_fixed`` (its name, or None), ``setup``,
        ``models`` (where they came from), ``report`` (folder), ``plots``, ``decisions``
        (count, fallbacks, latency), ``seconds``.

    Raises:
        DataError: a bad option, building, city or date.
    """
    from skynet.api._control_evaluate import evaluate as run

    return run(settings, devices, days, seed, climate, weather_file, interval, occupancy, occupant_actions, train,
               train_devices, train_days, plot_devices, plot_days, config, progress, engine, building, weather,
               start, cache, sweep)  # fmt: skip
