"""The live store in Redis (``redis://`` / ``rediss://``): streams, consumer groups, Lua commits.

Keys of a namespace ``ns`` (``skynet`` by default; ``?namespace=`` in the URL):

=====================  ===========================================================
``ns:meta``            hash: ``partitions`` (fixed when the namespace is first used)
``ns:events:<p>``      stream per partition, consumer group ``workers`` (and any other
                       group that joined, e.g. ``ingest``); entries ``k`` (device) and
                       ``e`` (payload); deleted once every group has acknowledged them
``ns:lease:<p>``       the consumer owning partition ``p`` (expires: PX)
``ns:state``           hash: device -> state text
``ns:commands``        stream: ``d`` (device), ``c`` (payload); capped (MAXLEN ~)
``ns:dead``            stream: ``p``, ``id``, ``e``, ``reason``, ``consumer``; capped
``ns:members``         hash: consumer -> heartbeat JSON; ``ns:seen``: consumer -> expiry (ms)
=====================  ===========================================================

Commits and lease changes are Lua scripts, so each is atomic and fenced by the lease; times
of heartbeats come from the server's clock (``TIME``), so consumers on several hosts agree.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from skynet.config import masked
from skynet.errors import StorageError
from skynet.storage._base import TIMEOUTS
from skynet.storage.live._base import DEFAULT_PARTITIONS, WORKERS, DeadLetter, Entry, LiveStore

__all__ = ["RedisLiveStore"]

GROUP = WORKERS
#: Approximate cap of the commands and dead-letter streams (their readers are elsewhere).
OUTPUT_MAXLEN = 1_000_000

#: Lua: acknowledge ``ids`` of ``stream`` for ``group``, then delete those every other group
#: has acknowledged too (delivered to it, i.e. at or before its last-delivered id, and no
#: longer pending there). Whichever group acknowledges an event last deletes it.
_ACK_AND_DELETE = """
local function before_or_at(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am < bm or (am == bm and as <= bs)
end
local function ack_and_delete(stream, group, ids)
  if #ids == 0 then return end
  redis.call('XACK', stream, group, unpack(ids))
  local others = {}
  for _, info in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    local g = {}
    for k = 1, #info, 2 do g[info[k]] = info[k + 1] end
    if g['name'] ~= group then others[#others + 1] = g end
  end
  local done = {}
  for _, id in ipairs(ids) do
    local free = true
    for _, g in ipairs(others) do
      if not before_or_at(id, g['last-delivered-id'])
         or (tonumber(g['pending']) > 0 and #redis.call('XPENDING', stream, g['name'], id, id, 1) > 0) then
        free = false; break
      end
    end
    if free then done[#done + 1] = id end
  end
  if #done > 0 then redis.call('XDEL', stream, unpack(done)) end
end
"""

_COMMIT = _ACK_AND_DELETE + """
-- KEYS: lease, state, events, commands, dead
-- ARGV: consumer, group, lease_ms, maxlen, partition, n_states, n_commands, n_acks, n_dead, items...
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
local i = 10
for _ = 1, tonumber(ARGV[6]) do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]); i = i + 2
end
for _ = 1, tonumber(ARGV[7]) do
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], '*', 'd', ARGV[i], 'c', ARGV[i + 1]); i = i + 2
end
local n = tonumber(ARGV[8])
while n > 0 do
  local ids = {}
  for k = 1, math.min(n, 500) do ids[k] = ARGV[i]; i = i + 1 end
  ack_and_delete(KEYS[3], ARGV[2], ids)
  n = n - #ids
end
for _ = 1, tonumber(ARGV[9]) do
  redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[4], '*', 'p', ARGV[5], 'id', ARGV[i], 'e', ARGV[i + 1],
             'reason', ARGV[i + 2], 'consumer', ARGV[1]); i = i + 3
end
return 1
"""

_ACK = _ACK_AND_DELETE + """
-- KEYS: events; ARGV: group, ids...
local ids = {}
for k = 2, #ARGV do
  ids[#ids + 1] = ARGV[k]
  if #ids == 500 then ack_and_delete(KEYS[1], ARGV[1], ids); ids = {} end
end
ack_and_delete(KEYS[1], ARGV[1], ids)
return 1
"""

_ACQUIRE = """
-- KEYS: leases; ARGV: consumer, lease_ms. Returns 1/0 per lease.
local held = {}
for k, key in ipairs(KEYS) do
  local owner = redis.call('GET', key)
  if owner == false then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2]); held[k] = 1
  elseif owner == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2]); held[k] = 1
  else
    held[k] = 0
  end
end
return held
"""

_RELEASE = """
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return 1
"""

_HEARTBEAT = """
-- KEYS: members, seen; ARGV: consumer, info, ttl_ms
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], now + tonumber(ARGV[3]))
return now
"""


def _split_url(url: str) -> tuple[str, dict[str, str]]:
    """The URL without skynet's own query options, and those options."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    ours = {k: v for k, v in query if k in ("namespace", "partitions")}
    rest = urlencode([(k, v) for k, v in query if k not in ours])
    return urlunsplit(parts._replace(query=rest)), ours


class RedisLiveStore(LiveStore):
    """The live store in a Redis server (6.2 or newer: XAUTOCLAIM).

    Args:
        url: ``redis://[:password@]host:port/db`` with optional ``?namespace=NAME`` (key
            prefix, default ``skynet``) and ``?partitions=N`` (for a new namespace), and
            redis-py's ``?socket_connect_timeout=S&socket_timeout=S`` (defaults:
            :data:`~skynet.storage._base.TIMEOUTS`; a blocking read waits at most half of
            ``socket_timeout``).
        namespace: key prefix (overrides the URL's).
        partitions: event partitions of a new namespace (default 16); an existing namespace
            keeps its own, and asking for another number is an error.

    Raises:
        StorageError: redis-py is missing, the server cannot be reached, or the partitions
            differ from the namespace's.
    """

    name = "live[redis]"

    def __init__(self, url: str, namespace: str | None = None, partitions: int | None = None) -> None:
        try:
            import redis
        except ImportError as exc:
            raise StorageError(self.name, f"driver missing: {exc} (pip install 'skynet[redis]')") from None
        self.url = url
        self._errors = redis.exceptions
        client_url, ours = _split_url(url)
        self.namespace = namespace or ours.get("namespace") or "skynet"
        asked = partitions if partitions is not None else ours.get("partitions")
        with self._guard(f"connecting to {masked(url)}"):
            try:  # the URL's own socket_connect_timeout / socket_timeout win over these
                # surrogateescape: bytes a producer wrote that are not UTF-8 reach the worker (which
                # dead-letters them, bytes intact) instead of failing every read of their stream
                self._client = redis.Redis.from_url(
                    client_url,
                    decode_responses=True,
                    encoding_errors="surrogateescape",
                    socket_connect_timeout=TIMEOUTS.connect,
                    socket_timeout=TIMEOUTS.read,
                )
            except ValueError as exc:  # e.g. ?socket_timeout=abc
                raise StorageError(self.name, f"bad URL {masked(url)!r}: {exc}") from None
            timeout = self._client.connection_pool.connection_kwargs.get("socket_timeout")
            # a blocking XREADGROUP must answer before the socket times out
            self._max_block_ms = None if not timeout else max(1, int(timeout * 500))
            self._commit = self._client.register_script(_COMMIT)
            self._ack = self._client.register_script(_ACK)
            self._acquire = self._client.register_script(_ACQUIRE)
            self._release = self._client.register_script(_RELEASE)
            self._heartbeat = self._client.register_script(_HEARTBEAT)
            self.partitions = self._init_partitions(None if asked is None else int(asked))
            self._create_groups()

    def __repr__(self) -> str:
        return f"RedisLiveStore({masked(self.url)!r}, namespace={self.namespace!r})"

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """Turn redis-py errors into a one-line StorageError naming the adapter."""
        try:
            yield
        except self._errors.RedisError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if isinstance(exc, self._errors.TimeoutError):
                reason += " (the URL can set the timeouts: ?socket_connect_timeout=S&socket_timeout=S)"
            raise StorageError(self.name, f"{what} failed: {reason}") from exc

    def _key(self, *parts: object) -> str:
        return ":".join([self.namespace, *map(str, parts)])

    def _events(self, partition: int) -> str:
        return self._key("events", partition)

    def _init_partitions(self, asked: int | None) -> int:
        meta = self._key("meta")
        if asked is not None and asked < 1:
            raise StorageError(self.name, f"partitions must be >= 1, got {asked}")
        self._client.hsetnx(meta, "partitions", asked or DEFAULT_PARTITIONS)
        stored = int(self._client.hget(meta, "partitions"))
        if asked is not None and asked != stored:
            raise StorageError(
                self.name, f"namespace {self.namespace!r} has {stored} partitions, not {asked} as asked"
            )
        return stored

    def _create_groups(self, group: str = GROUP) -> None:
        for p in range(self.partitions):
            try:
                self._client.xgroup_create(self._events(p), group, id="0", mkstream=True)
            except self._errors.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    # -- producers --------------------------------------------------------------------------

    def append_events(self, items: Sequence[tuple[str, str]]) -> list[str]:
        with self._guard("appending events"):
            pipe = self._client.pipeline(transaction=False)
            for key, payload in items:
                pipe.xadd(self._events(self.partition_of(key)), {"k": key, "e": payload})
            return list(pipe.execute())

    # -- consumers --------------------------------------------------------------------------

    def read_events(
        self, consumer: str, partitions: Iterable[int], count: int, block_ms: int = 0, *, group: str = GROUP
    ) -> list[Entry]:
        chosen = sorted(set(partitions))
        if not chosen:
            return []
        streams = {self._events(p): ">" for p in chosen}
        with self._guard("reading events"):
            if block_ms > 0 and self._max_block_ms is not None:
                block_ms = min(block_ms, self._max_block_ms)
            reply = self._client.xreadgroup(
                group, consumer, streams, count=count, block=block_ms if block_ms > 0 else None
            )
        index = {self._events(p): p for p in chosen}
        return [
            Entry(index[stream], entry_id, fields.get("e", ""), 1, fields.get("k", ""))
            for stream, entries in (reply or [])
            for entry_id, fields in entries
        ]

    def claim_pending(
        self, consumer: str, partition: int, count: int, min_idle_ms: int = 0, *, group: str = GROUP
    ) -> list[Entry]:
        stream = self._events(partition)
        claimed: list[tuple[str, dict[str, str]]] = []
        start = "0-0"
        with self._guard("claiming pending events"):
            while len(claimed) < count:
                start, entries, *_ = self._client.xautoclaim(
                    stream, group, consumer, min_idle_ms, start_id=start, count=count - len(claimed)
                )
                claimed += [(entry_id, fields) for entry_id, fields in entries if fields is not None]
                if start == "0-0":
                    break
            if not claimed:
                return []
            claimed.sort(key=lambda item: _order(item[0]))
            details = self._client.xpending_range(
                stream,
                group,
                min=claimed[0][0],
                max=claimed[-1][0],
                count=len(claimed),
                consumername=consumer,
            )
        deliveries = {d["message_id"]: int(d["times_delivered"]) for d in details}
        return [
            Entry(partition, entry_id, fields.get("e", ""), deliveries.get(entry_id, 2), fields.get("k", ""))
            for entry_id, fields in claimed
        ]

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
        keys = [
            self._key("lease", partition),
            self._key("state"),
            self._events(partition),
            self._key("commands"),
            self._key("dead"),
        ]
        args: list[Any] = [consumer, GROUP, lease_ms or 0, OUTPUT_MAXLEN, partition]
        args += [len(states), len(commands), len(acks), len(dead)]
        for device, text in states.items():
            args += [device, text]
        for device, payload in commands:
            args += [device, payload]
        args += list(acks)
        for entry, reason in dead:
            args += [entry.id, entry.payload, reason]
        with self._guard("committing a batch"):
            return bool(self._commit(keys=keys, args=args))

    def pending(self, partition: int | None = None, *, group: str = GROUP) -> int:
        chosen = range(self.partitions) if partition is None else [partition]
        with self._guard("counting pending events"):
            pipe = self._client.pipeline(transaction=False)
            for p in chosen:
                pipe.xpending(self._events(p), group)
            return sum(int(summary["pending"]) for summary in pipe.execute())

    def backlog(self, *, group: str = GROUP) -> int:
        return self.groups().get(group, 0)

    # -- other consumer groups --------------------------------------------------------------------

    def join_group(self, group: str) -> None:
        with self._guard(f"joining consumer group {group!r}"):
            self._create_groups(group)

    def ack(self, group: str, partition: int, ids: Sequence[str]) -> None:
        if ids:
            with self._guard("acknowledging events"):
                self._ack(keys=[self._events(partition)], args=[group, *ids])

    def groups(self) -> dict[str, int]:
        """Every group's backlog: its pending events plus its *lag* (those not yet read), or,
        where Redis cannot tell the lag, every event after its last-delivered id counted."""
        with self._guard("counting queued events"):
            pipe = self._client.pipeline(transaction=False)
            for p in range(self.partitions):
                pipe.xinfo_groups(self._events(p))
            out: dict[str, int] = {}
            for p, infos in enumerate(pipe.execute()):
                for info in infos:
                    lag = info.get("lag")
                    if lag is None:  # tombstones after its position: count what is left to read
                        lag = len(self._client.xrange(self._events(p), min=_after(info["last-delivered-id"])))
                    out[info["name"]] = out.get(info["name"], 0) + int(info["pending"]) + int(lag)
        return out

    def drop_group(self, group: str) -> None:
        if group == GROUP:
            raise StorageError(self.name, f"the workers' group {GROUP!r} cannot be dropped")
        with self._guard(f"dropping consumer group {group!r}"):
            for p in range(self.partitions):
                self._client.xgroup_destroy(self._events(p), group)
            # what only it kept is acknowledged by everyone now: delete it (from the oldest on)
            for p in range(self.partitions):
                self._client.xtrim(self._events(p), minid=self._oldest_needed(p), approximate=False)

    def _oldest_needed(self, partition: int) -> str:
        """The oldest event id of a partition some group still needs (pending, or not yet read)."""
        stream, needed = self._events(partition), []
        for info in self._client.xinfo_groups(stream):
            summary = self._client.xpending(stream, info["name"])
            if int(summary["pending"]):
                needed.append(summary["min"])
            else:
                ms, seq = _order(info["last-delivered-id"])
                needed.append(f"{ms}-{seq + 1}")
        return min(needed, key=_order) if needed else "0-0"  # no group left: trim nothing

    # -- device state -------------------------------------------------------------------------

    def get_states(self, keys: Sequence[str]) -> dict[str, str | None]:
        if not keys:
            return {}
        with self._guard("reading device states"):
            values = self._client.hmget(self._key("state"), list(keys))
        return dict(zip(keys, values, strict=True))

    def put_states(self, states: Mapping[str, str]) -> None:
        if states:
            with self._guard("writing device states"):
                self._client.hset(self._key("state"), mapping=dict(states))

    def all_states(self) -> dict[str, str]:
        with self._guard("reading device states"):
            return dict(self._client.hscan_iter(self._key("state"), count=1000))

    # -- partition leases and membership ---------------------------------------------------------

    def acquire(self, consumer: str, partitions: Iterable[int], lease_ms: int) -> list[int]:
        chosen = sorted(set(partitions))
        if not chosen:
            return []
        with self._guard("acquiring partition leases"):
            held = self._acquire(keys=[self._key("lease", p) for p in chosen], args=[consumer, lease_ms])
        return [p for p, ok in zip(chosen, held, strict=True) if ok]

    def release(self, consumer: str, partitions: Iterable[int]) -> None:
        keys = [self._key("lease", p) for p in sorted(set(partitions))]
        if keys:
            with self._guard("releasing partition leases"):
                self._release(keys=keys, args=[consumer])

    def owners(self) -> dict[int, str | None]:
        with self._guard("reading partition leases"):
            values = self._client.mget([self._key("lease", p) for p in range(self.partitions)])
        return dict(enumerate(values))

    def heartbeat(self, consumer: str, info: Mapping[str, Any], ttl_ms: int) -> None:
        with self._guard("writing a heartbeat"):
            self._heartbeat(
                keys=[self._key("members"), self._key("seen")],
                args=[consumer, json.dumps(dict(info), default=str), ttl_ms],
            )

    def members(self) -> dict[str, dict[str, Any]]:
        with self._guard("reading members"):
            pipe = self._client.pipeline(transaction=False)
            pipe.time()
            pipe.hgetall(self._key("seen"))
            pipe.hgetall(self._key("members"))
            (seconds, micros), seen, infos = pipe.execute()
            now = seconds * 1000 + micros // 1000
            gone = [c for c, expiry in seen.items() if int(expiry) < now - 3_600_000]
            if gone:  # forget consumers dead for an hour
                self._client.hdel(self._key("seen"), *gone)
                self._client.hdel(self._key("members"), *gone)
        live = {}
        for consumer, expiry in seen.items():
            if int(expiry) >= now and consumer in infos:
                info = json.loads(infos[consumer])
                info["expires_in_ms"] = int(expiry) - now
                live[consumer] = info
        return live

    def leave(self, consumer: str) -> None:
        with self._guard("removing a heartbeat"):
            self._client.hdel(self._key("seen"), consumer)
            self._client.hdel(self._key("members"), consumer)

    # -- outputs --------------------------------------------------------------------------------

    def read_commands(self, after: str = "0", count: int = 1000) -> list[tuple[str, str, str]]:
        with self._guard("reading commands"):
            entries = self._client.xrange(self._key("commands"), min=_after(after), count=count)
        return [(entry_id, f["d"], f["c"]) for entry_id, f in entries]

    def read_dead_letters(self, after: str = "0", count: int = 1000) -> list[DeadLetter]:
        with self._guard("reading dead letters"):
            entries = self._client.xrange(self._key("dead"), min=_after(after), count=count)
        return [
            DeadLetter(entry_id, int(f["p"]), f["id"], f["e"], f["reason"], f["consumer"])
            for entry_id, f in entries
        ]

    # -- the rest --------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        with self._guard("describing"):
            pipe = self._client.pipeline(transaction=False)
            pipe.xlen(self._key("commands"))
            pipe.xlen(self._key("dead"))
            pipe.hlen(self._key("state"))
            commands, dead, states = pipe.execute()
        return {
            "adapter": self.name,
            "url": masked(self.url),
            "namespace": self.namespace,
            "partitions": self.partitions,
            "queued_events": self.backlog(),
            "pending_events": self.pending(),
            "groups": self.groups(),
            "commands": commands,
            "dead_letters": dead,
            "devices": states,
            "members": sorted(self.members()),
        }

    def clear(self) -> None:
        with self._guard("clearing the namespace"):
            keys = list(self._client.scan_iter(match=f"{self.namespace}:*", count=1000))
            for lo in range(0, len(keys), 500):
                self._client.delete(*keys[lo : lo + 500])
            self.partitions = self._init_partitions(self.partitions)
            self._create_groups()

    def close(self) -> None:
        self._client.close()


def _order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _after(entry_id: str) -> str:
    """XRANGE's exclusive lower bound (``(id``), or everything for ``0``."""
    return "-" if entry_id in ("0", "0-0", "-") else f"({entry_id}"
