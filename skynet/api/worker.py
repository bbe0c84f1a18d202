"""Application functions of the control worker: run it, feed it events, check its health.

Where things live comes from the settings: events, device states and commands in the live
store (``storage.live_url``: ``redis://...``; empty: in-process, i.e. embedded), decisions in
the decision log (``storage.decisions_url``; empty: the record store at ``storage.url``).
Embedded, the worker reads events as JSON lines (a file or standard input, e.g. piped from
``skynet control send-event``), runs them through an in-process queue and stops at their end;
its device states are kept between runs in ``{data_dir}/worker/states.json``. A line it cannot
read as an event is dead-lettered like any bad event; input it cannot read at all (not text)
stops it with an error once what was read is processed: it never ends "done" with input left.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from skynet.api._context import records_url
from skynet.config import Settings, masked
from skynet.errors import ConfigError, DataError, brief

__all__ = [
    "run_worker",
    "send_event",
    "worker_health",
    "live_url",
    "decisions_url",
    "default_consumer",
    "EMBEDDED_URL",
]

#: The in-process live store of an embedded worker.
EMBEDDED_URL = "memory://embedded-worker"


def live_url(settings: Settings, embedded: bool = False) -> str:
    """The live store's URL: ``storage.live_url``, or the in-process one (embedded or unset)."""
    url = settings.path(settings.storage.live_url)
    return EMBEDDED_URL if embedded or not url else url


def decisions_url(settings: Settings) -> str:
    """The decision log's URL: ``storage.decisions_url``, or the record store's."""
    url = settings.path(settings.storage.decisions_url)
    return url or records_url(settings)


def default_consumer() -> str:
    """A worker name unique on this host: ``<host>-<pid>``."""
    return f"{socket.gethostname()}-{os.getpid()}"


def _states_file(settings: Settings) -> Path:
    return settings.data_dir / "worker" / "states.json"


def _write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (a temporary file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, default=str))
    os.replace(tmp, path)


def _models(settings: Settings) -> Any:
    """The worker's models provider: the registry's ``TYPE@models.worker_alias`` models (else the
    newest), watched every ``models.worker_poll_s`` seconds (:mod:`skynet.api._model_watch`);
    started, so its ``controller`` is the first one (the fallback thermostat without models)."""
    from skynet.api._model_watch import ModelWatch
    from skynet.control import Controller

    def make(estimator: Any, comfort: Any) -> Any:
        return Controller(estimator, comfort, settings.control)

    watch = ModelWatch(settings, make)
    watch.start()
    return watch


def _devices(settings: Settings) -> Callable[[str], Any]:
    """Look a device's record up in the record store (once per device per worker)."""
    from skynet.api._context import open_records
    from skynet.domain import Device

    store = open_records(settings)

    def lookup(device_id: str) -> Any:
        found = store.read(Device, device_id)
        return found[0] if found else None

    return lookup


def run_worker(
    settings: Settings,
    *,
    embedded: bool = False,
    consumer: str | None = None,
    batch: int = 256,
    events: IO[str] | None = None,
    heartbeat_file: str | os.PathLike[str] | None = None,
    lease_ms: int = 5000,
    on_command: Callable[[str], None] | None = None,
    controller: Any = None,
    max_skew: timedelta | None = None,
    metrics_port: int | None = None,
) -> dict[str, Any]:
    """Run a control worker until SIGTERM / SIGINT (or, embedded, until its events are done).

    Args:
        settings: where the live store, decision log, record store and models are.
        embedded: run on an in-process queue fed from ``events`` (no server needed).
        consumer: the worker's name (default ``<host>-<pid>``); unique per live store.
        batch: events read per partition at a time.
        events: embedded only: JSON lines of events (default: standard input).
        heartbeat_file: also write the heartbeat to this JSON file (atomically).
        lease_ms: how long a silent worker keeps its partitions (and its heartbeat lives).
        on_command: embedded only: called with each command's JSON as it is emitted.
        controller: the controller to use, for good (default: the registry's models, swapped
            for newer ones as they are promoted; see :mod:`skynet.api._model_watch`).
        max_skew: how far ahead of its queueing an event may be dated (default
            :data:`skynet.worker.MAX_SKEW`, 10 minutes); later ones are dead-lettered.
        metrics_port: serve Prometheus metrics on this port (:mod:`skynet.worker._metrics`;
            0: a free one; None: none).

    Returns:
        The worker's statistics (counts, latency percentiles) and the live store's description.

    Raises:
        ConfigError: not embedded and no ``storage.live_url``.
        StorageError: a store cannot be opened.
        DataError: embedded, the events could not be read to their end (after the worker has
            processed those read before).
    """
    from skynet.storage.decisions import open_decision_log
    from skynet.storage.live import open_live_store
    from skynet.worker import MAX_SKEW, Processor, Worker, WorkerOptions

    name = consumer or default_consumer()
    if not embedded and live_url(settings) == EMBEDDED_URL:
        raise ConfigError(
            "storage.live_url is empty: set it to the workers' Redis (redis://host:6379/0), "
            "or run `skynet control worker --embedded` to read events from --events / stdin"
        )
    url = live_url(settings, embedded)
    if url == EMBEDDED_URL:  # a queue of this run's own: another run in the process must not see it
        url = f"{EMBEDDED_URL}-{uuid.uuid4().hex}"
    live = open_live_store(url)
    log = open_decision_log(decisions_url(settings), auto_migrate=settings.storage.auto_migrate)
    import logging  # the start-up facts, at INFO (`general.log_level: INFO` shows them)

    logging.getLogger("skynet.worker").info(
        "worker %s: events from %s (%d partitions, shared with %d live workers), decisions to %s",
        name, masked(url), live.partitions, len(live.members()), masked(decisions_url(settings)))  # fmt: skip
    watch = _models(settings) if controller is None else None
    make_processor: Callable[..., Processor] = Processor
    stop_metrics = None
    try:
        if metrics_port is not None:
            from skynet.worker import serve_metrics

            make_processor, stop_metrics, _ = serve_metrics(metrics_port, live)
        processor = make_processor(controller if watch is None else watch.controller, name,
                                   devices=_devices(settings),
                                   max_skew=MAX_SKEW if max_skew is None else max_skew)  # fmt: skip
    except BaseException:
        if watch is not None:
            watch.close()
        if stop_metrics is not None:
            stop_metrics()
        raise
    options = WorkerOptions(batch=batch, lease_ms=lease_ms, heartbeat_ms=max(lease_ms // 5, 50))
    beat = None
    if heartbeat_file is not None:
        path = Path(heartbeat_file)
        beat = lambda facts: _write_json(path, facts)  # noqa: E731
    worker = Worker(live, log, processor, name, options, heartbeat=beat, models=watch)
    restore = _on_signals(worker.stop)
    try:
        if embedded:
            stats = _run_embedded(settings, worker, live, events or sys.stdin, on_command)
        else:
            stats = worker.run()
        described = live.describe()
    finally:
        restore()
        if watch is not None:
            watch.close()
        log.close()
        if stop_metrics is not None:
            stop_metrics()
        if embedded:
            live.clear()  # its states are in the states file
    return {"consumer": name, **stats.summary(), "live": described}


def _on_signals(stop: Callable[[], None]) -> Callable[[], None]:
    """Make SIGTERM and SIGINT stop the worker gracefully; return how to undo it."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    for sig in previous:
        signal.signal(sig, lambda _signum, _frame: stop())

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def _run_embedded(
    settings: Settings, worker: Any, live: Any, events: IO[str], on_command: Callable[[str], None] | None
) -> Any:
    from skynet.worker import event_key

    states = _states_file(settings)
    if states.exists():
        live.put_states(json.loads(states.read_text()))
    fed = threading.Event()
    failed: list[str] = []  # why the input could not be read to its end

    def feed() -> None:
        number = 0
        try:
            for number, line in enumerate(events, start=1):  # noqa: B007 - the last one is reported
                if line.strip():  # an unreadable event gets no key: the worker dead-letters it
                    live.append_events([(event_key(line.strip()), line.strip())])
        except Exception as exc:  # noqa: BLE001 - reported once the worker has drained what was fed
            failed.append(f"events: could not read past line {number:,} ({type(exc).__name__}: {brief(str(exc))}); "
                          "the rest was not processed")  # fmt: skip
        finally:
            fed.set()

    threading.Thread(target=feed, name="skynet-events", daemon=True).start()
    printed = ["0"]

    def until() -> bool:
        _print_commands(live, printed, on_command)
        return fed.is_set() and live.backlog() == 0

    try:
        stats = worker.run(until=until)
    finally:
        _print_commands(live, printed, on_command)
        _write_json(states, live.all_states())
    if failed:
        raise DataError(failed[0])
    return stats


def _print_commands(live: Any, after: list[str], on_command: Callable[[str], None] | None) -> None:
    for command_id, _device, payload in live.read_commands(after[0]):
        after[0] = command_id
        if on_command is not None:
            on_command(payload)


def send_event(
    settings: Settings,
    device_id: str,
    type: str,
    *,
    at: datetime | None = None,
    event_id: str | None = None,
    embedded: bool = False,
    fields: Mapping[str, Any] | None = None,
    assignments: Sequence[str] = (),
) -> dict[str, Any]:
    """Make an event and queue it on the live store (or, embedded, only return its JSON line).

    Args:
        settings: where the live store is.
        device_id: the device.
        type: the event type (:data:`skynet.worker.EVENT_TYPES`).
        at: the event's time (default: now).
        event_id: its id (default: a random one).
        embedded: only make the event's JSON line.
        fields: the type's fields by name.
        assignments: more fields as ``NAME=VALUE`` text, the value JSON (else taken as text), as a
            command line gives them; ``time=`` and ``event_id=`` set the time and the id.

    Returns:
        ``event`` (its JSON text), ``queued`` (the queue id; None when embedded) and ``live``
        (the masked store URL; None when embedded).

    Raises:
        DataError: the event would be malformed, or a field is given twice.
        StorageError: the live store cannot be reached.
    """
    from skynet.worker import make_event

    values = {**(fields or {})}
    for item in assignments:
        name, value = _assignment(item)
        if name in values:
            raise DataError(f"field {brief(name)} is given twice")
        values[name] = value
    at, event_id = _common(values, at, event_id)
    text = make_event(device_id, type, time=at, event_id=event_id, **values)
    url = live_url(settings, embedded)
    if url == EMBEDDED_URL:
        return {"event": text, "queued": None, "live": None}
    from skynet.storage.live import open_live_store

    with open_live_store(url) as live:
        (queued,) = live.append_events([(device_id, text)])
    return {"event": text, "queued": queued, "live": masked(url)}


def _assignment(item: str) -> tuple[str, Any]:
    """``NAME=VALUE`` as a field: the value as JSON, else as text."""
    from skynet.worker import load_json

    name, equals, text = item.partition("=")
    if not equals or not name:
        raise DataError(f"a field is NAME=VALUE, got {brief(item)}")
    try:
        return name, load_json(text)
    except DataError:
        return name, text


def _common(
    values: dict[str, Any], at: datetime | None, event_id: str | None
) -> tuple[datetime | None, str | None]:
    """Take the time and id out of ``values`` where they were given as fields (each once)."""
    from skynet.worker import parse_time

    for name in ("device_id", "type"):
        if name in values:
            raise DataError(
                f"{name} is not a field: it is the event's {'device' if name == 'device_id' else 'type'}"
            )
    if "time" in values:
        if at is not None:
            raise DataError("the event time is given twice (--at and time=): give it once")
        at = parse_time(values.pop("time"))
    if "event_id" in values:
        if event_id is not None:
            raise DataError("the event id is given twice (--event-id and event_id=): give it once")
        event_id = values.pop("event_id")
        if not isinstance(event_id, str):
            raise DataError(f"event_id must be a string, got {brief(event_id)}")
    return at, event_id


def worker_health(
    settings: Settings,
    consumer: str | None = None,
    heartbeat_file: str | os.PathLike[str] | None = None,
    max_age: float = 15.0,
    allow_fallback: bool = False,
) -> dict[str, Any]:
    """Whether control workers are alive and serve their models: from the live store's
    heartbeats, or a heartbeat file.

    Args:
        settings: where the live store is.
        consumer: check this worker only (default: any).
        heartbeat_file: check this file's heartbeat instead of the live store's.
        max_age: seconds after which a heartbeat file is stale.
        allow_fallback: a worker whose heartbeat says a model is missing (so the fallback
            thermostat decides for it) is healthy too.

    Returns:
        ``healthy``, the live workers with their heartbeats, and ``problem`` when unhealthy for
        a reason the heartbeats give (a worker on the fallback thermostat).

    Raises:
        ConfigError: neither a live store nor a heartbeat file to look at.
    """
    if heartbeat_file is not None:
        return _on_fallback(_file_health(Path(heartbeat_file), max_age), allow_fallback)
    url = live_url(settings)
    if url == EMBEDDED_URL:
        raise ConfigError(
            "storage.live_url is empty: an embedded worker's health is its --heartbeat-file; pass it here"
        )
    from skynet.storage.live import open_live_store

    with open_live_store(url) as live:
        members = live.members()
    alive = {name: info for name, info in members.items() if consumer is None or name == consumer}
    return _on_fallback({"healthy": bool(alive), "workers": alive, "live": masked(url)}, allow_fallback)


def _on_fallback(result: dict[str, Any], allow_fallback: bool) -> dict[str, Any]:
    """``result`` made unhealthy where a worker's heartbeat names a missing model (unless allowed)."""
    if allow_fallback or not result["healthy"]:
        return result
    for name, facts in result["workers"].items():
        missing = (facts.get("models_missing") if isinstance(facts, dict) else None) or {}
        if missing:
            why = "; ".join(f"{role}: {reason}" for role, reason in missing.items())
            problem = f"worker {name} runs the fallback thermostat, a model is missing ({why}); --allow-fallback accepts that"
            return {**result, "healthy": False, "problem": problem}
    return result


def _file_health(path: Path, max_age: float) -> dict[str, Any]:
    try:
        facts = json.loads(path.read_text())
        age = time.time() - path.stat().st_mtime
    except (OSError, ValueError) as exc:
        return {"healthy": False, "workers": {}, "problem": f"{path}: {exc}"}
    healthy = age <= max_age and not facts.get("stopped")
    return {"healthy": healthy, "workers": {facts.get("consumer", "?"): {**facts, "age_s": round(age, 1)}}}
