"""Application functions of the estimation model: build its frame from the store, train, evaluate, predict.

Records are read a few devices at a time and joined by :func:`skynet.data.estimation_frame`;
models are registered (:func:`skynet.api.models.register_trained`), evaluation reports (tables as JSON
and forecast plots) under ``models.reports``. Devices can be named by glob patterns
(``eplus-*``), so one store holding simulated homes and EnergyPlus zones can train on one
kind and test on the other.
"""

from __future__ import annotations

import fnmatch
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from skynet.api._context import open_records, reports_path
from skynet.api.models import load_trained, register_trained, select_training_frame
from skynet.config import Settings
from skynet.domain import AC_MODES, FAN_SPEEDS, ApplianceState, Device, SensorReading, Weather
from skynet.errors import DataError, brief
from skynet.storage import RecordStore

__all__ = ["MODEL_TYPE", "load_frame", "train", "load", "evaluate", "predict", "parse_command"]

MODEL_TYPE = "estimation"
_CHUNK_DEVICES = 16
_WEATHER_BEFORE = timedelta(hours=3)
_HISTORY = timedelta(minutes=45)


def _bar(progress: bool, total: int, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="device", disable=None if progress else True, leave=False)


def _select(store: RecordStore, patterns: Sequence[str] | None) -> list[str]:
    """Device ids of the store matching any of ``patterns`` (exact ids or globs; all when None)."""
    known = sorted(store.read_frame(Device)["device_id"].astype(str))
    if not patterns:
        return known
    chosen = [d for d in known if any(fnmatch.fnmatchcase(d, p) for p in patterns)]
    if not chosen:
        raise DataError(f"no device in the store matches {', '.join(patterns)}")
    return chosen


def load_frame(
    settings: Settings,
    device_ids: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    step: int = 5,
    progress: bool = True,
) -> pd.DataFrame:
    """The estimation frame of the store's devices (ids or glob patterns; default all).

    Raises:
        DataError: no device matches, or the selection has no rows (readings, appliance
            states and weather are all needed).
    """
    from skynet.data import estimation_frame

    parts = []
    with open_records(settings) as store:
        devices = _select(store, device_ids)
        facts = store.read_frame(Device, devices)
        with _bar(progress, len(devices), "estimation frame") as bar:
            for first in range(0, len(devices), _CHUNK_DEVICES):
                chunk = devices[first : first + _CHUNK_DEVICES]
                readings = store.read_frame(SensorReading, chunk, start, end)
                states = store.read_frame(ApplianceState, chunk, None, end)  # the state in force at start too
                weather = store.read_frame(
                    Weather, chunk, None if start is None else start - _WEATHER_BEFORE, end
                )
                parts.append(estimation_frame(readings, states, weather, facts, step=step))
                bar.update(len(chunk))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if frame.empty:
        raise DataError(
            "no estimation rows: the devices need sensor readings, appliance states and weather "
            "(make some: skynet sim generate ...)"
        )
    return frame


def train(
    settings: Settings,
    device_ids: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    params: Mapping[str, Any] | None = None,
    frame: pd.DataFrame | None = None,
    progress: bool = True,
    *,
    dataset: str | Path | None = None,
    holdout_days: float = 0.0,
    alias: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """Train the estimation model on the store's devices, save it in the artifact store and register it.

    Args:
        settings: the effective configuration (``models.seed`` seeds the model).
        device_ids: ids or glob patterns of the devices to learn from (default all).
        start, end: only readings in this time range (UTC).
        params: EstimationModel hyper-parameters overriding the defaults.
        frame: an estimation frame to learn from instead of the store's.
        progress: show progress on stderr.
        dataset: a materialised data set (parquet) to learn from instead.
        holdout_days: leave the last days before ``end`` out (the promotion gate's window).
        alias: point this alias (e.g. ``candidate``) at the new model.

    Returns:
        The model's name in the registry and its training figures.
    """
    from skynet.models.estimation import EstimationModel

    data, selection, source = select_training_frame(
        settings, lambda lo, hi: load_frame(settings, device_ids, lo, hi, progress=progress), device_ids, start,
        end, frame, dataset, holdout_days,
    )  # fmt: skip
    model = EstimationModel(**{"random_state": settings.models.seed, **dict(params or {})}).fit(data)
    info = model.training_
    metrics = {key: info[key] for key in ("n_rows", "rows_learned", "n_devices", "epochs", "validation_loss")}
    name = register_trained(
        settings, model, metrics, frame=data, selection=selection, dataset=source, alias=alias
    )
    return name, metrics


def load(settings: Settings, name: str | None = None) -> tuple[str, Any]:
    """(name, model) of a stored estimation model: ``name`` or the newest one.

    Raises:
        StorageError: no such model (or none at all); ModelError: the artifact is corrupt (a
            corrupt newest model is refused, never passed over, see :func:`load_trained`).
    """
    return load_trained(settings, MODEL_TYPE, name)


def evaluate(
    settings: Settings,
    test_devices: Sequence[str] | None = None,
    train_devices: Sequence[str] | None = None,
    *,
    device_ids: Sequence[str] | None = None,
    test_share: float = 0.3,
    calibration: float = 0.5,
    start: datetime | None = None,
    end: datetime | None = None,
    params: Mapping[str, Any] | None = None,
    model: str | None = None,
    plots: int = 3,
    horizon: int = 30,
    frame: pd.DataFrame | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Score the model on devices it never saw, next to persistence and a per-device RC model.

    Args:
        settings: the effective configuration (``models.reports`` receives the report).
        test_devices: ids or glob patterns of the held-out devices (default: a seeded
            ``test_share`` of the devices).
        train_devices: ids or patterns of the devices to learn from (default: the others;
            test devices among them are left out).
        device_ids: ids or patterns of the devices to consider at all (default: every device).
        test_share: share of devices held out when ``test_devices`` is not given.
        calibration: share of each test device's time the RC baseline is fitted on.
        start, end: only readings in this time range.
        params: EstimationModel hyper-parameters.
        model: score this stored model as it is instead of training one; its own training
            devices are never tested.
        plots: how many test devices get a forecast-vs-measured plot.
        horizon: the forecast horizon (minutes) the plots show.
        frame: an estimation frame to use instead of the store's.
        progress: show progress on stderr.

    Returns:
        ``table`` (per quantity and horizon: RMSE and MAE of estimation, persistence, rc),
        ``train_devices`` / ``test_devices`` (counts and the first few ids), ``rc`` (how the
        baseline was fitted), ``n_rows``, ``seconds``, ``model``, ``plots`` and ``report``.
    """
    from skynet.models.estimation import evaluate as run
    from skynet.models.estimation import plot_forecasts

    data = load_frame(settings, device_ids, start, end, progress=progress) if frame is None else frame
    known = sorted(data["device_id"].astype(str).unique())
    name, fitted = load(settings, model) if model else (None, None)
    test = _match(known, test_devices) if test_devices else None
    train = _match(known, train_devices) if train_devices else None
    if fitted is not None:
        seen = set(getattr(fitted, "devices_", ()))
        test = [d for d in (test or known) if d not in seen]
        if not test:
            raise DataError(f"model {name} was trained on every selected device: nothing unseen to test")
    result = run(data, params, test_devices=test, train_devices=train, test_share=test_share,
                 calibration=calibration, seed=settings.models.seed, model=fitted)  # fmt: skip
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = reports_path(settings) / f"{MODEL_TYPE}-evaluation-{stamp}"
    paths = plot_forecasts(result, folder, devices=plots, horizon=horizon) if plots else []
    out = {
        "table": result.table,
        "train_devices": _summary(result.train_devices),
        "test_devices": _summary(result.test_devices),
        "rc": result.rc,
        "n_rows": result.n_rows,
        "n_train_rows": result.n_train_rows,
        "seconds": result.seconds,
        "model": name or "trained for this evaluation on the training devices",
        "plots": [str(p) for p in paths],
    }
    folder.mkdir(parents=True, exist_ok=True)
    out["report"] = str(_write_json(folder / "evaluation.json", out))
    return out


def _match(known: Sequence[str], patterns: Sequence[str]) -> list[str]:
    chosen = [d for d in known if any(fnmatch.fnmatchcase(d, p) for p in patterns)]
    if not chosen:
        raise DataError(f"no device with estimation rows matches {', '.join(patterns)}")
    return chosen


def _summary(devices: Sequence[str], shown: int = 5) -> dict[str, Any]:
    return {"count": len(devices), "first": list(devices[:shown])}


def _write_json(path: Path, data: Mapping[str, Any]) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2, default=str)
    os.replace(tmp, path)
    return path


def parse_command(text: str) -> dict[str, Any]:
    """An AC command from text: ``off``, or ``MODE:SET_TEMPERATURE[:FAN]`` (``cool:24:auto``).

    Raises:
        DataError: not of that form, an unknown mode or fan speed, or a set temperature no
            AC accepts (:data:`skynet.data.SET_TEMPERATURE`).
    """
    parts = [p.strip().lower() for p in str(text).split(":")]
    if parts == ["off"]:
        return {"power": False, "mode": None, "set_temperature": np.nan, "fan": None}
    if len(parts) not in (2, 3) or parts[0] not in AC_MODES:
        raise DataError(f"command {brief(text)}: expected 'off' or MODE:SET_TEMPERATURE[:FAN] with MODE one of "
                        f"{', '.join(AC_MODES)} (e.g. cool:24:auto)")  # fmt: skip
    fan = parts[2] if len(parts) == 3 else "auto"
    try:
        tset = float(parts[1])
    except ValueError:
        raise DataError(f"command {brief(text)}: set temperature {brief(parts[1])} is not a number") from None
    return _checked_command({"power": True, "mode": parts[0], "set_temperature": tset, "fan": fan}, text)


def _checked_command(command: Mapping[str, Any], given: object) -> dict[str, Any]:
    """A command (power, mode, set_temperature, fan) with each field checked, or one line saying which is wrong.

    A forecast under a command no AC can be given (500 °C, NaN, mode "blast") would look like
    an answer; the set temperature goes through the same range check as every predict input.
    """
    from skynet.data import SET_TEMPERATURE, validated

    where = f"command {brief(given)}"
    if not isinstance(command, Mapping):
        raise DataError(f"{where}: expected text or a mapping of power, mode, set_temperature, fan")
    unknown = [key for key in command if key not in ("power", "mode", "set_temperature", "fan")]
    if unknown:
        raise DataError(
            f"{where}: unknown field {brief(unknown[0])}; known: power, mode, set_temperature, fan"
        )
    power = command.get("power", True)
    if not isinstance(power, (bool, np.bool_, int, np.integer)) or power not in (0, 1):
        raise DataError(f"{where}: power {brief(power)} is not true or false")
    if not power:
        return {"power": False, "mode": None, "set_temperature": np.nan, "fan": None}
    mode, fan = command.get("mode"), command.get("fan")
    fan = "auto" if fan is None else fan
    if not isinstance(mode, str) or mode not in AC_MODES:
        raise DataError(f"{where}: mode {brief(mode)} is not one of {', '.join(AC_MODES)}")
    if not isinstance(fan, str) or fan not in FAN_SPEEDS:
        raise DataError(f"{where}: fan {brief(fan)} is not one of {', '.join(FAN_SPEEDS)}")
    checked = validated(pd.DataFrame({"set_temperature": [command.get("set_temperature")]}),
                        {"set_temperature": SET_TEMPERATURE}, dates=(), where=where, name_rows=False,
                        missing_ok=False)  # fmt: skip
    return {
        "power": True,
        "mode": mode,
        "set_temperature": float(checked["set_temperature"].iloc[0]),
        "fan": fan,
    }


def predict(
    settings: Settings,
    device_id: str | None,
    commands: Sequence[str | Mapping[str, Any]] | None = None,
    at: datetime | None = None,
    model: str | None = None,
    *,
    state: Mapping[str, Any] | None = None,
    loaded: tuple[str, Any] | None = None,
) -> dict[str, Any]:
    """Forecast a room under AC commands: a device's, from its newest readings (or those at
    ``at``), or one described by ``state``.

    Args:
        settings: the effective configuration.
        device_id: the device (with ``state``: only a label).
        commands: texts for :func:`parse_command` or dicts (power, mode, set_temperature,
            fan); default: keep the AC state in force.
        at: forecast from the newest reading at or before this time (UTC).
        model: a stored model name (default: the newest estimation model).
        state: the room now instead of the store's (:data:`skynet.data.ESTIMATION_INPUTS`:
            ``temperature``, ``humidity``, ``outdoor_temperature``, ``outdoor_humidity``,
            ``hour`` and the AC in force are needed; lags and means may be left out).
        loaded: a model already loaded, as ``(name, model)`` (the REST service's), used
            instead of ``model``.

    Returns:
        ``model``, ``device_id``, ``state`` (the inputs used) and ``rows``: one per command
        with its fields and ``temperature_<h>m`` / ``humidity_<h>m``.

    Raises:
        DataError: unknown device, no readings or weather, a value of ``state`` that is
            missing or not possible, or a bad command (one no AC accepts: an unknown mode or
            fan, a set temperature outside :data:`skynet.data.SET_TEMPERATURE`);
            StorageError: no model.
    """
    parsed = [parse_command(c) if isinstance(c, str) else _checked_command(c, c) for c in commands or ()]
    name, estimator = loaded or load(settings, model)
    if state is None:
        if device_id is None:
            raise DataError("predict needs a device id or the room's state")
        state = _stored_state(settings, device_id, at)
    else:
        state = _checked_state(state, device_id)
    if not parsed:  # keep the state in force, as stored
        keep = bool(state.get("power") == 1.0)
        parsed = [{"power": keep, "mode": state.get("mode"), "set_temperature": state.get("set_temperature"),
                   "fan": state.get("fan")}]  # fmt: skip
    forecast = estimator.predict_candidates(state, parsed)
    rows = []
    for i, command in enumerate(parsed):
        row: dict[str, Any] = {"command": _describe(command)}
        row.update(
            {
                f"temperature_{h}m": float(v)
                for h, v in zip(estimator.horizons, forecast.temperature[i], strict=True)
            }
        )
        row.update(
            {
                f"humidity_{h}m": float(v)
                for h, v in zip(estimator.horizons, forecast.humidity[i], strict=True)
            }
        )
        rows.append(row)
    shown = {k: (v.isoformat() if isinstance(v, pd.Timestamp) else _plain(v)) for k, v in state.items()}
    return {"model": name, "device_id": device_id, "state": shown, "rows": rows}


def _stored_state(settings: Settings, device_id: str, at: datetime | None) -> dict[str, Any]:
    """The estimation inputs of a stored device at its newest reading (at or before ``at``)."""
    from skynet.data import estimation_state

    with open_records(settings) as store:
        newest = store.latest(SensorReading, device_id) if at is None else None
        if at is None:
            if newest is None:
                what = "has no sensor readings" if store.read(Device, device_id) else "is not in the store"
                raise DataError(f"device {device_id!r} {what}")
            at = newest.timestamp
        when = pd.Timestamp(at).to_pydatetime()
        after = when + timedelta(microseconds=1)
        readings = store.read_frame(SensorReading, [device_id], when - _HISTORY, after)
        states = store.read_frame(ApplianceState, [device_id], None, after)
        weather = store.read_frame(Weather, [device_id], when - _WEATHER_BEFORE, after)
        facts = store.read_frame(Device, [device_id])
    state = estimation_state(readings, states, weather, facts, at=when)
    if not np.isfinite(float(state.get("outdoor_temperature", np.nan))):
        raise DataError(
            f"device {device_id!r} has no weather within {_WEATHER_BEFORE} before {state['timestamp']}"
        )
    return state


def state_ranges() -> dict[str, Any]:
    """The physically possible values of a room's state (:data:`skynet.data.ESTIMATION_INPUTS`),
    from :data:`skynet.data.PREDICT_RANGES`: lags and means like the reading they lag."""
    from skynet.data import ESTIMATION_INPUTS, PREDICT_RANGES, SET_TEMPERATURE, Range

    ranges = {}
    for key in ESTIMATION_INPUTS:
        base = key.split("_lag")[0].removesuffix("_mean30")
        if base in PREDICT_RANGES:
            found = PREDICT_RANGES[base]
            ranges[key] = Range(found.label, found.low, found.high, required=key == base)
    ranges["set_temperature"] = SET_TEMPERATURE
    ranges["ac_minutes"] = Range("minutes the AC state has been in force", 0.0, 525_600.0)
    ranges["hour"] = Range("local hour of the day", 0.0, 24.0, required=True)
    return ranges


def _checked_state(state: Mapping[str, Any], device_id: str | None) -> dict[str, Any]:
    """A room's state given as values, each checked like every predict input (one line naming
    the field when one is missing or not possible); the AC in force checked like a command."""
    from skynet.data import ESTIMATION_INPUTS, validated

    known = {*ESTIMATION_INPUTS, "device_id", "timestamp"}
    unknown = [key for key in state if key not in known]
    if unknown:
        raise DataError(f"state: unknown field {brief(unknown[0])}; known: {', '.join(ESTIMATION_INPUTS)}")
    ranged = {k: v for k, v in state.items() if k not in ("power", "mode", "fan", "device_id", "timestamp")}
    checked = validated(pd.DataFrame([ranged]), state_ranges(), dates=(), where="state", name_rows=False)
    values: dict[str, Any] = {key: np.nan for key in ESTIMATION_INPUTS}
    values.update({k: float(v) for k, v in checked.iloc[0].items()})
    if state.get("power") is None:
        raise DataError("state: power (whether the AC in force is on: true or false) is missing")
    ac = _checked_command({k: state[k] for k in ("power", "mode", "set_temperature", "fan") if k in state},
                          "in force")  # fmt: skip
    values.update(power=1.0 if ac["power"] else 0.0, mode=ac["mode"], fan=ac["fan"],
                  set_temperature=ac["set_temperature"])  # fmt: skip
    values.update(device_id=device_id, timestamp=state.get("timestamp"))
    return values


def _describe(command: Mapping[str, Any]) -> str:
    if not command.get("power"):
        return "off"
    tset = pd.to_numeric(command.get("set_temperature"), errors="coerce")
    return f"{command.get('mode')}:{'?' if pd.isna(tset) else format(float(tset), 'g')}:{command.get('fan') or 'auto'}"


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value
