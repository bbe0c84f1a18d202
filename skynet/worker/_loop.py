"""The control worker's loop: own some partitions, process their events in order, commit, repeat.

Every ``heartbeat_ms`` a worker writes its heartbeat, lists the live workers (sorted by name)
and wants the partitions ``p`` with ``workers[p % len(workers)] == itself``: it releases
those it no longer wants (between batches, so nothing is in flight) and takes or renews the
leases of the others. A partition it has just taken is *recovering*: before reading new
events there, it re-reads every pending one (XAUTOCLAIM) — the events a dead or departed
owner was given and never committed — oldest first, so a device's order is kept across the
hand-over. A worker that dies stops renewing; its heartbeat and leases expire after
``lease_ms`` and the others take its partitions over.

A pending event claimed before and still not committed (:data:`SUSPECT`) may be what killed
its workers, so it is re-read and committed *alone*: if it kills the worker again, only its own
delivery count grows, and past ``max_deliveries`` it alone is dead-lettered. The events behind
it are never charged for it (a whole batch is never dead-lettered for one poison pill).

Each batch of a partition is processed (:class:`~skynet.worker._process.Processor`), its
decision documents appended to the decision log (idempotent on ``decision_id``), then its
states, commands, dead letters and acknowledgements committed in one fenced step. A crash
anywhere before the commit leaves the events pending, and they are processed again by the
partition's next owner; the log ignores the decisions it already has.

:meth:`Worker.stop` (SIGTERM, SIGINT) lets the current batch finish and commit, then the worker
releases its leases and leaves, so the others take over at once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from skynet.errors import SkynetError
from skynet.storage.decisions import DecisionLog
from skynet.storage.live import Entry, LiveStore
from skynet.worker._models import ModelsProvider
from skynet.worker._process import Processor
from skynet.worker._state import DeviceState

__all__ = ["Worker", "WorkerOptions", "WorkerStats", "assigned_partitions", "SUSPECT"]

logger = logging.getLogger("skynet.worker")
#: Latencies kept for the statistics (the newest ones).
_KEPT = 200_000
#: Deliveries above which a pending event is re-read alone: read once, claimed once after its
#: reader died, and still pending, so a worker may have died on it twice.
SUSPECT = 2


@dataclass(frozen=True)
class WorkerOptions:
    """How a worker reads and how fast it notices others.

    Attributes:
        batch: events read per pass, spread over the partitions read (a recovering partition
            re-reads up to this many pending events at a time).
        block_ms: how long a read waits for new events.
        lease_ms: life of a partition lease and of a heartbeat; a dead worker's partitions
            move after this long.
        heartbeat_ms: how often the heartbeat and leases are renewed (well below ``lease_ms``).
        max_deliveries: an event delivered more often goes to the dead letters.
        retry_s: pause after a storage failure before trying again.
        cache_devices: device states kept in memory between batches (of partitions the worker
            holds; Redis stays the truth and is written at every commit).
    """

    batch: int = 256
    block_ms: int = 200
    lease_ms: int = 5000
    heartbeat_ms: int = 1000
    max_deliveries: int = 5
    retry_s: float = 1.0
    cache_devices: int = 50_000

    def __post_init__(self) -> None:
        if self.batch < 1 or self.block_ms < 0 or self.heartbeat_ms * 2 > self.lease_ms:
            raise SkynetError("worker: need batch >= 1, block_ms >= 0 and heartbeat_ms <= lease_ms / 2")


@dataclass
class WorkerStats:
    """What a worker did (``latencies``: seconds per decision; ``queue_latencies``: seconds from
    an event's queueing to its commit, where the queue says when)."""

    events: int = 0
    decisions: int = 0
    commands: int = 0
    dead: int = 0
    #: decisions a device fault prevented (its set-temperature range allows nothing)
    faults: int = 0
    duplicates: int = 0
    batches: int = 0
    lost_batches: int = 0
    failures: int = 0
    started: float = field(default_factory=time.time)
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=_KEPT))
    queue_latencies: deque[float] = field(default_factory=lambda: deque(maxlen=_KEPT))

    def summary(self) -> dict[str, Any]:
        """The counts and latency percentiles (ms), JSON-friendly."""
        out: dict[str, Any] = {k: getattr(self, k) for k in
                               ("events", "decisions", "commands", "dead", "faults", "duplicates", "batches",
                                "lost_batches", "failures")}  # fmt: skip
        out["seconds"] = round(time.time() - self.started, 3)
        for name, values in (("decision_ms", self.latencies), ("queue_ms", self.queue_latencies)):
            if values:
                ordered = sorted(values)
                for q in (50, 99):
                    out[f"{name}_p{q}"] = round(
                        ordered[min(len(ordered) - 1, len(ordered) * q // 100)] * 1000, 3
                    )
        return out


def assigned_partitions(consumer: str, members: list[str], partitions: int) -> set[int]:
    """The partitions ``consumer`` should own among ``members``: ``p`` where it is ``members[p % n]``."""
    ranked = sorted(set(members) | {consumer})
    return {p for p in range(partitions) if ranked[p % len(ranked)] == consumer}


class Worker:
    """A control worker (see the module docstring).

    Args:
        live: the live store (events, states, commands).
        log: the decision log.
        processor: applies events and decides.
        consumer: this worker's name, unique among the workers sharing the live store.
        options: batching and timing.
        heartbeat: called with the heartbeat facts at each heartbeat (e.g. to write a file).
        models: swaps in newer models between batches and names them in the heartbeat and the
            decision documents (:class:`~skynet.worker.ModelsProvider`); None: the processor's.
    """

    def __init__(
        self,
        live: LiveStore,
        log: DecisionLog,
        processor: Processor,
        consumer: str,
        options: WorkerOptions | None = None,
        heartbeat: Callable[[dict[str, Any]], None] | None = None,
        models: ModelsProvider | None = None,
    ) -> None:
        self.live, self.log, self.processor = live, log, processor
        self.models = models
        self.consumer = consumer
        self.options = options or WorkerOptions()
        self.stats = WorkerStats()
        self._on_heartbeat = heartbeat
        self._stop = threading.Event()
        self.held: set[int] = set()
        self._recovering: set[int] = set()
        self._next_beat = 0.0
        #: device -> (partition, state): the states this worker committed last (LRU)
        self._cache: OrderedDict[str, tuple[int, DeviceState]] = OrderedDict()

    def stop(self) -> None:
        """Finish the current batch, then leave (safe from a signal handler or another thread)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self, until: Callable[[], bool] | None = None) -> WorkerStats:
        """Process events until :meth:`stop` (or until ``until()`` is true after a pass).

        Returns:
            What the worker did.
        """
        from threadpoolctl import threadpool_limits

        logger.info("worker %s starting (pid %d)", self.consumer, os.getpid())
        self._next_beat = 0.0
        # one BLAS thread: the models' matrices are small, and on a busy machine threads that
        # wait for each other at every product make the slowest decisions several times slower
        limits = threadpool_limits(1, user_api="blas")
        try:
            while not self._stop.is_set():
                self._swap_models()
                self._guarded(self._beat_if_due)
                worked = self._guarded(self._recover) or False
                if not self._stop.is_set():
                    worked = bool(self._guarded(lambda w=worked: self._read(w))) or worked
                if until is not None and not worked and until():
                    break
        finally:
            limits.restore_original_limits()
            self._leave()
        logger.info("worker %s stopped: %s", self.consumer, self.stats.summary())
        return self.stats

    # -- one pass ----------------------------------------------------------------------------------

    def _swap_models(self) -> None:
        """Between batches: decide with the models provider's newer models, if it has some."""
        controller = self.models.take() if self.models is not None else None
        if controller is not None:
            self.processor.use(controller)

    def _guarded(self, step: Callable[[], Any]) -> Any:
        """Run a step; a storage failure is logged, its partitions re-read, and the loop goes on."""
        try:
            return step()
        except SkynetError as exc:
            self.stats.failures += 1
            logger.error("worker %s: %s; retrying in %.1f s", self.consumer, exc, self.options.retry_s)
            self._recovering |= self.held  # whatever was read and not committed is pending: re-read it
            self._cache.clear()  # states may have changed in memory and not in Redis
            self._stop.wait(self.options.retry_s)
            return None

    def _recover(self) -> bool:
        worked = False
        for partition in sorted(self._recovering):
            if self._stop.is_set():
                break
            # the oldest pending event first, alone: a suspect is committed before anything else
            # is claimed, so the events behind it are not charged a delivery for it
            entries = self.live.claim_pending(self.consumer, partition, 1)
            if entries and entries[0].deliveries > SUSPECT:
                logger.warning("worker %s: re-reading event %s/%s alone (delivered %d times)",
                               self.consumer, partition, entries[0].id, entries[0].deliveries)  # fmt: skip
                self._handle({partition: entries})
                worked = True
                continue
            if entries and self.options.batch > 1:
                entries = self.live.claim_pending(self.consumer, partition, self.options.batch)
            if entries:
                logger.info("worker %s: re-reading %d pending events of partition %d",
                            self.consumer, len(entries), partition)  # fmt: skip
                self._handle({partition: entries})
                worked = True
            if len(entries) < self.options.batch:
                self._recovering.discard(partition)
        return worked

    def _read(self, worked: bool) -> bool:
        readable = self.held - self._recovering
        if not readable:
            if not worked:
                self._stop.wait(self.options.block_ms / 1000.0)
            return False
        block = 0 if worked or self._recovering else self.options.block_ms
        each = -(-self.options.batch // len(readable))  # about `batch` events in all, per pass
        entries = self.live.read_events(self.consumer, readable, each, block)
        groups: dict[int, list[Entry]] = {}
        for entry in entries:
            groups.setdefault(entry.partition, []).append(entry)
        self._handle(groups)
        return bool(entries)

    def _states(self, partition: int, entries: list[Entry]) -> dict[str, Any]:
        """The batch's device states: this worker's own copies where it has them, else Redis's."""
        keys = list(dict.fromkeys(e.key for e in entries if e.key))
        found: dict[str, Any] = {}
        for key in keys:
            cached = self._cache.get(key)
            if cached is not None and cached[0] == partition:
                found[key] = cached[1]
                self._cache.move_to_end(key)
        missing = [key for key in keys if key not in found]
        if missing:
            found.update(self.live.get_states(missing))
        return found

    def _handle(self, groups: dict[int, list[Entry]]) -> None:
        """Process each partition's batch, log all their decisions at once, then commit each."""
        results = {}
        for partition, entries in sorted(groups.items()):
            if partition in self.held:  # else: they stay pending for the next owner
                results[partition] = self.processor.process(entries, self._states(partition, entries))
            self._beat_if_due()  # a slow pass must not let the leases lapse
        docs = [doc for result in results.values() for doc in result.docs]
        if docs:
            if self.models is not None:
                self.models.stamp(docs)
            self.log.append(docs)
        for partition, result in results.items():
            self._commit(partition, groups[partition], result)

    def _commit(self, partition: int, entries: list[Entry], result: Any) -> None:
        committed = self.live.commit(
            self.consumer,
            partition,
            states=result.states,
            commands=result.commands,
            acks=result.acks,
            dead=result.dead,
            lease_ms=self.options.lease_ms,
        )
        stats = self.stats
        if not committed:
            stats.lost_batches += 1
            self.held.discard(partition)
            self._recovering.discard(partition)
            self._forget({partition})
            logger.warning("worker %s lost partition %d: its batch of %d events is left to the new owner",
                           self.consumer, partition, len(entries))  # fmt: skip
            return
        for device, state in result.objects.items():
            self._cache[device] = (partition, state)
            self._cache.move_to_end(device)
        while len(self._cache) > self.options.cache_devices:
            self._cache.popitem(last=False)
        stats.batches += 1
        stats.events += len(entries)
        stats.decisions += len(result.docs)
        stats.commands += len(result.commands)
        stats.dead += len(result.dead)
        stats.faults += len(result.faults)
        stats.duplicates += result.duplicates
        stats.latencies.extend(result.latencies)
        now_ms = time.time() * 1000.0
        for entry in entries:
            queued = _queued_ms(entry.id)
            if queued is not None:
                stats.queue_latencies.append(max(now_ms - queued, 0.0) / 1000.0)
        for entry, reason in result.dead:
            logger.warning(
                "worker %s: event %s/%s dead-lettered: %s", self.consumer, partition, entry.id, reason
            )
        for device, reason in result.faults:
            logger.warning("worker %s: device %s fault, no command: %s", self.consumer, device, reason)

    def _forget(self, partitions: set[int]) -> None:
        """Drop the kept device states of partitions (taken, given up or failed: Redis has the truth)."""
        for device in [d for d, (p, _) in self._cache.items() if p in partitions]:
            del self._cache[device]

    # -- membership ----------------------------------------------------------------------------------

    def facts(self) -> dict[str, Any]:
        """What the heartbeat says about this worker."""
        return {
            "consumer": self.consumer,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "time": datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
            "partitions": sorted(self.held),
            "events": self.stats.events,
            "decisions": self.stats.decisions,
            "stopping": self._stop.is_set(),
            **(self.models.facts() if self.models is not None else {}),
        }

    def _beat_if_due(self) -> None:
        if time.monotonic() >= self._next_beat:
            self._maintain()
            self._next_beat = time.monotonic() + self.options.heartbeat_ms / 1000.0

    def _maintain(self) -> None:
        live, me, lease = self.live, self.consumer, self.options.lease_ms
        live.heartbeat(me, self.facts(), lease)
        wanted = assigned_partitions(me, list(live.members()), live.partitions)
        leaving = self.held - wanted
        if leaving:
            self._forget(leaving)
            live.release(me, leaving)
            self.held -= leaving
            self._recovering -= leaving
        held = set(live.acquire(me, wanted, lease))
        taken = held - self.held
        self._forget(taken | (self.held - held))
        if taken:
            logger.info("worker %s took partitions %s", me, sorted(taken))
        self._recovering = (self._recovering & held) | taken
        self.held = held
        if self._on_heartbeat is not None:
            self._on_heartbeat(self.facts())

    def _leave(self) -> None:
        try:
            self.live.release(self.consumer, self.held)
            self.live.leave(self.consumer)
        except SkynetError as exc:
            logger.warning("worker %s could not leave cleanly: %s", self.consumer, exc)
        self.held = set()
        if self._on_heartbeat is not None:
            self._on_heartbeat({**self.facts(), "stopped": True})


def _queued_ms(entry_id: str) -> float | None:
    ms, dash, _ = entry_id.partition("-")
    return float(ms) if dash and ms.isdigit() else None
