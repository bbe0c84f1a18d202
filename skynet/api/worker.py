"""Application functions of the control worker: run it, feed it events, check its health.

Where things live comes from the settings: events, device states and commands in the live
store (``storage.live_url``: ``redis://...``; empty: in-process, i.e. embedded), decisions in
the decision log (``storage.decisions_url``; empty: the record store at ``storage.url``).
Embedded, the worker reads events as JSON lines (a file or standard input, e.g. piped from
``skynet control send-event``), runs them through an in-process queue and stops at their end;
its device states are kept between runs in ``{data_dir}/worker/states.json``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from skynet.api._context import records_url
from skynet.config import Settings, masked
from skynet.errors import ConfigError

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


def _controller(settings: Settings) -> Any:
    """The controller with the newest models of the model store (the fallback thermostat without
    them) and the settings' ``control:`` section."""
    import logging

    from skynet.api.control import load_models
    from skynet.control import Controller

    models, notes = load_models(settings)
    logging.getLogger("skynet.worker").info("worker models: %s", notes)
    return Controller(models["estimator"], models["comfort"], settings.control)


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
        controller: the controller to use (default: the model store's newest models).

    Returns:
        The worker's statistics (counts, latency percentiles) and the live store's description.

    Raises:
        ConfigError: not embedded and no ``storage.live_url``.
        StorageError: a store cannot be opened.
    """
    from skynet.storage.decisions import open_decision_log
    from skynet.storage.live import open_live_store
    from skynet.worker import Processor, Worker, WorkerOptions

    name = consumer or default_consumer()
    if not embedded and live_url(settings) == EMBEDDED_URL:
        raise ConfigError(
            "storage.live_url is empty: set it to the workers' Redis (redis://host:6379/0), "
            "or run `skynet control worker --embedded` to read events from --events / stdin"
        )
    live = open_live_store(live_url(settings, embedded))
    log = open_decision_log(decisions_url(settings), auto_migrate=settings.storage.auto_migrate)
    processor = Processor(controller or _controller(settings), name, devices=_devices(settings))
    options = WorkerOptions(batch=batch, lease_ms=lease_ms, heartbeat_ms=max(lease_ms // 5, 50))
    beat = None
    if heartbeat_file is not None:
        path = Path(heartbeat_file)
        beat = lambda facts: _write_json(path, facts)  # noqa: E731
    worker = Worker(live, log, processor, name, options, heartbeat=beat)
    restore = _on_signals(worker.stop)
    try:
        if embedded:
            stats = _run_embedded(settings, worker, live, events or sys.stdin, on_command)
        else:
            stats = worker.run()
    finally:
        restore()
        log.close()
    return {"consumer": name, **stats.summary(), "live": live.describe()}


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
    states = _states_file(settings)
    if states.exists():
        live.put_states(json.loads(states.read_text()))
    fed = threading.Event()

    def feed() -> None:
        try:
            for line in events:
                if line.strip():
                    live.append_events([(_key_of(line), line.strip())])
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
    return stats


def _print_commands(live: Any, after: list[str], on_command: Callable[[str], None] | None) -> None:
    for command_id, _device, payload in live.read_commands(after[0]):
        after[0] = command_id
        if on_command is not None:
            on_command(payload)


def _key_of(line: str) -> str:
    """The device an event line is for (empty when unreadable: the worker dead-letters it)."""
    try:
        data = json.loads(line)
    except ValueError:
        return ""
    device = data.get("device_id") if isinstance(data, dict) else None
    return device if isinstance(device, str) else ""


def send_event(
    settings: Settings,
    device_id: str,
    type: str,
    *,
    at: datetime | None = None,
    event_id: str | None = None,
    embedded: bool = False,
    **fields: Any,
) -> dict[str, Any]:
    """Make an event and queue it on the live store (or, embedded, only return its JSON line).

    Returns:
        ``event`` (its JSON text), ``queued`` (the queue id; None when embedded) and ``live``
        (the masked store URL; None when embedded).

    Raises:
        DataError: the event would be malformed.
        StorageError: the live store cannot be reached.
    """
    from skynet.worker import make_event

    text = make_event(device_id, type, time=at, event_id=event_id, **fields)
    url = live_url(settings, embedded)
    if url == EMBEDDED_URL:
        return {"event": text, "queued": None, "live": None}
    from skynet.storage.live import open_live_store

    with open_live_store(url) as live:
        (queued,) = live.append_events([(device_id, text)])
    return {"event": text, "queued": queued, "live": masked(url)}


def worker_health(
    settings: Settings,
    consumer: str | None = None,
    heartbeat_file: str | os.PathLike[str] | None = None,
    max_age: float = 15.0,
) -> dict[str, Any]:
    """Whether control workers are alive: from the live store's heartbeats, or a heartbeat file.

    Args:
        settings: where the live store is.
        consumer: check this worker only (default: any).
        heartbeat_file: check this file's heartbeat instead of the live store's.
        max_age: seconds after which a heartbeat file is stale.

    Returns:
        ``healthy`` and the live workers with their heartbeats.

    Raises:
        ConfigError: neither a live store nor a heartbeat file to look at.
    """
    if heartbeat_file is not None:
        return _file_health(Path(heartbeat_file), max_age)
    url = live_url(settings)
    if url == EMBEDDED_URL:
        raise ConfigError(
            "storage.live_url is empty: an embedded worker's health is its --heartbeat-file; pass it here"
        )
    from skynet.storage.live import open_live_store

    with open_live_store(url) as live:
        members = live.members()
    alive = {name: info for name, info in members.items() if consumer is None or name == consumer}
    return {"healthy": bool(alive), "workers": alive, "live": masked(url)}


def _file_health(path: Path, max_age: float) -> dict[str, Any]:
    try:
        facts = json.loads(path.read_text())
        age = time.time() - path.stat().st_mtime
    except (OSError, ValueError) as exc:
        return {"healthy": False, "workers": {}, "problem": f"{path}: {exc}"}
    healthy = age <= max_age and not facts.get("stopped")
    return {"healthy": healthy, "workers": {facts.get("consumer", "?"): {**facts, "age_s": round(age, 1)}}}
