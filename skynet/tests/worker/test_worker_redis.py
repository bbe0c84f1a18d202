"""Worker processes on a real Redis: sharing the load, SIGKILL fail-over, SIGTERM drain, dead letters.

"Exactly once in effect" is checked through each device's state and decision documents: every
applied event increments the device's ``applied`` count and every reading's decision records
that count as its ``sequence``. The k-th reading of a device must have sequence k + 2 (its
target came first): a lost event, an event applied twice or two events swapped would all
break that, whatever worker processed them.
"""

from __future__ import annotations

import json
import signal
import time
from datetime import datetime

import pytest

from skynet.storage.decisions import open_decision_log
from skynet.storage.live import open_live_store
from skynet.worker import DeviceState

pytestmark = pytest.mark.integration

READINGS = 30
T1 = datetime(2025, 7, 1, 12, 3)  # after the first events (the ghost's)


def check_exactly_once_in_order(live, log, devices: list[str], readings: int) -> list[dict]:
    """Every device applied every event once, in order; return the decision documents."""
    docs = log.read()
    by_device: dict[str, list[dict]] = {}
    for doc in docs:
        by_device.setdefault(doc["device_id"], []).append(doc)
    states = live.get_states(devices)
    for device in devices:
        mine = sorted(by_device.get(device, []), key=lambda d: d["time"])
        assert [d["decision_id"] for d in mine] == [f"{device}-r{i}" for i in range(readings)], device
        assert [d["sequence"] for d in mine] == list(range(2, readings + 2)), device
        assert DeviceState.from_json(device, states[device]).applied == readings + 1, device
    commands = [json.loads(c) for _, _, c in live.read_commands(count=100_000)]
    ids = [c["decision_id"] for c in commands]
    assert len(ids) == len(set(ids)), "a command was emitted twice"
    assert live.backlog() == 0 and live.pending() == 0
    return docs


def test_two_workers_share_the_load_and_survive_a_sigkill(worker_procs, streams, wait_for):
    devices = [f"dev-{i:02d}" for i in range(16)]
    events = streams(devices, READINGS)
    live = open_live_store(worker_procs.live_url)
    log = open_decision_log(worker_procs.decisions_url)
    # a consumer that read a batch and died before any worker started: its events are pending
    live.append_events(events[:40])
    ghost_partitions = list(range(live.partitions))
    assert live.acquire("ghost", ghost_partitions, lease_ms=300) == ghost_partitions
    ghost_read = live.read_events("ghost", ghost_partitions, count=100)
    assert len(ghost_read) == 40 and live.pending() == 40

    worker_procs.start("worker-a")
    worker_procs.start("worker-b")
    wait_for(lambda: {"worker-a", "worker-b"} <= set(live.members()), 60, "both workers' heartbeats")
    wait_for(lambda: live.pending() == 0 and live.backlog() == 0, 30, "the ghost's events to be reclaimed")
    both = {"worker-a", "worker-b"}
    wait_for(lambda: set(live.owners().values()) == both, 30, "the partitions to be shared")

    rest = events[40:]
    third = len(rest) // 3
    for lo in range(0, third, 20):
        live.append_events(rest[lo : lo + 20])
        time.sleep(0.02)
    wait_for(lambda: {d["consumer"] for d in log.read(start=T1)} == both, 30, "decisions from both workers")
    worker_procs.signal("worker-a", signal.SIGKILL)  # mid-stream: no chance to release or ack
    live.append_events(events[60:80])  # a producer re-sends events: same ids, applied once
    for lo in range(third, len(rest), 20):
        live.append_events(rest[lo : lo + 20])
        time.sleep(0.02)

    total = len(devices) * READINGS
    wait_for(lambda: log.count() == total and live.backlog() == 0, 60, f"all {total} decisions")
    docs = check_exactly_once_in_order(live, log, devices, READINGS)
    consumers = {d["consumer"] for d in docs}
    assert consumers == {"worker-a", "worker-b"}, consumers
    assert worker_procs.procs["worker-b"].poll() is None, worker_procs.output("worker-b")
    wait_for(lambda: set(live.members()) == {"worker-b"}, 10, "worker-a's heartbeat to expire")
    assert set(live.owners().values()) == {"worker-b"}  # it took every partition over
    assert live.read_dead_letters() == []


def test_sigterm_drains_then_another_worker_finishes(worker_procs, streams, wait_for):
    devices = [f"dev-{i:02d}" for i in range(8)]
    events = streams(devices, READINGS)
    live = open_live_store(worker_procs.live_url)
    log = open_decision_log(worker_procs.decisions_url)
    worker_procs.start("first", batch=8)
    wait_for(lambda: "first" in live.members(), 60, "the first worker's heartbeat")
    live.append_events(events)
    wait_for(lambda: log.count() >= 20, 30, "some decisions")
    worker_procs.signal("first", signal.SIGTERM)
    assert worker_procs.wait("first", timeout=20) == 0, worker_procs.output("first")
    # drained: what it read is committed and acknowledged, its leases and heartbeat are gone
    assert live.pending() == 0
    assert set(live.owners().values()) == {None} and live.members() == {}
    left = live.backlog()
    worker_procs.start("second")
    total = len(devices) * READINGS
    wait_for(lambda: log.count() == total and live.backlog() == 0, 60, f"all {total} decisions")
    check_exactly_once_in_order(live, log, devices, READINGS)
    summary = json.loads(worker_procs.output("first").strip().splitlines()[-1])
    assert summary["consumer"] == "first" and summary["events"] == len(events) - left


def test_malformed_events_are_dead_lettered_and_the_worker_goes_on(worker_procs, streams, wait_for):
    live = open_live_store(worker_procs.live_url)
    log = open_decision_log(worker_procs.decisions_url)
    bad = [
        ("dev-x", "{not json"),
        ("dev-x", json.dumps({"device_id": "dev-x", "type": "teleport"})),
        ("dev-x", json.dumps({"device_id": "dev-x", "type": "reading"})),
        ("dev-x", json.dumps({"device_id": "dev-x", "type": "reading", "temperature": "hot"})),
        ("dev-x", json.dumps({"device_id": "dev-x", "type": "feedback", "value": 7})),
        ("dev-x", json.dumps({"device_id": "dev-y", "type": "reading", "temperature": 20})),
    ]
    good = streams(["dev-x"], 5)
    live.append_events(bad[:3] + good + bad[3:])
    worker_procs.start("only")
    wait_for(lambda: log.count() == 5 and live.backlog() == 0, 60, "the good events' decisions")
    reasons = [letter.reason for letter in live.read_dead_letters()]
    assert len(reasons) == len(bad)
    for reason, expected in zip(reasons, ["not JSON", "type 'teleport'", "temperature is required",
                                          "temperature must be a number", "outside the scale",
                                          "differs from the key"], strict=True):  # fmt: skip
        assert expected in reason, reason
    assert {letter.payload for letter in live.read_dead_letters()} == {payload for _, payload in bad}
    assert worker_procs.procs["only"].poll() is None
    check_exactly_once_in_order(live, log, ["dev-x"], 5)


def test_a_poison_pill_neither_kills_the_worker_nor_takes_its_batch_with_it(worker_procs, streams, wait_for):
    """Issue 10, finding 1, as it was found: a field of deeply nested JSON made the worker exit
    with "unexpected RecursionError" at every start, and after six deliveries its whole batch
    was dead-lettered. Here it is one dead letter among good events, with a future-dated, an
    impossible and a range-widening event beside it, and the worker runs on."""
    live = open_live_store(worker_procs.live_url)
    log = open_decision_log(worker_procs.decisions_url)
    reading = {"device_id": "dev-x", "type": "reading", "time": "2025-07-01T12:30:00"}
    nested = '{"device_id": "dev-x", "type": "reading", "temperature": %s}'
    bad = [
        ("dev-x", nested % ("[" * 5000 + "]" * 5000)),
        ("dev-x", nested % ("[" * 200_000 + "]" * 200_000)),  # the payload
        ("dev-x", json.dumps({**reading, "temperature": 20, "time": "9999-12-31T00:00:00"})),
        ("dev-x", json.dumps({**reading, "temperature": 500})),
        ("dev-x", json.dumps({"device_id": "dev-x", "type": "device", "min_set_temperature": 50, "max_set_temperature": 60})),
    ]  # fmt: skip
    good = streams(["dev-x"], 5)
    live.append_events(good[:3] + bad + good[3:])
    worker_procs.start("only")
    wait_for(lambda: log.count() == 5 and live.backlog() == 0, 60, "the good events' decisions")
    reasons = [letter.reason for letter in live.read_dead_letters()]
    for reason, expected in zip(reasons, ["nested more than 8 levels", "400,0", "days after its queueing",
                                          "temperature 500 is outside", "min_set_temperature 50 is outside"],
                                strict=True):  # fmt: skip
        assert expected in reason, reason
    assert worker_procs.procs["only"].poll() is None, worker_procs.output("only")
    check_exactly_once_in_order(live, log, ["dev-x"], 5)
    commands = [json.loads(c) for _, _, c in live.read_commands(count=100)]
    assert all(16.0 <= c["set_temperature"] <= 30.0 for c in commands if c["set_temperature"] is not None)
    worker_procs.signal("only", signal.SIGTERM)
    assert worker_procs.wait("only", timeout=20) == 0
