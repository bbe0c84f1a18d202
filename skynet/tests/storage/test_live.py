"""The live store contract, run over the in-process store and a real Redis server."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from skynet.errors import StorageError
from skynet.storage.live import live_store_schemes, open_live_store, partition_of

PARTITIONS = 4


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
def live_url(request):
    if request.param == "memory":
        return f"memory://live-{uuid.uuid4().hex}"
    return request.getfixturevalue("redis_url")


@pytest.fixture
def live(live_url):
    with open_live_store(live_url, partitions=PARTITIONS) as store:
        yield store


def devices_in(partition: int, n: int) -> list[str]:
    """``n`` device ids that fall in ``partition``."""
    out, i = [], 0
    while len(out) < n:
        if partition_of(f"dev-{i}", PARTITIONS) == partition:
            out.append(f"dev-{i}")
        i += 1
    return out


def test_events_are_delivered_once_in_queue_order_per_partition(live):
    a, b = devices_in(0, 1)[0], devices_in(1, 1)[0]
    ids = live.append_events([(a, "a1"), (b, "b1"), (a, "a2"), (a, "a3")])
    assert (
        len(set(zip([0, 1, 0, 0], ids, strict=True))) == 4 and live.backlog() == 4
    )  # ids: unique per partition
    got = live.read_events("w1", [0, 1], count=10)
    assert [(e.partition, e.payload, e.key) for e in got if e.partition == 0] == [
        (0, "a1", a),
        (0, "a2", a),
        (0, "a3", a),
    ]
    assert [e.payload for e in got if e.partition == 1] == ["b1"]
    assert live.read_events("w2", [0, 1], count=10) == []  # handed out once: now pending
    assert live.pending() == 4 and live.pending(0) == 3


def test_read_only_the_asked_partitions_and_at_most_count_each(live):
    a, b = devices_in(0, 1)[0], devices_in(2, 1)[0]
    live.append_events([(a, f"a{i}") for i in range(5)] + [(b, "b")])
    got = live.read_events("w1", [0], count=2)
    assert [e.payload for e in got] == ["a0", "a1"]
    assert [e.payload for e in live.read_events("w1", [0], count=10)] == ["a2", "a3", "a4"]


def test_a_blocked_read_wakes_up_when_an_event_arrives(live):
    device = devices_in(3, 1)[0]
    timer = threading.Timer(0.2, lambda: live.append_events([(device, "late")]))
    started = time.monotonic()
    timer.start()
    got = live.read_events("w1", [3], count=10, block_ms=3000)
    assert [e.payload for e in got] == ["late"]
    assert time.monotonic() - started < 2.5
    assert live.read_events("w1", [3], count=10, block_ms=100) == []


def test_commit_is_fenced_by_the_partition_lease(live):
    device = devices_in(0, 1)[0]
    live.append_events([(device, "e1")])
    assert live.acquire("w1", [0, 1], lease_ms=5000) == [0, 1]
    assert live.acquire("w2", [0, 2], lease_ms=5000) == [2]  # 0 is w1's
    (entry,) = live.read_events("w1", [0], count=10)
    assert not live.commit("w2", 0, states={device: "w2"}, commands=[(device, "c")], acks=[entry.id])
    assert live.get_states([device]) == {device: None} and live.read_commands() == [] and live.pending() == 1
    assert live.commit(
        "w1", 0, states={device: "s1"}, commands=[(device, "c1")], acks=[entry.id], lease_ms=5000
    )
    assert live.get_states([device, "other"]) == {device: "s1", "other": None}
    assert [(d, c) for _, d, c in live.read_commands()] == [(device, "c1")]
    assert live.pending() == 0 and live.backlog() == 0
    assert live.owners()[0] == "w1" and live.owners()[2] == "w2" and live.owners()[3] is None


def test_released_and_expired_leases_can_be_taken(live):
    assert live.acquire("w1", [0, 1], lease_ms=5000) == [0, 1]
    live.release("w1", [0])
    live.release("w2", [1])  # not w2's: no effect
    assert live.acquire("w2", [0, 1], lease_ms=150) == [0]
    time.sleep(0.3)
    assert live.acquire("w3", [0], lease_ms=5000) == [0]
    assert not live.commit("w2", 0, acks=[])  # w2's lease is gone


def test_pending_events_of_a_dead_consumer_are_claimed_in_order(live):
    device = devices_in(1, 1)[0]
    live.append_events([(device, f"e{i}") for i in range(5)])
    live.acquire("dead", [1], lease_ms=100)
    first = live.read_events("dead", [1], count=3)
    assert [e.deliveries for e in first] == [1, 1, 1]
    time.sleep(0.2)  # its lease expires
    assert live.acquire("heir", [1], lease_ms=5000) == [1]
    assert live.claim_pending("heir", 1, count=10, min_idle_ms=10_000) == []  # not idle long enough
    claimed = live.claim_pending("heir", 1, count=10)
    assert [e.payload for e in claimed] == ["e0", "e1", "e2"]
    assert [e.deliveries for e in claimed] == [2, 2, 2] and {e.key for e in claimed} == {device}
    rest = live.read_events("heir", [1], count=10)
    assert [e.payload for e in rest] == ["e3", "e4"]
    assert live.commit("heir", 1, acks=[e.id for e in claimed + rest])
    assert live.pending() == 0 and live.claim_pending("heir", 1, count=10) == []


def test_dead_letters_keep_the_event_and_the_reason(live):
    device = devices_in(2, 1)[0]
    live.append_events([(device, "{not json")])
    live.acquire("w1", [2], lease_ms=5000)
    (entry,) = live.read_events("w1", [2], count=1)
    assert live.commit("w1", 2, acks=[entry.id], dead=[(entry, "malformed event: not JSON")])
    (letter,) = live.read_dead_letters()
    assert (letter.partition, letter.entry_id, letter.payload, letter.reason, letter.consumer) == (
        2, entry.id, "{not json", "malformed event: not JSON", "w1")  # fmt: skip
    assert live.read_dead_letters(after=letter.id) == []
    assert live.pending() == 0


def test_output_streams_read_after_an_id(live):
    device = devices_in(0, 1)[0]
    live.acquire("w1", [0], lease_ms=5000)
    live.commit("w1", 0, commands=[(device, f"c{i}") for i in range(5)])
    commands = live.read_commands()
    assert [c for _, _, c in commands] == [f"c{i}" for i in range(5)]
    assert [c for _, _, c in live.read_commands(after=commands[1][0], count=2)] == ["c2", "c3"]


def test_states_put_and_read_back(live):
    live.put_states({"a": '{"x": 1}', "b": "2"})
    assert live.get_states(["a", "b", "c"]) == {"a": '{"x": 1}', "b": "2", "c": None}
    assert live.all_states() == {"a": '{"x": 1}', "b": "2"}
    assert live.get_states([]) == {}


def test_heartbeats_list_live_members_until_they_expire_or_leave(live):
    live.heartbeat("w1", {"pid": 11, "partitions": [0, 1]}, ttl_ms=5000)
    live.heartbeat("w2", {"pid": 12}, ttl_ms=150)
    members = live.members()
    assert (
        set(members) == {"w1", "w2"} and members["w1"]["pid"] == 11 and members["w1"]["partitions"] == [0, 1]
    )
    assert 0 < members["w1"]["expires_in_ms"] <= 5000
    time.sleep(0.3)
    assert set(live.members()) == {"w1"}
    live.leave("w1")
    assert live.members() == {}


def test_describe_and_clear(live):
    device = devices_in(0, 1)[0]
    live.append_events([(device, "e")])
    live.put_states({device: "s"})
    described = live.describe()
    assert (described["partitions"], described["queued_events"], described["devices"]) == (PARTITIONS, 1, 1)
    assert described["adapter"].startswith("live[")
    live.clear()
    assert live.backlog() == 0 and live.all_states() == {}
    live.append_events([(device, "again")])  # still usable
    assert [e.payload for e in live.read_events("w", [0], count=5)] == ["again"]


def test_partitions_are_fixed_for_a_store(live_url):
    with open_live_store(live_url, partitions=PARTITIONS):
        pass
    with open_live_store(live_url) as again:
        assert again.partitions == PARTITIONS
    with pytest.raises(StorageError, match=f"{PARTITIONS} partitions"):
        open_live_store(live_url, partitions=PARTITIONS + 1)


def test_unknown_scheme_lists_the_known_ones():
    with pytest.raises(StorageError, match="unknown URL scheme 'kafka'.*memory.*redis"):
        open_live_store("kafka://h")
    assert {"memory", "redis", "rediss"} <= set(live_store_schemes())


def test_unreachable_redis_is_a_one_line_storage_error():
    with pytest.raises(
        StorageError, match=r"live\[redis\]: connecting to redis://:\*\*\*@127.0.0.1:1/0 failed"
    ):
        open_live_store("redis://:secret@127.0.0.1:1/0")
