"""The live store in this process (``memory://``): what ``skynet control worker --embedded`` runs on.

The same semantics as the Redis store, kept in dicts under one lock: per-partition queues with
pending entries, leases with expiry, fenced commits, heartbeats. Stores opened on the same URL
in one process share everything (``memory://demo`` twice is one store); a reader waiting for
events wakes up as soon as one is appended.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from skynet.errors import StorageError
from skynet.storage.live._base import DEFAULT_PARTITIONS, WORKERS, DeadLetter, Entry, LiveStore

__all__ = ["MemoryLiveStore"]


def _now_ms() -> int:
    return time.monotonic_ns() // 1_000_000


@dataclass
class _Pending:
    consumer: str
    delivered_ms: int
    deliveries: int


@dataclass
class _Group:
    #: ids handed out and not acknowledged
    pending: dict[str, _Pending] = field(default_factory=dict)
    #: the newest id handed out
    delivered: int = 0

    def done_with(self, entry_id: str) -> bool:
        """Whether the group has read and acknowledged the entry."""
        return int(entry_id) <= self.delivered and entry_id not in self.pending


@dataclass
class _Partition:
    #: queue id -> (device, payload), in id order (ids are increasing integers as text)
    entries: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: consumer groups by name
    groups: dict[str, _Group] = field(default_factory=lambda: {WORKERS: _Group()})
    lease: tuple[str, int] | None = None  # (owner, expiry ms)

    def group(self, name: str) -> _Group:
        try:
            return self.groups[name]
        except KeyError:
            raise StorageError(MemoryLiveStore.name, f"no consumer group {name!r} (join it first)") from None

    def ack(self, name: str, ids: Sequence[str]) -> None:
        """Acknowledge ids for a group; delete those every group is done with."""
        group = self.group(name)
        for entry_id in ids:
            group.pending.pop(entry_id, None)
            if all(g.done_with(entry_id) for g in self.groups.values()):
                self.entries.pop(entry_id, None)


@dataclass
class _Space:
    partitions: list[_Partition]
    states: dict[str, str] = field(default_factory=dict)
    commands: list[tuple[str, str, str]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    members: dict[str, tuple[dict[str, Any], int]] = field(default_factory=dict)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    changed: threading.Condition = field(default_factory=lambda: threading.Condition(threading.RLock()))


_SPACES: dict[str, _Space] = {}
_SPACES_LOCK = threading.Lock()


class MemoryLiveStore(LiveStore):
    """The live store kept in this process's memory (nothing survives the process).

    Args:
        url: ``memory://`` or ``memory://<name>``; stores with the same URL share everything.
        partitions: partitions of a new store (default 16; an existing one keeps its own).
    """

    name = "live[memory]"

    def __init__(self, url: str = "memory://", partitions: int | None = None) -> None:
        self.url = url
        with _SPACES_LOCK:
            space = _SPACES.get(url)
            if space is None:
                count = partitions or DEFAULT_PARTITIONS
                space = _SPACES[url] = _Space([_Partition() for _ in range(count)])
        if partitions is not None and partitions != len(space.partitions):
            raise StorageError(self.name, f"{url} has {len(space.partitions)} partitions, not {partitions}")
        self._space = space
        self._lock = space.changed
        self.partitions = len(space.partitions)

    def __repr__(self) -> str:
        return f"MemoryLiveStore({self.url!r})"

    def _next_id(self) -> str:
        return str(next(self._space.ids))

    # -- producers --------------------------------------------------------------------------

    def append_events(self, items: Sequence[tuple[str, str]]) -> list[str]:
        ids = []
        with self._lock:
            for key, payload in items:
                entry_id = self._next_id()
                self._space.partitions[self.partition_of(key)].entries[entry_id] = (key, payload)
                ids.append(entry_id)
            self._lock.notify_all()
        return ids

    # -- consumers --------------------------------------------------------------------------

    def _take_new(self, consumer: str, chosen: list[int], count: int, name: str) -> list[Entry]:
        out = []
        now = _now_ms()
        for p in chosen:
            part = self._space.partitions[p]
            group = part.group(name)
            fresh = [i for i in part.entries if int(i) > group.delivered][:count]
            for entry_id in fresh:
                group.pending[entry_id] = _Pending(consumer, now, 1)
                key, payload = part.entries[entry_id]
                out.append(Entry(p, entry_id, payload, 1, key))
            if fresh:
                group.delivered = int(fresh[-1])
        return out

    def read_events(
        self, consumer: str, partitions: Iterable[int], count: int, block_ms: int = 0, *, group: str = WORKERS
    ) -> list[Entry]:
        chosen = sorted(set(partitions))
        deadline = time.monotonic() + block_ms / 1000.0
        with self._lock:
            while True:
                out = self._take_new(consumer, chosen, count, group)
                left = deadline - time.monotonic()
                if out or not chosen or left <= 0:
                    return out
                self._lock.wait(left)

    def claim_pending(
        self, consumer: str, partition: int, count: int, min_idle_ms: int = 0, *, group: str = WORKERS
    ) -> list[Entry]:
        now = _now_ms()
        out = []
        with self._lock:
            part = self._space.partitions[partition]
            waiting = part.group(group).pending
            for entry_id in sorted(waiting, key=int):
                pending = waiting[entry_id]
                if now - pending.delivered_ms < min_idle_ms:
                    continue
                if entry_id not in part.entries:  # deleted meanwhile: forget it, like XAUTOCLAIM
                    del waiting[entry_id]
                    continue
                waiting[entry_id] = _Pending(consumer, now, pending.deliveries + 1)
                key, payload = part.entries[entry_id]
                out.append(Entry(partition, entry_id, payload, pending.deliveries + 1, key))
                if len(out) >= count:
                    break
        return out

    def _holds(self, part: _Partition, consumer: str) -> bool:
        return part.lease is not None and part.lease[0] == consumer and part.lease[1] > _now_ms()

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
        with self._lock:
            part = self._space.partitions[partition]
            if not self._holds(part, consumer):
                return False
            if lease_ms:
                part.lease = (consumer, _now_ms() + lease_ms)
            self._space.states.update(states)
            for device, payload in commands:
                self._space.commands.append((self._next_id(), device, payload))
            part.ack(WORKERS, acks)
            for entry, reason in dead:
                letter = DeadLetter(self._next_id(), partition, entry.id, entry.payload, reason, consumer)
                self._space.dead.append(letter)
            self._lock.notify_all()
        return True

    def pending(self, partition: int | None = None, *, group: str = WORKERS) -> int:
        chosen = range(self.partitions) if partition is None else [partition]
        with self._lock:
            return sum(len(self._space.partitions[p].group(group).pending) for p in chosen)

    def backlog(self, *, group: str = WORKERS) -> int:
        with self._lock:
            total = 0
            for part in self._space.partitions:
                g = part.group(group)
                total += len(g.pending) + sum(1 for i in part.entries if int(i) > g.delivered)
            return total

    # -- other consumer groups --------------------------------------------------------------------

    def join_group(self, group: str) -> None:
        with self._lock:
            for part in self._space.partitions:
                part.groups.setdefault(group, _Group())

    def ack(self, group: str, partition: int, ids: Sequence[str]) -> None:
        with self._lock:
            self._space.partitions[partition].ack(group, ids)
            self._lock.notify_all()

    def groups(self) -> dict[str, int]:
        with self._lock:
            return {name: self.backlog(group=name) for name in self._space.partitions[0].groups}

    def drop_group(self, group: str) -> None:
        if group == WORKERS:
            raise StorageError(self.name, f"the workers' group {WORKERS!r} cannot be dropped")
        with self._lock:
            for part in self._space.partitions:
                part.groups.pop(group, None)
                for entry_id in [
                    i for i in part.entries if all(g.done_with(i) for g in part.groups.values())
                ]:
                    del part.entries[entry_id]

    # -- device state -------------------------------------------------------------------------

    def get_states(self, keys: Sequence[str]) -> dict[str, str | None]:
        with self._lock:
            return {key: self._space.states.get(key) for key in keys}

    def put_states(self, states: Mapping[str, str]) -> None:
        with self._lock:
            self._space.states.update(states)

    def all_states(self) -> dict[str, str]:
        with self._lock:
            return dict(self._space.states)

    # -- partition leases and membership ---------------------------------------------------------

    def acquire(self, consumer: str, partitions: Iterable[int], lease_ms: int) -> list[int]:
        held = []
        now = _now_ms()
        with self._lock:
            for p in sorted(set(partitions)):
                part = self._space.partitions[p]
                if part.lease is None or part.lease[1] <= now or part.lease[0] == consumer:
                    part.lease = (consumer, now + lease_ms)
                    held.append(p)
        return held

    def release(self, consumer: str, partitions: Iterable[int]) -> None:
        with self._lock:
            for p in set(partitions):
                part = self._space.partitions[p]
                if part.lease is not None and part.lease[0] == consumer:
                    part.lease = None

    def owners(self) -> dict[int, str | None]:
        now = _now_ms()
        with self._lock:
            return {
                p: part.lease[0] if part.lease is not None and part.lease[1] > now else None
                for p, part in enumerate(self._space.partitions)
            }

    def heartbeat(self, consumer: str, info: Mapping[str, Any], ttl_ms: int) -> None:
        with self._lock:
            self._space.members[consumer] = (dict(info), _now_ms() + ttl_ms)

    def members(self) -> dict[str, dict[str, Any]]:
        now = _now_ms()
        with self._lock:
            return {
                consumer: {**info, "expires_in_ms": expiry - now}
                for consumer, (info, expiry) in self._space.members.items()
                if expiry >= now
            }

    def leave(self, consumer: str) -> None:
        with self._lock:
            self._space.members.pop(consumer, None)

    # -- outputs --------------------------------------------------------------------------------

    def read_commands(self, after: str = "0", count: int = 1000) -> list[tuple[str, str, str]]:
        with self._lock:
            return [c for c in self._space.commands if int(c[0]) > int(after)][:count]

    def read_dead_letters(self, after: str = "0", count: int = 1000) -> list[DeadLetter]:
        with self._lock:
            return [d for d in self._space.dead if int(d.id) > int(after)][:count]

    # -- the rest --------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "adapter": self.name,
                "url": self.url,
                "namespace": None,
                "partitions": self.partitions,
                "queued_events": self.backlog(),
                "pending_events": self.pending(),
                "groups": self.groups(),
                "commands": len(self._space.commands),
                "dead_letters": len(self._space.dead),
                "devices": len(self._space.states),
                "members": sorted(self.members()),
            }

    def clear(self) -> None:
        with self._lock:
            fresh = _Space([_Partition() for _ in range(self.partitions)])
            self._space.partitions = fresh.partitions
            self._space.states.clear()
            self._space.commands.clear()
            self._space.dead.clear()
            self._space.members.clear()
