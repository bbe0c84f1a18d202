"""The ingester: device events from the live store into the record store, by a consumer group of its own.

The control workers read the event streams as the group ``workers``; the ingester reads the
same streams as the group :data:`INGEST_GROUP`, so each group gets every event and neither
waits for the other: a slow or failed database holds up ingestion, never a decision (the
streams keep what the ingester has not acknowledged yet; see :mod:`skynet.storage.live`).

Each pass reads a batch of events (any partitions: order does not matter, because records
are keyed by ``(device_id, timestamp)`` and written idempotently), turns them into records,
writes them with one ``write`` per record kind, and only then acknowledges the events. A crash
before the acknowledgement leaves them pending; any ingester takes over events pending longer
than ``claim_idle_ms`` (XAUTOCLAIM) and writes them again, which stores nothing twice.

What an event becomes (:func:`records_of`): a reading is a sensor reading, plus a weather
record when it carries the outdoor temperature (as the worker reads it); weather, feedback,
appliance and target events are their records. A ``device`` event changes no stored record.
The record's time is the event's ``time``, else the time it was queued (the Redis entry id),
so a redelivered event has the same key. Events the workers dead-letter as malformed (not
parseable, queued under another device, dated beyond :data:`~skynet.worker.MAX_SKEW` after their
queueing) are skipped and counted, never dead-lettered a second time.

A store failure (:class:`~skynet.errors.StorageError`) acknowledges nothing: the batch is
written again after ``retry_s`` (with ``fail_fast``, the failure is raised). A record the store
*refuses* (:class:`~skynet.errors.DataError`, e.g. a user id longer than its column) is found by
writing its kind's records one by one; it alone is left out, logged and counted, so one bad
record never stalls ingestion.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from skynet.domain import Record, Weather
from skynet.errors import DataError, SkynetError, StorageError
from skynet.storage import RecordStore
from skynet.storage.live import Entry, LiveStore

__all__ = ["Ingester", "IngestOptions", "IngestStats", "INGEST_GROUP", "records_of"]

logger = logging.getLogger("skynet.ingest")
#: The ingesters' consumer group on the event streams.
INGEST_GROUP = "ingest"


@dataclass(frozen=True)
class IngestOptions:
    """How an ingester reads, retries and takes over.

    Attributes:
        batch: events read (and written) per pass.
        block_ms: how long a read waits for new events.
        claim_idle_ms: pending events idle this long are taken over (a dead ingester's).
        claim_every_s: how often to look for them.
        retry_s: pause before writing a batch again after a store failure.
        fail_fast: raise a store failure instead of retrying (``--once``, tests).
    """

    batch: int = 1000
    block_ms: int = 1000
    claim_idle_ms: int = 60_000
    claim_every_s: float = 10.0
    retry_s: float = 2.0
    fail_fast: bool = False

    def __post_init__(self) -> None:
        if self.batch < 1 or self.block_ms < 0 or self.claim_idle_ms < 0 or self.retry_s < 0:
            raise SkynetError("ingest: need batch >= 1 and block_ms, claim_idle_ms, retry_s >= 0")


@dataclass
class IngestStats:
    """What an ingester did."""

    #: events acknowledged (stored, or skipped)
    events: int = 0
    #: record kind -> records new to the store
    stored: Counter[str] = field(default_factory=Counter)
    #: records the store had already (a redelivery, or the same key sent twice)
    duplicates: int = 0
    #: why events stored nothing -> how many (malformed, key, future, device)
    skipped: Counter[str] = field(default_factory=Counter)
    #: records the store refused (left out, their events acknowledged)
    refused: int = 0
    #: store or live-store failures (the batch was retried)
    failures: int = 0
    #: pending events taken over from other ingesters
    claimed: int = 0
    batches: int = 0
    started: float = field(default_factory=time.time)
    #: the last failure, None once a batch is stored again
    failing: str | None = None

    def summary(self) -> dict[str, Any]:
        """The counts, JSON-friendly."""
        return {
            "events": self.events,
            "stored": dict(self.stored),
            "duplicates": self.duplicates,
            "skipped": dict(self.skipped),
            "refused": self.refused,
            "failures": self.failures,
            "claimed": self.claimed,
            "batches": self.batches,
            "seconds": round(time.time() - self.started, 3),
        }


def records_of(event: Any, at: datetime) -> list[Record]:
    """The records a parsed event carries, stamped ``at`` (none for ``device`` events)."""
    record = event.record(at)
    if record is None:
        return []
    out = [record]
    fields = event.fields
    if event.type == "reading" and "outdoor_temperature" in fields:  # as the worker reads it
        out.append(
            Weather(event.device_id, at, fields["outdoor_temperature"], fields.get("outdoor_humidity"))
        )
    return out


def _queued_at(entry: Entry) -> datetime | None:
    """When a Redis entry was queued (its id's milliseconds), naive UTC; None for other ids."""
    ms, dash, _ = entry.id.partition("-")
    if not dash or not ms.isdigit():
        return None
    return datetime.fromtimestamp(int(ms) / 1000.0, UTC).replace(tzinfo=None)


class Ingester:
    """Reads events as :data:`INGEST_GROUP` and writes their records (see the module docstring).

    Args:
        live: the live store (event streams).
        store: the record store (a routed one sends readings and weather to the time series).
        consumer: this ingester's name, unique among the ingesters of the live store.
        options: batching, take-over and retries.
        clock: the current time, naive UTC (for queues whose ids carry no time).
    """

    def __init__(
        self,
        live: LiveStore,
        store: RecordStore,
        consumer: str,
        options: IngestOptions | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.live, self.store, self.consumer = live, store, consumer
        self.options = options or IngestOptions()
        self.stats = IngestStats()
        self._clock = clock or (lambda: datetime.now(UTC).replace(tzinfo=None))
        self._stop = threading.Event()
        self._next_claim = 0.0
        #: since when the current batch has been written (None: no write under way)
        self.writing_since: float | None = None

    def stop(self) -> None:
        """Finish the current batch (a store failure: leave it pending), then stop."""
        self._stop.set()

    def facts(self) -> dict[str, Any]:
        """What the heartbeat says about this ingester."""
        return {
            "consumer": self.consumer,
            "group": INGEST_GROUP,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "time": datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
            **self.stats.summary(),
            "failing": self.stats.failing,
            "writing_s": None if self.writing_since is None else round(time.time() - self.writing_since, 1),
            "stopping": self._stop.is_set(),
        }

    # -- loops -----------------------------------------------------------------------------------

    def run(self, *, drain: bool = False, max_events: int | None = None) -> IngestStats:
        """Ingest until :meth:`stop` (or, with ``drain``, until no event is left to read; or
        once ``max_events`` events are acknowledged).

        Raises:
            StorageError: with ``fail_fast``, a store failed (the batch stays pending).
        """
        logger.info("ingester %s starting (pid %d): group %s, %d partitions",
                    self.consumer, os.getpid(), INGEST_GROUP, self.live.partitions)  # fmt: skip
        self._next_claim = 0.0
        joined = False
        while not self._stop.is_set():
            if max_events is not None and self.stats.events >= max_events:
                break
            left = None if max_events is None else max_events - self.stats.events
            try:
                if not joined:  # at start, and after a failure (the namespace may have been cleared)
                    self.live.join_group(INGEST_GROUP)
                    joined = True
                worked = self._pass(left, block=not drain)
            except StorageError as exc:
                if self.options.fail_fast:
                    raise
                self._failed(exc)
                joined = False
                continue
            if drain and not worked:
                break
        logger.info("ingester %s stopped: %s", self.consumer, self.stats.summary())
        return self.stats

    def _failed(self, exc: StorageError) -> None:
        self.stats.failures += 1
        self.stats.failing = str(exc)
        logger.error("ingester %s: %s; retrying in %.1f s", self.consumer, exc, self.options.retry_s)
        self._stop.wait(self.options.retry_s)

    def _pass(self, left: int | None, block: bool) -> bool:
        """Claim idle pending events when due, else read new ones; ingest them. Returns
        whether there were any."""
        count = self.options.batch if left is None else max(1, min(self.options.batch, left))
        entries: list[Entry] = []
        if time.monotonic() >= self._next_claim:
            self._next_claim = time.monotonic() + self.options.claim_every_s
            for partition in range(self.live.partitions):
                entries += self.live.claim_pending(self.consumer, partition, count - len(entries),
                                                   self.options.claim_idle_ms, group=INGEST_GROUP)  # fmt: skip
                if len(entries) >= count:
                    break
            if entries:
                self.stats.claimed += len(entries)
                logger.info("ingester %s took over %d pending events", self.consumer, len(entries))
        if not entries:
            block_ms = self.options.block_ms if block else 0
            each = -(-count // self.live.partitions)  # the count is per partition: about `count` in all
            entries = self.live.read_events(self.consumer, range(self.live.partitions), each, block_ms,
                                            group=INGEST_GROUP)  # fmt: skip
        if entries:
            self.ingest(entries)
        return bool(entries)

    # -- one batch -------------------------------------------------------------------------------

    def ingest(self, entries: Sequence[Entry]) -> None:
        """Write the records of a batch of entries, then acknowledge them.

        A store failure is retried after ``retry_s`` until it succeeds (or, with ``fail_fast``,
        raised); on :meth:`stop` during the retries the batch is left pending.
        """
        pairs, skipped, repeated = self._records(entries)
        self.writing_since = time.time()
        try:
            while True:
                try:
                    self._write(pairs)
                    break
                except StorageError as exc:
                    if self.options.fail_fast:
                        raise
                    self._failed(exc)
                    if self._stop.is_set():
                        logger.warning(
                            "ingester %s stopping: %d events left pending", self.consumer, len(entries)
                        )
                        return
        finally:
            self.writing_since = None
        by_partition: dict[int, list[str]] = {}
        for entry in entries:
            by_partition.setdefault(entry.partition, []).append(entry.id)
        for partition, ids in by_partition.items():
            self.live.ack(INGEST_GROUP, partition, ids)
        self.stats.events += len(entries)
        self.stats.skipped.update(skipped)
        self.stats.duplicates += repeated
        self.stats.batches += 1
        self.stats.failing = None

    def _records(self, entries: Sequence[Entry]) -> tuple[list[tuple[Entry, Record]], Counter[str], int]:
        """Each entry's records (the first of a key only), why the others carry none, and how
        many records repeated a key of the batch."""
        from skynet.worker import MAX_SKEW, parse_event

        pairs: list[tuple[Entry, Record]] = []
        skipped: Counter[str] = Counter()
        seen: set[tuple[str, str, datetime]] = set()
        repeated = 0
        for entry in entries:
            try:
                event = parse_event(entry.payload)
            except DataError:
                skipped["malformed"] += 1  # the workers dead-letter it, with the reason
                continue
            if event.device_id != entry.key:
                skipped["key"] += 1
                continue
            queued = _queued_at(entry)
            if event.time is not None and event.time - (queued or self._clock()) > MAX_SKEW:
                skipped["future"] += 1
                continue
            records = records_of(event, event.time or queued or self._clock())
            if not records:
                skipped[event.type] += 1
            for record in records:
                key = (record.kind, record.device_id, record.timestamp)  # type: ignore[attr-defined]
                if key in seen:
                    repeated += 1
                else:
                    seen.add(key)
                    pairs.append((entry, record))
        return pairs, skipped, repeated

    def _write(self, pairs: list[tuple[Entry, Record]]) -> None:
        """One write per record kind; a kind whose write the store refuses is written one by one."""
        kinds: dict[str, list[tuple[Entry, Record]]] = {}
        for pair in pairs:
            kinds.setdefault(pair[1].kind, []).append(pair)
        for kind, rows in kinds.items():
            refused = 0
            try:
                added = self.store.write([record for _, record in rows])
            except DataError:
                added, refused = self._one_by_one(rows)
            if added:
                self.stats.stored[kind] += added
            self.stats.refused += refused
            self.stats.duplicates += len(rows) - added - refused

    def _one_by_one(self, rows: list[tuple[Entry, Record]]) -> tuple[int, int]:
        """(new, refused) records, each written alone."""
        added = refused = 0
        for entry, record in rows:
            try:
                added += self.store.write([record])
            except DataError as exc:
                refused += 1
                logger.error("ingester %s: event %s/%s: the store refused its %s record: %s",
                             self.consumer, entry.partition, entry.id, record.kind, exc)  # fmt: skip
        return added, refused
