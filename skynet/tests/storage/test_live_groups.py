"""Consumer groups beside the workers' (the ingester's): each group reads every event, and an
event is deleted only once every group has acknowledged it. Run over the in-process store and
a real Redis server."""

from __future__ import annotations

import time
import uuid

import pytest

from skynet.errors import StorageError
from skynet.storage.live import WORKERS, open_live_store, partition_of

PARTITIONS = 2
INGEST = "ingest"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
def live(request):
    url = (
        f"memory://groups-{uuid.uuid4().hex}"
        if request.param == "memory"
        else request.getfixturevalue("redis_url")
    )
    with open_live_store(url, partitions=PARTITIONS) as store:
        yield store


def in_partition(partition: int) -> str:
    return next(f"dev-{i}" for i in range(1000) if partition_of(f"dev-{i}", PARTITIONS) == partition)


def commit_all(live, consumer: str, partition: int, ids: list[str]) -> None:
    assert live.acquire(consumer, [partition], 5000) == [partition]
    assert live.commit(consumer, partition, acks=ids)


def test_each_group_reads_every_event_and_the_last_ack_deletes_it(live):
    live.join_group(INGEST)
    device = in_partition(0)
    ids = live.append_events([(device, f"e{i}") for i in range(4)])
    assert live.groups() == {WORKERS: 4, INGEST: 4}

    worker_got = live.read_events("w1", [0], count=10)
    ingest_got = live.read_events("i1", [0, 1], count=10, group=INGEST)
    assert [e.payload for e in worker_got] == [e.payload for e in ingest_got] == ["e0", "e1", "e2", "e3"]
    assert live.pending(group=INGEST) == 4 and live.pending() == 4

    commit_all(live, "w1", 0, ids[:3])  # the workers are done with three: kept for the ingester
    assert live.backlog() == 1 and live.backlog(group=INGEST) == 4
    assert [e.payload for e in live.claim_pending("i2", 0, 10, group=INGEST)] == ["e0", "e1", "e2", "e3"]

    live.ack(INGEST, 0, ids[:2])  # both groups are done with e0, e1 only
    assert live.backlog(group=INGEST) == 2 and live.groups() == {WORKERS: 1, INGEST: 2}
    # e0, e1 are gone from the queue; e2 waits for the ingester, e3 for both
    assert [e.payload for e in live.claim_pending("w2", 0, 10)] == ["e3"]
    live.ack(INGEST, 0, ids[2:])
    commit_all(live, "w1", 0, ids[3:])
    assert live.groups() == {WORKERS: 0, INGEST: 0}
    assert live.claim_pending("i3", 0, 10, group=INGEST) == [] and live.claim_pending("w3", 0, 10) == []


def test_without_another_group_the_workers_ack_deletes_at_once(live):
    device = in_partition(1)
    ids = live.append_events([(device, "only")])
    live.read_events("w1", [1], count=10)
    commit_all(live, "w1", 1, ids)
    live.join_group(INGEST)  # joins after the event was deleted: nothing left to read
    assert live.read_events("i1", [0, 1], count=10, group=INGEST) == []
    assert live.groups() == {WORKERS: 0, INGEST: 0}


def test_a_group_joined_late_reads_what_is_still_queued(live):
    device = in_partition(0)
    live.append_events([(device, "before")])
    live.join_group(INGEST)
    live.join_group(INGEST)  # joining twice changes nothing
    live.append_events([(device, "after")])
    got = live.read_events("i1", [0], count=10, group=INGEST)
    assert [e.payload for e in got] == ["before", "after"]


def test_pending_events_of_a_group_are_claimed_only_once_idle(live):
    live.join_group(INGEST)
    live.append_events([(in_partition(0), "a")])
    assert len(live.read_events("dead", [0], count=10, group=INGEST)) == 1
    assert live.claim_pending("other", 0, 10, min_idle_ms=60_000, group=INGEST) == []
    time.sleep(0.05)
    (claimed,) = live.claim_pending("other", 0, 10, min_idle_ms=20, group=INGEST)
    assert claimed.payload == "a" and claimed.deliveries == 2
    assert live.pending() == 0 and live.backlog() == 1  # the workers have not read it yet


def test_dropping_a_group_frees_what_only_it_kept(live):
    live.join_group(INGEST)
    device = in_partition(0)
    ids = live.append_events([(device, f"e{i}") for i in range(3)])
    live.read_events("w1", [0], count=10)
    commit_all(live, "w1", 0, ids[:2])  # e2 still pending for the workers
    assert live.backlog(group=INGEST) == 3
    live.drop_group(INGEST)
    assert live.groups() == {WORKERS: 1}
    assert [e.payload for e in live.claim_pending("w2", 0, 10)] == ["e2"]  # the workers' one is kept
    live.join_group(INGEST)  # a new group sees what is still queued: e0 and e1 were deleted
    assert [e.payload for e in live.read_events("i1", [0], count=10, group=INGEST)] == ["e2"]
    with pytest.raises(StorageError, match="cannot be dropped"):
        live.drop_group(WORKERS)


def test_reading_a_group_that_never_joined_is_a_storage_error(live):
    live.append_events([(in_partition(0), "a")])
    with pytest.raises(StorageError):
        live.read_events("i1", [0], count=10, group="nobody")
