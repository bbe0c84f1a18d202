"""Application functions of the REST service (``skynet serve``): the models it holds, kept
current with the registry, and the three questions it answers.

- :class:`ServedModels` holds one loaded model per type, each named by a reference
  (``serve.user_model`` / ``serve.estimation``: ``NAME`` or ``TYPE@ALIAS``; empty:
  ``TYPE@production``, else the newest, :func:`skynet.api.models.resolve`). :meth:`~ServedModels.refresh`
  resolves the references again and loads a version that changed (a promotion, a rollback) beside
  the one in use, then swaps it in with one assignment: a request sees the old model or the new
  one, never a half-loaded one. A version that fails to load leaves the old one serving and is
  reported by readiness. :meth:`~ServedModels.watch` refreshes every ``serve.reload_interval`` s.
- :func:`predict_comfort` and :func:`forecast` are ``skynet user_model predict`` and ``skynet
  estimation predict`` with the held model (:func:`skynet.api.user_model.predict`,
  :func:`skynet.api.estimation.predict`: the same input checks and the same answers).
- :func:`decide` runs a device's context through the control worker's own event processing
  (:class:`skynet.worker.Processor`: its event checks, device state, personal offset, safety
  state and controller call), so an HTTP decision is the one the worker would make.
- :func:`readiness`: every model loaded and the record store answering.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from skynet.api import estimation as _estimation
from skynet.api import user_model as _user_model
from skynet.api._context import open_model_registry, open_records
from skynet.api.models import load_trained, resolve
from skynet.config import Settings
from skynet.domain import Device
from skynet.errors import DataError, SkynetError, StorageError, brief

__all__ = [
    "MODEL_TYPES",
    "Loaded",
    "ServedModels",
    "predict_comfort",
    "is_fast",
    "forecast",
    "decide",
    "readiness",
    "CONTEXT_EVENTS",
]

logger = logging.getLogger("skynet.serve")

#: The keys of a row the fast path takes: measured values only (no device, person, date or category).
_FAST_KEYS = frozenset(("temperature", "humidity", "air_speed", "clothing", "metabolic_rate", "outdoor_temperature",
                        "outdoor_humidity", "outdoor_running_mean", "latitude"))  # fmt: skip

#: The model types the service holds, and the settings key naming each one's reference.
MODEL_TYPES: tuple[str, ...] = ("user_model", "estimation")


@dataclass(frozen=True)
class Loaded:
    """A model in use: its type, registry name, how its reference found it, the model, when loaded."""

    model_type: str
    name: str
    how: str
    model: Any
    loaded_at: float


class ServedModels:
    """The models a service answers with (see the module docstring).

    Args:
        settings: where the registry and the artifact store are; ``serve.<type>`` references.
        refs: model type -> reference, overriding the settings' (None or "": the default).
    """

    def __init__(self, settings: Settings, refs: Mapping[str, str | None] | None = None) -> None:
        self.settings = settings
        given = dict(refs or {})
        self.refs: dict[str, str | None] = {
            kind: (given.get(kind) or getattr(settings.serve, kind) or None) for kind in MODEL_TYPES
        }
        self._loaded: dict[str, Loaded] = {}
        #: model type -> why it is not loaded, or why its newest version could not replace it
        self.problems: dict[str, str] = {}
        self.last_refresh: float | None = None
        self._refreshing = threading.Lock()
        self._controller: tuple[tuple[str | None, str | None], Any] | None = None

    def get(self, model_type: str) -> Loaded:
        """The model of a type in use.

        Raises:
            StorageError: none is loaded (the message says why).
        """
        found = self._loaded.get(model_type)
        if found is None:
            why = self.problems.get(model_type, "not loaded yet")
            raise StorageError("serve", f"no {model_type} model to answer with: {why}")
        return found

    def loaded(self) -> dict[str, Loaded]:
        """The models in use by type (a copy: it does not change under the caller)."""
        return dict(self._loaded)

    def refresh(self) -> list[tuple[str, str | None, str]]:
        """Resolve every reference again; load and swap in the versions that changed.

        Returns:
            ``(model type, old name or None, new name)`` per model swapped in.
        """
        changes: list[tuple[str, str | None, str]] = []
        with self._refreshing:
            try:
                with open_model_registry(self.settings) as registry:
                    found = {}
                    for kind in MODEL_TYPES:
                        try:
                            found[kind] = resolve(self.settings, self.refs[kind], kind, registry)
                        except SkynetError as exc:
                            self.problems[kind] = str(exc)
            except SkynetError as exc:  # the registry cannot be reached: keep what is loaded
                for kind in MODEL_TYPES:
                    self.problems[kind] = str(exc)
                return changes
            for kind, (version, how) in found.items():
                current = self._loaded.get(kind)
                if current is not None and current.name == version.name:
                    self.problems.pop(kind, None)
                    continue
                try:
                    name, model = load_trained(self.settings, kind, version.name)
                except SkynetError as exc:
                    self.problems[kind] = f"{how} cannot be loaded: {exc}"
                    logger.error("serve: %s", self.problems[kind])
                    continue
                self._loaded = {**self._loaded, kind: Loaded(kind, name, how, model, time.time())}
                self.problems.pop(kind, None)
                changes.append((kind, current.name if current else None, name))
                logger.log(
                    logging.WARNING if current else logging.INFO, "serve: now answering with %s %s", kind, how
                )
            self.last_refresh = time.time()
        return changes

    def watch(
        self,
        interval: float,
        stop: threading.Event,
        on_refresh: Callable[[list[tuple[str, str | None, str]]], None] | None = None,
    ) -> threading.Thread | None:
        """Refresh every ``interval`` seconds in a daemon thread until ``stop`` is set (0: never),
        calling ``on_refresh`` with each refresh's changes.

        Returns:
            The thread, or None when ``interval`` is 0.
        """
        if interval <= 0:
            return None

        def loop() -> None:
            while not stop.wait(interval):
                try:
                    changes = self.refresh()
                    if on_refresh is not None:
                        on_refresh(changes)
                except Exception:  # noqa: BLE001 - a failed look at the registry must not end the watch
                    logger.exception("serve: model refresh failed")

        thread = threading.Thread(target=loop, name="skynet-serve-reload", daemon=True)
        thread.start()
        return thread

    def controller(self) -> Any:
        """The controller over the models in use (the fallback thermostat decides for a missing
        one, as in the worker), rebuilt only when a model changed."""
        from skynet.control import Controller

        loaded = self._loaded
        estimator, comfort = loaded.get("estimation"), loaded.get("user_model")
        key = (getattr(estimator, "name", None), getattr(comfort, "name", None))
        built = self._controller
        if built is None or built[0] != key:
            built = (key, Controller(getattr(estimator, "model", None), getattr(comfort, "model", None),
                                     self.settings.control))  # fmt: skip
            self._controller = built
        return built[1]


#: Requests of at most this many anonymous rows (numbers only, no device) take the fast path.
FAST_ROWS = 32


def predict_comfort(
    settings: Settings,
    served: ServedModels,
    rows: Sequence[Mapping[str, Any]],
    device_id: str | None = None,
) -> dict[str, Any]:
    """How the people in rooms will feel (:func:`skynet.api.user_model.predict` with the held model).

    A few rows of measured values with no device (the usual request: "how would one feel at
    26 °C?") take a fast path: each value checked against :data:`skynet.data.PREDICT_RANGES`
    as :func:`skynet.data.validated` checks it, then the model's one-row call
    (``predict_one_proba``, no DataFrame); the answers equal the frame path's (tested). Rows
    with a device, a person, a date or a category, or many rows, go the frame path.

    Args:
        settings: where the device's stored votes are (personalization).
        served: the models in use.
        rows: comfort-frame values, one mapping per row (``temperature`` required).
        device_id: the rows' device: personalized with its stored votes (and a row's
            ``user_id``, where the model tells people apart).

    Returns:
        ``model`` and ``rows`` (the inputs used, ``expected``, ``median``, ``offset``,
        ``n_feedback``, ``p_-3`` … ``p_3``).

    Raises:
        DataError: a value that is missing, unknown or not possible; StorageError: no model.
    """
    held = served.get("user_model")
    if is_fast(rows, device_id):
        if not any("temperature" in row for row in rows):
            _checked_numbers({}, "")  # the column is missing from every row: no row to name
        return {"model": held.name, "rows": [_fast_row(held.model, row, i) for i, row in enumerate(rows)]}
    name, out = _user_model.predict(
        settings, device_id, conditions=list(rows), loaded=(held.name, held.model)
    )
    return {"model": name, "rows": out}


def is_fast(rows: Sequence[Mapping[str, Any]], device_id: str | None = None) -> bool:
    """Whether :func:`predict_comfort` answers these rows by the fast path (a fraction of a
    millisecond a row: a server may answer them on its event loop rather than a thread)."""
    return (
        device_id is None and 0 < len(rows) <= FAST_ROWS and all(_FAST_KEYS.issuperset(row) for row in rows)
    )


def _fast_row(model: Any, row: Mapping[str, Any], index: int) -> dict[str, Any]:
    """One anonymous row's answer by the model's one-row call (see :func:`predict_comfort`)."""
    import numpy as np

    from skynet.models.user_model import VOTES
    from skynet.models.user_model._people import from_summary

    values = _checked_numbers(row, f"row {index + 1}: ")
    params = from_summary(model.personal_, "None", None)  # an anonymous row: the fleet's, as the frame path
    proba = model.predict_one_proba(values, offset=params)
    median = VOTES[int(np.argmax(np.cumsum(proba) >= 0.5 - 1e-9))]
    out: dict[str, Any] = dict(values)
    out.update(expected=float(proba @ VOTES), median=float(median), offset=params.offset, slope=params.slope,
               n_feedback=params.n, personal=params.level)  # fmt: skip
    out.update({f"p_{int(v)}": float(p) for v, p in zip(VOTES, proba, strict=True)})
    return out


def _checked_numbers(row: Mapping[str, Any], where: str) -> dict[str, float]:
    """A row of measured values as floats, each within :data:`skynet.data.PREDICT_RANGES`
    (the message :func:`skynet.data.validated` gives for a value that is not)."""
    import math

    from skynet.data import PREDICT_RANGES

    out = {}
    for column, rng in PREDICT_RANGES.items():
        value = row.get(column)
        allowed = f"{rng.low:g} … {rng.high:g}"
        if value is None or (isinstance(value, float) and math.isnan(value)):  # NaN: unknown, as in a frame
            if rng.required:
                raise DataError(f"{where}{column} is missing; it is required ({rng.label}, {allowed})")
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DataError(f"{where}{column} {brief(value)} is not a number ({rng.label}, {allowed})")
        if not rng.low <= value <= rng.high:
            raise DataError(f"{where}{column} {brief(float(value))} is outside {allowed} ({rng.label})")
        out[column] = float(value)
    return {column: out[column] for column in row if column in out}  # in the row's order, as a frame keeps it


def forecast(
    settings: Settings,
    served: ServedModels,
    commands: Sequence[str | Mapping[str, Any]] | None,
    *,
    device_id: str | None = None,
    state: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """A room's temperature and humidity under AC commands (:func:`skynet.api.estimation.predict`
    with the held model): from ``state``, or from the device's stored readings (at ``at``).

    Raises:
        DataError: a bad state or command, an unknown device; StorageError: no model.
    """
    held = served.get("estimation")
    return _estimation.predict(settings, device_id, commands, at, state=state, loaded=(held.name, held.model))


#: The sections of a control context: the worker's event types (same fields, same checks).
CONTEXT_EVENTS = {
    "device": "device",
    "appliance": "appliance",
    "weather": "weather",
    "feedback": "feedback",
    "target": "target",
    "readings": "reading",
}


def decide(
    settings: Settings,
    served: ServedModels,
    device_id: str,
    context: Mapping[str, Any],
    state: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A control decision for a device's context, made by the control worker's own processing.

    The context's sections are the worker's events for the device (:data:`CONTEXT_EVENTS`:
    ``device``, ``appliance``, ``weather``, ``target`` objects, ``feedback`` and ``readings``
    lists, each with the event's fields and an optional ``time``). The older readings and the
    target go into the device state as history; the device facts, the AC state, the weather,
    the votes and then the newest reading are processed as the worker processes them (with the
    device's stored record, as the worker looks it up), and the newest reading makes the one
    decision.

    Args:
        settings: where the device records are.
        served: the models in use (the controller over them).
        device_id: the device.
        context: the sections above (``readings``: at least one).
        state: the device state a previous decision returned (its safety state: minimum on/off
            times, commands per hour), or None for a device seen fresh.

    Returns:
        ``decision`` (the worker's decision document: command, reason, fallback, latency) and
        ``state`` (the device's new state: pass it to the next decision).

    Raises:
        DataError: a section that is not a valid event (the message names it and the field),
            no reading, an unreadable state, or an event the worker would dead-letter.
        RuntimeError: the controller failed (the server's fault, not the request's).
    """
    import json

    from skynet.storage.live import Entry
    from skynet.worker import Processor

    history: list[tuple[str, Any, str]] = []
    processed: list[tuple[str, Any, str]] = []
    for where, event, text in _events(device_id, context):
        (history if event.type in ("reading", "target") else processed).append((where, event, text))
    readings = [item for item in history if item[1].type == "reading"]
    if not readings:
        raise DataError("readings: at least one reading is needed to decide")
    newest = max(readings, key=lambda item: item[1].time)
    history.remove(newest)
    kept = _state(device_id, state)
    for _, event, _ in sorted(history, key=lambda item: item[1].time):
        kept.apply(event, str(event.event_id), event.time)
    items = [*processed, newest]
    entries = [Entry(0, f"serve-{i}", text, 1, device_id) for i, (_, _, text) in enumerate(items)]
    with open_records(settings) as store:
        record = next(iter(store.read(Device, device_id)), None)
    processor = Processor(served.controller(), "serve", devices=lambda _device: record)
    result = processor.process(entries, {device_id: kept})
    if result.dead:
        entry, reason = result.dead[0]
        where = items[int(entry.id.removeprefix("serve-"))][0]
        if reason.startswith(("decision failed", "could not be processed")):
            raise RuntimeError(f"{where}: {reason}")
        raise DataError(f"{where}: {reason}")
    if not result.docs:
        raise DataError(f"{newest[0]}: no decision (the state holds a newer reading)")
    return {"decision": result.docs[-1], "state": json.loads(result.states[device_id])}


def _events(device_id: str, context: Mapping[str, Any]) -> list[tuple[str, Any, str]]:
    """(where, event, JSON text) of every section of a context, each checked as the worker
    checks an event (one line naming the section and the field when one is wrong)."""
    from skynet.worker import make_event, parse_event

    out = []
    for section, kind in CONTEXT_EVENTS.items():
        given = context.get(section)
        items = given if isinstance(given, list) else [] if given is None else [given]
        for i, fields in enumerate(items):
            where = f"{section}[{i}]" if isinstance(given, list) else section
            values = {k: v for k, v in dict(fields).items() if v is not None}
            at = _time(values.pop("time", None), where)
            try:
                text = make_event(device_id, kind, time=at, event_id=uuid.uuid4().hex, **values)
            except DataError as exc:
                raise DataError(f"{where}: {exc}") from None
            out.append((where, parse_event(text), text))
    return out


def _time(value: Any, where: str) -> datetime | None:
    from skynet.worker import parse_time

    if value is None or isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value and value.tzinfo else value
    try:
        return parse_time(value)
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from None


def _state(device_id: str, state: Mapping[str, Any] | None) -> Any:
    """The device state a previous decision returned (checked), or a fresh one."""
    import json

    from skynet.worker import DeviceState

    if state is None:
        return DeviceState(device_id)
    kept = DeviceState.from_json(device_id, json.dumps(state, default=str))
    if kept.device_id != device_id:
        raise DataError(f"state: it is device {brief(kept.device_id)}'s, not {brief(device_id)}'s")
    return kept


def readiness(settings: Settings, served: ServedModels) -> dict[str, Any]:
    """Whether the service can answer: every model loaded and the record store answering.

    Returns:
        ``ready``, ``models`` (type -> name and how it was found, or the problem) and ``store``
        (``ok`` or the problem).
    """
    loaded = served.loaded()
    models: dict[str, Any] = {}
    for kind in MODEL_TYPES:
        held = loaded.get(kind)
        if held is not None:
            models[kind] = {"name": held.name, "how": held.how, "problem": served.problems.get(kind)}
        else:
            models[kind] = {"name": None, "problem": served.problems.get(kind, "not loaded yet")}
    try:
        with open_records(settings) as store:
            store.read(Device, "readyz")
        store_status = "ok"
    except SkynetError as exc:
        store_status = str(exc)
    ready = store_status == "ok" and all(kind in loaded for kind in MODEL_TYPES)
    return {"ready": ready, "models": models, "store": store_status}
