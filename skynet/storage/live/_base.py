"""The live store contract: device events in, per-device state, commands out, for the control worker.

The store knows nothing of what events mean: an event is a text payload (JSON, by the worker's
convention) with a *key*, the device it concerns. Events are split over a fixed number of
**partitions** by key (``crc32(key) % partitions``), each an ordered queue with at-least-once
delivery (a Redis stream and its consumer group). Ordering and fail-over rest on two rules:

- **one owner per partition**: a consumer reads a partition only while it holds the
  partition's *lease* (:meth:`LiveStore.acquire`, renewed well within its time to live); a
  consumer that dies stops renewing, and after the lease expires another consumer takes the
  partition over, first re-reading the entries the dead one had been given but not
  acknowledged (:meth:`LiveStore.claim_pending`, Redis's XAUTOCLAIM), then new ones;
- **fenced commits**: the result of processing a batch (device states, commands, dead
  letters, acknowledgements) is applied in one atomic step that first checks the lease is
  still the consumer's (:meth:`LiveStore.commit`), so a consumer that lost its partition
  while it was busy changes nothing.

A batch is therefore applied entirely or not at all, once, and in partition order: with the
worker's per-device idempotence that gives exactly-once effect over at-least-once delivery.
Consumers announce themselves with heartbeats; :meth:`LiveStore.members` lists the live ones,
from which each consumer derives the partitions it should own.

**Consumer groups.** The workers read the events as the group :data:`WORKERS`. Another reader
(the ingester, which writes events to the record store) joins a group of its own
(:meth:`LiveStore.join_group`) and reads *every* event too, at its own pace, without leases:
:meth:`LiveStore.ack` acknowledges its events once they are safely elsewhere. An event is
deleted from its partition only once every group has acknowledged it, so a group that falls
behind (a slow database) keeps the events it has not read yet and never slows the others.
"""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["LiveStore", "Entry", "DeadLetter", "DEFAULT_PARTITIONS", "WORKERS", "partition_of"]

#: Partitions of a new namespace: enough for 16 workers to share the load evenly.
DEFAULT_PARTITIONS = 16
#: The control workers' consumer group (every store has it; other groups join it on demand).
WORKERS = "workers"


def partition_of(key: str, partitions: int) -> int:
    """The partition of a key (a device id): stable across processes and machines."""
    return zlib.crc32(key.encode()) % partitions


@dataclass(frozen=True)
class Entry:
    """One event as delivered: its partition, queue id (ordered within the partition), payload
    and key (the device it was queued for).

    ``deliveries`` counts how often it has been handed out (above 1: redelivered).
    """

    partition: int
    id: str
    payload: str
    deliveries: int = 1
    key: str = ""


@dataclass(frozen=True)
class DeadLetter:
    """An event the worker could not use, with why; kept in the dead-letter stream."""

    id: str
    partition: int
    entry_id: str
    payload: str
    reason: str
    consumer: str


class LiveStore(ABC):
    """Events, per-device state and commands of the control worker, chosen by URL.

    Public methods raise :class:`~skynet.errors.StorageError` naming the adapter when the
    backend fails.
    """

    #: Short adapter name used in error messages, e.g. ``"live[redis]"``.
    name: str = "live"
    #: Number of event partitions (fixed for a namespace once events were written).
    partitions: int = DEFAULT_PARTITIONS

    def partition_of(self, key: str) -> int:
        return partition_of(key, self.partitions)

    # -- producers --------------------------------------------------------------------------

    @abstractmethod
    def append_events(self, items: Sequence[tuple[str, str]]) -> list[str]:
        """Queue events ``(key, payload)`` on their keys' partitions; return their queue ids
        (unique within a partition, not across partitions)."""

    # -- consumers --------------------------------------------------------------------------

    @abstractmethod
    def read_events(
        self, consumer: str, partitions: Iterable[int], count: int, block_ms: int = 0, *, group: str = WORKERS
    ) -> list[Entry]:
        """Hand out up to ``count`` new events of ``partitions`` to ``consumer`` of ``group``
        (oldest first per partition), waiting up to ``block_ms`` for one when there are none.
        They stay *pending* (redelivered on :meth:`claim_pending`) until a :meth:`commit` (or,
        for another group than :data:`WORKERS`, an :meth:`ack`) acknowledges them."""

    @abstractmethod
    def claim_pending(
        self, consumer: str, partition: int, count: int, min_idle_ms: int = 0, *, group: str = WORKERS
    ) -> list[Entry]:
        """Take over up to ``count`` pending events of a partition in ``group`` (any consumer's,
        idle for at least ``min_idle_ms``), oldest first; of the workers' group, only the
        partition's lease holder should call it."""

    @abstractmethod
    def commit(
        self,
        consumer: str,
        partition: int,
        *,
        states: Mapping[str, str] = {},  # noqa: B006 - never mutated
        commands: Sequence[tuple[str, str]] = (),
        acks: Sequence[str] = (),
        dead: Sequence[tuple[Entry, str]] = (),
        lease_ms: int | None = None,
    ) -> bool:
        """Apply a processed batch atomically if ``consumer`` still holds ``partition``'s lease.

        Args:
            consumer: the committing consumer.
            partition: the partition the batch came from.
            states: device id -> its new state (text).
            commands: ``(device id, payload)`` to append to the commands stream.
            acks: queue ids of the batch's entries, acknowledged (and removed from the queue
                once every other consumer group has acknowledged them too).
            dead: ``(entry, reason)`` to append to the dead-letter stream (ack them in ``acks``).
            lease_ms: also renew the lease for this long.

        Returns:
            Whether it was applied (False: the lease is someone else's; nothing changed).
        """

    @abstractmethod
    def pending(self, partition: int | None = None, *, group: str = WORKERS) -> int:
        """How many events were handed out to ``group`` and not acknowledged (in one partition,
        or in all)."""

    @abstractmethod
    def backlog(self, *, group: str = WORKERS) -> int:
        """How many events ``group`` has not acknowledged (new and pending), in all partitions."""

    # -- other consumer groups --------------------------------------------------------------------

    @abstractmethod
    def join_group(self, group: str) -> None:
        """Create consumer group ``group`` on every partition where it is missing: it will read
        every event queued from now on, and those still queued (not yet deleted) before."""

    @abstractmethod
    def ack(self, group: str, partition: int, ids: Sequence[str]) -> None:
        """Acknowledge events of a partition for ``group`` (not fenced: no lease is involved);
        delete those every other group has acknowledged too."""

    @abstractmethod
    def groups(self) -> dict[str, int]:
        """Every consumer group and its :meth:`backlog`."""

    @abstractmethod
    def drop_group(self, group: str) -> None:
        """Remove consumer group ``group`` (not :data:`WORKERS`): events no longer wait for it."""

    # -- device state -------------------------------------------------------------------------

    @abstractmethod
    def get_states(self, keys: Sequence[str]) -> dict[str, str | None]:
        """The state text of each device (None: none yet)."""

    @abstractmethod
    def put_states(self, states: Mapping[str, str]) -> None:
        """Set device states outside any commit (to restore a snapshot; never while workers run)."""

    @abstractmethod
    def all_states(self) -> dict[str, str]:
        """Every device's state (for snapshots and inspection)."""

    # -- partition leases and membership ---------------------------------------------------------

    @abstractmethod
    def acquire(self, consumer: str, partitions: Iterable[int], lease_ms: int) -> list[int]:
        """Take or renew the leases of ``partitions`` for ``lease_ms``; return those now held."""

    @abstractmethod
    def release(self, consumer: str, partitions: Iterable[int]) -> None:
        """Give up the leases of ``partitions`` that ``consumer`` holds."""

    @abstractmethod
    def owners(self) -> dict[int, str | None]:
        """The holder of each partition's lease (None: free)."""

    @abstractmethod
    def heartbeat(self, consumer: str, info: Mapping[str, Any], ttl_ms: int) -> None:
        """Say that ``consumer`` is alive for the next ``ttl_ms``, with some facts about it."""

    @abstractmethod
    def members(self) -> dict[str, dict[str, Any]]:
        """The live consumers and their last heartbeat (``info`` plus ``age_ms``)."""

    @abstractmethod
    def leave(self, consumer: str) -> None:
        """Remove a consumer's heartbeat (it stops)."""

    # -- outputs --------------------------------------------------------------------------------

    @abstractmethod
    def read_commands(self, after: str = "0", count: int = 1000) -> list[tuple[str, str, str]]:
        """Commands after queue id ``after``: ``(id, device id, payload)``, oldest first."""

    @abstractmethod
    def read_dead_letters(self, after: str = "0", count: int = 1000) -> list[DeadLetter]:
        """Dead letters after queue id ``after``, oldest first."""

    # -- the rest --------------------------------------------------------------------------------

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """The adapter, its (password-masked) URL, partitions and queue sizes."""

    @abstractmethod
    def clear(self) -> None:
        """Delete everything of this store's namespace (tests, resets)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> LiveStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
