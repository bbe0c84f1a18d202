"""The worker without servers: events, device state, batch processing, the loop on the in-process store."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, timedelta

import pytest

from skynet.control import Controller
from skynet.domain import ApplianceState
from skynet.errors import DataError
from skynet.storage.decisions import open_decision_log
from skynet.storage.live import Entry, open_live_store
from skynet.worker import (
    DeviceState,
    Processor,
    Worker,
    WorkerOptions,
    assigned_partitions,
    make_event,
    parse_event,
)

T0 = datetime(2025, 7, 1, 12, 0)
FAST = WorkerOptions(batch=16, block_ms=20, lease_ms=1000, heartbeat_ms=100)


def reading(device: str, minute: int, temperature: float = 28.0, **extra) -> str:
    return make_event(device, "reading", time=T0 + timedelta(minutes=minute), event_id=f"{device}-r{minute}",
                      temperature=temperature, humidity=55.0, outdoor_temperature=33.0, **extra)  # fmt: skip


def target(device: str, mode: str = "comfort", value: float | None = None) -> str:
    return make_event(device, "target", time=T0, event_id=f"{device}-t", mode=mode, value=value)


def entries(*payloads: tuple[str, str]) -> list[Entry]:
    return [Entry(0, str(i + 1), text, 1, key) for i, (key, text) in enumerate(payloads)]


# -- events -------------------------------------------------------------------------------------


def test_make_event_round_trips_through_parse_event():
    text = make_event(
        "d1", "appliance", time=T0, event_id="e1", power=True, mode="cool", set_temperature=24.0
    )
    event = parse_event(text)
    assert (event.event_id, event.device_id, event.type, event.time) == ("e1", "d1", "appliance", T0)
    assert event.record(T0) == ApplianceState("d1", T0, True, "cool", 24.0, None, "user")
    assert parse_event(make_event("d1", "reading", temperature=20)).event_id  # a random id by default


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("[1, 2]", "JSON object"),
        (
            '{"device_id": "d", "type": "reading", "temperature": 20, "colour": "red"}',
            "unknown field 'colour'",
        ),
        ('{"device_id": "", "type": "reading", "temperature": 20}', "device_id"),
        ('{"device_id": "d", "type": "reading", "temperature": NaN}', "finite"),
        ('{"device_id": "d", "type": "reading", "temperature": 20, "occupancy": 1.5}', "whole number"),
        ('{"device_id": "d", "type": "appliance", "power": "yes"}', "true or false"),
        ('{"device_id": "d", "type": "appliance", "power": true, "mode": "turbo"}', "mode 'turbo'"),
        ('{"device_id": "d", "type": "target", "mode": "temperature"}', "needs a value"),
        ('{"device_id": "d", "type": "reading", "temperature": 20, "time": "noon"}', "ISO 8601"),
        ('{"device_id": "d", "type": "reading", "temperature": 20, "event_id": 7}', "event_id"),
    ],
)
def test_malformed_events_say_what_is_wrong(payload, message):
    with pytest.raises(DataError, match=message):
        parse_event(payload)


def test_event_times_become_naive_utc():
    event = parse_event(
        '{"device_id": "d", "type": "weather", "temperature": 5, "time": "2025-07-01T14:00:00+02:00"}'
    )
    assert event.time == datetime(2025, 7, 1, 12, 0)


# -- device state ---------------------------------------------------------------------------------


def test_state_round_trips_and_keeps_half_an_hour_of_readings():
    state = DeviceState("d1")
    for minute in range(70):
        event = parse_event(reading("d1", minute, occupancy=2))
        state.apply(event, event.event_id, event.time)
    for text in (target("d1", "temperature", 23.0),
                 make_event("d1", "appliance", time=T0, event_id="a", power=True, mode="cool", fan="low"),
                 make_event("d1", "feedback", time=T0, event_id="f", value=-1.5, user_id="u"),
                 make_event("d1", "device", time=T0, event_id="dv", timezone="Europe/Paris", max_set_temperature=28)):  # fmt: skip
        event = parse_event(text)
        state.apply(event, event.event_id, event.time)
    assert [r.timestamp for r in state.readings][0] == T0 + timedelta(minutes=69 - 35)
    assert state.weather.temperature == 33.0 and state.occupancy == 2
    again = DeviceState.from_json("d1", state.to_json())
    assert again == state
    assert again.applied == 74 and again.seen("d1-r69") and not again.seen("d1-r9")  # the last 64 ids
    assert (again.target.mode, again.target.value, again.timezone, again.max_set_temperature) == (
        "temperature", 23.0, "Europe/Paris", 28.0)  # fmt: skip


def test_unreadable_stored_state_is_an_error_and_the_processor_starts_afresh():
    with pytest.raises(DataError, match="stored state is not readable"):
        DeviceState.from_json("d1", '{"device_id": "d1"}')
    out = Processor(Controller(), "w").process(entries(("d1", reading("d1", 0))), {"d1": "garbage"})
    assert DeviceState.from_json("d1", out.states["d1"]).applied == 1


# -- processing a batch ---------------------------------------------------------------------------


def test_a_batch_applies_each_event_once_and_decides_on_readings_and_targets():
    processor = Processor(Controller(), "w1")
    batch = entries(("d1", reading("d1", 0, 28.0)), ("d1", target("d1")), ("d1", reading("d1", 1, 28.5)),
                    ("d1", reading("d1", 1, 28.5)))  # fmt: skip
    out = processor.process(batch, {})
    assert out.acks == ["1", "2", "3", "4"] and out.dead == [] and out.duplicates == 1
    assert [d["decision_id"] for d in out.docs] == ["d1-r0", "d1-t", "d1-r1"]
    assert [d["sequence"] for d in out.docs] == [1, 2, 3]
    assert out.docs[0]["reason"]["why"].startswith("no control target")  # no target yet: hands off
    assert out.docs[1]["command"]["mode"] == "cool"  # 28 °C, comfort target: the thermostat cools
    (device, command), = out.commands  # fmt: skip
    assert device == "d1" and json.loads(command)["decision_id"] == "d1-t"
    state = DeviceState.from_json("d1", out.states["d1"])
    assert state.appliance.origin == "skynet" and state.safety["commands"]  # the command is remembered
    again = processor.process(batch, out.states)  # redelivered: no effect
    assert again.docs == [] and again.commands == [] and again.duplicates == 4
    assert again.states == out.states


def test_bad_events_go_to_dead_letters_with_reasons_and_the_rest_is_processed():
    batch = entries(("d1", "nope"), ("d1", reading("d2", 0)), ("d1", reading("d1", 0)))
    batch.append(Entry(0, "9", reading("d1", 1), deliveries=6, key="d1"))
    out = Processor(Controller(), "w", max_deliveries=5).process(batch, {})
    reasons = [reason for _, reason in out.dead]
    assert [e.id for e, _ in out.dead] == ["1", "2", "9"]
    assert (
        "not JSON" in reasons[0]
        and "differs from the key" in reasons[1]
        and "delivered 6 times" in reasons[2]
    )
    assert len(out.docs) == 1 and out.acks == ["1", "2", "3", "9"]


def test_a_failing_decision_is_dead_lettered_not_raised():
    class Broken:
        def decide(self, *args, **kwargs):
            raise RuntimeError("boom")

    out = Processor(Broken(), "w").process(entries(("d1", reading("d1", 0))), {})
    assert out.dead[0][1] == "decision failed: RuntimeError: boom"
    assert DeviceState.from_json("d1", out.states["d1"]).applied == 1


def test_devices_come_from_the_lookup_once():
    from skynet.domain import Device

    asked = []

    def lookup(device_id):
        asked.append(device_id)
        return Device(device_id, min_set_temperature=27.0, max_set_temperature=30.0)

    processor = Processor(Controller(), "w", devices=lookup)
    out = processor.process(
        entries(("d1", target("d1")), ("d1", reading("d1", 0, 29.0)), ("d1", reading("d1", 1))), {}
    )
    assert asked == ["d1"]
    assert json.loads(out.commands[0][1])["set_temperature"] == 27.0  # the device's range, not the default


# -- the loop on the in-process store ----------------------------------------------------------------


def test_partitions_are_shared_evenly_and_completely():
    members = ["w3", "w1", "w2"]
    shares = [assigned_partitions(m, members, 16) for m in members]
    assert set().union(*shares) == set(range(16)) and sum(map(len, shares)) == 16
    assert sorted(map(len, shares)) == [5, 5, 6]
    assert assigned_partitions("alone", [], 4) == {0, 1, 2, 3}


@pytest.fixture
def stores():
    name = f"memory://worker-{uuid.uuid4().hex}"
    return open_live_store(name, partitions=4), open_decision_log(name)


def test_two_in_process_workers_split_partitions_and_process_everything_in_order(stores):
    live, log = stores
    devices = [f"d{i}" for i in range(6)]
    live.append_events([(d, target(d)) for d in devices])
    live.append_events([(d, reading(d, m, 26.0 + m % 4)) for m in range(20) for d in devices])
    workers = [Worker(live, log, Processor(Controller(), n), n, FAST) for n in ("a", "b")]
    threads = [threading.Thread(target=w.run, kwargs={"until": lambda: live.backlog() == 0}) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert live.backlog() == 0 and log.count() == 6 * 20  # the targets came before any reading
    for d in devices:
        assert [doc["sequence"] for doc in log.read(d)] == list(range(2, 22))
    assert sum(w.stats.events for w in workers) == 6 * 21
    assert live.members() == {} and set(live.owners().values()) == {None}  # both left cleanly


def test_a_worker_that_lost_its_lease_commits_nothing(stores):
    live, log = stores
    live.append_events([("d1", reading("d1", 0))])
    worker = Worker(live, log, Processor(Controller(), "slow"), "slow", FAST)
    worker._maintain()
    partition = live.partition_of("d1")
    (entry,) = live.read_events("slow", [partition], 10)
    live.release("slow", [partition])
    assert live.acquire("thief", [partition], 1000) == [partition]
    worker._handle({partition: [entry]})
    assert worker.stats.lost_batches == 1 and partition not in worker.held
    assert live.pending() == 1 and live.all_states() == {}  # left for the new owner
    assert log.count() == 1  # the log is idempotent: the owner's decision has the same id


def test_stop_from_another_thread_finishes_and_leaves(stores):
    live, log = stores
    worker = Worker(live, log, Processor(Controller(), "w"), "w", FAST)
    thread = threading.Thread(target=worker.run)
    thread.start()
    live.append_events([("d1", reading("d1", 0))])
    deadline = datetime.now() + timedelta(seconds=10)
    while log.count() == 0 and datetime.now() < deadline:
        threading.Event().wait(0.02)
    worker.stop()
    thread.join(10)
    assert not thread.is_alive() and log.count() == 1 and live.members() == {}


def test_rounds_decide_many_devices_at_once_and_keep_each_devices_order():
    class Batched(Controller):
        def __init__(self):
            super().__init__()
            self.rounds: list[list[str]] = []

        def decide_many(self, requests):
            self.rounds.append([r.device_id for r in requests])
            return super().decide_many(requests)

    batch = entries(*[(d, target(d)) for d in ("d1", "d2", "d3")])
    batch += entries(*[(d, reading(d, m, 27.0 + m)) for m in range(3) for d in ("d1", "d2", "d3")])
    batch = [Entry(0, str(i + 1), e.payload, 1, e.key) for i, e in enumerate(batch)]
    batch.insert(
        8, Entry(0, "99", make_event("d2", "appliance", time=T0, event_id="a2", power=False), 1, "d2")
    )
    batched = Batched()
    together = Processor(batched, "w").process(batch, {})
    alone = Processor(Controller(), "w").process(batch, {})
    # a device's next event (here d2's appliance change) closes the round its decision waits in;
    # the last round has d3 alone
    assert batched.rounds == [["d1", "d2", "d3"], ["d1", "d2"], ["d3", "d1", "d2"], ["d3"]]

    def strip(docs):
        return [{k: v for k, v in d.items() if k not in ("latency_ms", "decided_at")} for d in docs]

    assert strip(together.docs) == strip(alone.docs) and together.commands == alone.commands
    assert together.states == alone.states


def test_votes_personalize_the_comfort_model_with_the_climate_they_were_given_in():
    class Comfort:
        def __init__(self):
            self.histories = []

        def predict(self, frame, personalize=True):
            return frame["temperature"].to_numpy(float) * 0.0

        def personal_offsets(self, history):
            self.histories.append(history)
            return {d: (float(v["value"].mean()), len(v)) for d, v in history.groupby("device_id")}

    comfort = Comfort()

    def vote(m, v):
        return make_event("d1", "feedback", time=T0 + timedelta(minutes=m), event_id=f"f{m}", value=v)

    batch = entries(("d1", reading("d1", 0, 27.0)), ("d1", vote(1, 1.0)), ("d1", reading("d1", 2, 28.0)),
                    ("d1", vote(3, 2.0)))  # fmt: skip
    out = Processor(Controller(comfort_model=comfort), "w").process(batch, {})
    state = DeviceState.from_json("d1", out.states["d1"])
    assert state.comfort_offset == 1.5 and [v["value"] for v in state.feedback] == [1.0, 2.0]
    last = comfort.histories[-1]
    assert last["temperature"].tolist() == [27.0, 28.0] and last["outdoor_temperature"].tolist() == [
        33.0,
        33.0,
    ]
    assert set(last["device_id"]) == {"d1|day"}  # by period of the day (noon, UTC)
    assert last["air_speed"].tolist() == [0.1, 0.1]  # no sensor air speed: the AC's (off: still air)


def test_a_night_decision_adds_the_night_offset_to_the_devices_personal_offset():
    """The worker's personal offsets (the closed loop's :class:`Personalizer`, by period) get
    ``ControlConfig.night_offset`` at night (sleepers feel cooler than the people still up who vote)."""
    from skynet.control import ControlConfig

    class Seen(Controller):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.offsets = []

        def decide_many(self, requests):
            self.offsets += [r.context.comfort_offset for r in requests]
            return super().decide_many(requests)

    class Comfort:
        def predict(self, frame, personalize=True):
            return frame["temperature"].to_numpy(float) * 0.0

        def personal_offsets(self, history):
            return {d: (0.4, len(v)) for d, v in history.groupby("device_id")}

    def at(hour: int, voted: bool, night: float) -> float | None:
        controller = Seen(comfort_model=Comfort(), config=ControlConfig(night_offset=night))
        vote = make_event("d1", "feedback", time=T0.replace(hour=hour), event_id=f"f{hour}", value=1.0)
        event = make_event("d1", "reading", time=T0.replace(hour=hour), event_id=f"r{hour}", temperature=28.0,
                           humidity=55.0)  # fmt: skip
        batch = (
            [("d1", event), ("d1", vote), ("d1", event.replace(f"r{hour}", f"s{hour}"))]
            if voted
            else [("d1", event)]
        )
        Processor(controller, "w").process(entries(*batch), {})
        return controller.offsets[-1]

    assert at(12, True, -0.6) == 0.4 and at(23, True, -0.6) == pytest.approx(-0.2)
    assert at(3, False, -0.6) == pytest.approx(-0.6) and at(12, False, -0.6) is None
    assert at(23, True, 0.0) == 0.4
