"""Application functions of ingestion: device events from the live store into the record store.

``skynet data ingest`` runs an :class:`~skynet.api._ingester.Ingester` on ``storage.live_url``
(the control workers' event streams, read by a consumer group of its own) and writes to the
record store (``storage.url``; readings and weather to ``storage.timeseries_url`` when set).
Without a live store (or with ``events``) it reads JSON-line events from a file into an
in-process queue and ingests them to their end: a backfill, with no server needed.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import IO, Any

from skynet.api._context import open_records
from skynet.api._ingester import INGEST_GROUP, Ingester, IngestOptions
from skynet.api.worker import EMBEDDED_URL, _on_signals, _write_json, default_consumer, live_url
from skynet.config import Settings, masked
from skynet.errors import ConfigError, DataError, brief

__all__ = ["run_ingest", "ingest_health", "drop_ingest_group", "INGEST_GROUP"]


def run_ingest(
    settings: Settings,
    *,
    consumer: str | None = None,
    batch: int = 1000,
    once: bool = False,
    max_events: int | None = None,
    heartbeat_file: str | os.PathLike[str] | None = None,
    heartbeat_s: float = 2.0,
    claim_idle_ms: int = 60_000,
    events: IO[str] | None = None,
) -> dict[str, Any]:
    """Ingest device events until SIGTERM / SIGINT (``once``: until none is left to read).

    Args:
        settings: where the live store and the record store are.
        consumer: the ingester's name (default ``<host>-<pid>``); unique per live store.
        batch: events read and written per pass.
        once: stop when no event is left to read (pending ones idle ``claim_idle_ms`` taken
            over first); a store failure then ends the run with the error.
        max_events: stop after this many events are acknowledged.
        heartbeat_file: write the heartbeat (counts, failures, backlog) to this JSON file.
        heartbeat_s: how often.
        claim_idle_ms: take over the events other ingesters left pending this long.
        events: JSON-line events to ingest through an in-process queue instead of the live store.

    Returns:
        The counts (events, stored per kind, duplicates, skipped, refused, failures), the
        ingest group's backlog and the stores' masked URLs.

    Raises:
        ConfigError: no ``storage.live_url`` and no ``events``.
        StorageError: a store cannot be opened (or, with ``once``, failed).
        DataError: ``events`` could not be read to their end.
    """
    from skynet.storage.live import open_live_store

    url = live_url(settings)
    if events is None and url == EMBEDDED_URL:
        raise ConfigError("storage.live_url is empty: set it to the workers' Redis (redis://host:6379/0), "
                          "or give --events FILE to ingest JSON-line events from a file")  # fmt: skip
    if events is not None:  # a queue of this run's own
        url, once = f"memory://ingest-{uuid.uuid4().hex}", True
    name = consumer or default_consumer()
    options = IngestOptions(batch=batch, claim_idle_ms=claim_idle_ms, fail_fast=once)
    with open_live_store(url) as live, open_records(settings) as store:
        ingester = Ingester(live, store, name, options)
        beat = _Heartbeat(ingester, Path(heartbeat_file), heartbeat_s) if heartbeat_file else None
        restore = _on_signals(ingester.stop)
        try:
            if beat is not None:
                beat.start()
            if events is not None:
                _from_file(ingester, live, events, max_events)
            else:
                ingester.run(drain=once, max_events=max_events)
            backlog = live.backlog(group=INGEST_GROUP)
        finally:
            restore()
            if beat is not None:
                beat.stop()
        where = {"live": masked(url), "store": store.describe()["url"]}
    return {"consumer": name, **ingester.stats.summary(), "backlog": backlog, **where}


def _from_file(ingester: Ingester, live: Any, events: IO[str], max_events: int | None) -> None:
    """Queue the file's events a batch at a time and ingest each batch to its end."""
    from skynet.worker import event_key

    live.join_group(INGEST_GROUP)
    number, chunk = 0, []
    try:
        for number, line in enumerate(events, start=1):  # noqa: B007 - the last one is reported
            if line.strip():
                chunk.append((event_key(line.strip()), line.strip()))
            if len(chunk) >= ingester.options.batch:
                live.append_events(chunk)
                chunk = []
                ingester.run(drain=True, max_events=max_events)
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"events: could not read past line {number:,} ({type(exc).__name__}: "
                        f"{brief(str(exc))}); the lines before were ingested") from None  # fmt: skip
    finally:
        if chunk:
            live.append_events(chunk)
            ingester.run(drain=True, max_events=max_events)


class _Heartbeat:
    """Writes an ingester's facts and the group's backlog to a JSON file every few seconds, from
    a thread of its own: a write that blocks on the database still shows as ``writing_s``."""

    def __init__(self, ingester: Ingester, path: Path, every_s: float) -> None:
        self.ingester, self.path, self.every_s = ingester, path, every_s
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="skynet-ingest-heartbeat", daemon=True)

    def start(self) -> None:
        self._write()
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=10)
        self._write(stopped=True)

    def _loop(self) -> None:
        while not self._done.wait(self.every_s):
            self._write()

    def _write(self, stopped: bool = False) -> None:
        from skynet.errors import SkynetError

        facts = self.ingester.facts()
        try:
            facts["backlog"] = self.ingester.live.backlog(group=INGEST_GROUP)
        except SkynetError as exc:
            facts["backlog"], facts["failing"] = None, str(exc)
        _write_json(self.path, {**facts, "stopped": stopped} if stopped else facts)


def ingest_health(heartbeat_file: str | os.PathLike[str], max_age: float = 15.0,
                  max_backlog: int | None = None) -> dict[str, Any]:  # fmt: skip
    """Whether an ingester is alive: its heartbeat file is fresh, it has not stopped and (with
    ``max_backlog``) it is no more than that many events behind.

    Returns:
        ``healthy``, the heartbeat's facts with its age, and ``problem`` when unhealthy.
    """
    path = Path(heartbeat_file)
    try:
        facts = json.loads(path.read_text())
        age = time.time() - path.stat().st_mtime
    except (OSError, ValueError) as exc:
        return {"healthy": False, "ingester": {}, "problem": f"{path}: {exc}"}
    problem = None
    if age > max_age:
        problem = f"heartbeat {age:.0f} s old (at most {max_age:g})"
    elif facts.get("stopped"):
        problem = "the ingester stopped"
    elif max_backlog is not None and (facts.get("backlog") is None or facts["backlog"] > max_backlog):
        problem = f"backlog {facts.get('backlog')} events (at most {max_backlog})"
    out = {"healthy": problem is None, "ingester": {**facts, "age_s": round(age, 1)}}
    return out if problem is None else {**out, "problem": problem}


def drop_ingest_group(settings: Settings) -> dict[str, Any]:
    """Remove the ingest consumer group: the event streams stop keeping events for ingestion
    (do it when no ingester will run again, else the streams grow with every event).

    Returns:
        The live store's groups and their backlogs, before and after.
    """
    from skynet.storage.live import open_live_store

    url = live_url(settings)
    if url == EMBEDDED_URL:
        raise ConfigError("storage.live_url is empty: there is no ingest group to drop")
    with open_live_store(url) as live:
        before = live.groups()
        live.drop_group(INGEST_GROUP)
        after = live.groups()
    return {"live": masked(url), "before": before, "after": after}
