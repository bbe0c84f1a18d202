"""Finding 3 of issue 10 in the worker: a device event widened the safety range, and readings
of 500 °C or -300 °C were acted on.

A ``device`` event with min 50 / max 60 gave "heat 50 °C", one with 0 / 5 gave "cool 5 °C",
min 40 > max 10 was accepted. Here: values outside physical limits are dead-lettered with the
reason, a range whose minimum is above its maximum (in one event, or with the range the device
gave before) is rejected, and a device whose range misses the configured 16–30 °C gets no
command: its decision says ``fault``, the batch and the worker count it.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import pytest

from skynet.control import Controller
from skynet.storage.decisions import open_decision_log
from skynet.storage.live import Entry, open_live_store
from skynet.worker import Processor, Worker, WorkerOptions, make_event

T0 = datetime(2025, 7, 1, 12, 0)


def event(kind: str, name: str, minute: int = 0, **fields) -> str:
    """An event's JSON without make_event's checks (the worker must survive what it refuses)."""
    data = {
        "event_id": name,
        "device_id": "d1",
        "type": kind,
        "time": (T0 + timedelta(minutes=minute)).isoformat(),
    }
    return json.dumps({**data, **fields})


def reading(minute: int, temperature: float = 29.0) -> str:
    return event(
        "reading", f"r{minute}", minute, temperature=temperature, humidity=55.0, outdoor_temperature=33.0
    )


def entries(*payloads: str) -> list[Entry]:
    return [Entry(0, str(i + 1), text, 1, "d1") for i, text in enumerate(payloads)]


def commands(out) -> list[tuple[str, float | None]]:
    return [(c["mode"], c["set_temperature"]) for c in (json.loads(text) for _, text in out.commands)]


@pytest.mark.parametrize(
    ("fields", "why"),
    [({"min_set_temperature": 50.0, "max_set_temperature": 60.0}, "min_set_temperature 50.0 is outside the physical limits 5 … 40 °C"),
     ({"min_set_temperature": 0.0, "max_set_temperature": 5.0}, "min_set_temperature 0.0 is outside"),
     ({"min_set_temperature": 40.0, "max_set_temperature": 10.0}, "min_set_temperature 40 is above max_set_temperature 10")],
)  # fmt: skip
def test_a_device_event_with_an_absurd_or_inverted_range_is_dead_lettered(fields, why):
    out = Processor(Controller(), "w").process(
        entries(event("target", "t", mode="comfort"), event("device", "dv", **fields), reading(1)), {}
    )
    ((entry, reason),) = out.dead  # fmt: skip
    assert entry.id == "2" and reason.startswith("malformed event: device event: ") and why in reason
    assert commands(out) == [("cool", 26.0)]  # the configured range holds: 29 °C is cooled to 26


def test_a_range_inverted_with_what_the_device_said_before_is_rejected():
    out = Processor(Controller(), "w").process(
        entries(
            event("device", "a", min_set_temperature=28.0), event("device", "b", max_set_temperature=20.0)
        ),
        {},
    )
    assert [e.id for e, _ in out.dead] == ["2"]
    assert "range 28 … 20 °C is empty" in out.dead[0][1] and out.dead[0][1].startswith(
        "rejected: device event"
    )
    assert json.loads(out.states["d1"])["max_set_temperature"] is None  # nothing of it was applied


def test_a_device_whose_range_misses_the_configured_one_gets_no_command_and_a_counted_fault():
    batch = entries(event("target", "t", mode="comfort"),
                    event("device", "dv", min_set_temperature=35.0, max_set_temperature=40.0),
                    reading(1), reading(2, 31.0),
                    event("device", "fixed", 3, min_set_temperature=18.0, max_set_temperature=24.0), reading(4))  # fmt: skip
    out = Processor(Controller(), "w").process(batch, {})
    assert out.dead == []
    docs = {d["decision_id"]: d for d in out.docs}
    for name in ("r1", "r2"):
        assert (
            docs[name]["command"] is None and "does not overlap the configured 16 … 30" in docs[name]["fault"]
        )
    assert out.faults == [("d1", docs["r1"]["fault"])] * 2
    assert commands(out) == [("cool", 24.0)]  # back in range: the intersection 18…24, never wider
    assert "fault" not in docs["r4"]


def test_the_worker_counts_device_faults():
    name = f"memory://ranges-{uuid.uuid4().hex}"
    live, log = open_live_store(name, partitions=1), open_decision_log(name)
    live.append_events([("d1", text) for text in (event("target", "t", mode="comfort"),
                                                    event("device", "dv", max_set_temperature=10.0),
                                                    reading(1), reading(2))])  # fmt: skip
    worker = Worker(live, log, Processor(Controller(), "w"), "w",
                    WorkerOptions(batch=16, block_ms=20, lease_ms=1000, heartbeat_ms=100))  # fmt: skip
    stats = worker.run(until=lambda: live.backlog() == 0)
    assert (stats.faults, stats.commands, stats.summary()["faults"]) == (2, 0, 2)
    assert [d["fault"] for d in log.read("d1")] == [  # the record's minimum (16) with the event's maximum
        "the appliance's set-temperature range is inverted: min 16 above max 10 °C"] * 2  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "fields", "why"),
    [("reading", {"temperature": 500.0}, "temperature 500.0 is outside the physical limits -40 … 70 °C"),
     ("reading", {"temperature": -300.0}, "temperature -300.0 is outside"),
     ("reading", {"temperature": 70.5}, "temperature 70.5 is outside"),
     ("reading", {"temperature": 22.0, "humidity": 150.0}, "humidity 150.0 is outside the physical limits 0 … 100 %RH"),
     ("reading", {"temperature": 22.0, "humidity": -1.0}, "humidity -1.0 is outside"),
     ("reading", {"temperature": 22.0, "outdoor_temperature": 99.0}, "outdoor_temperature 99.0 is outside"),
     ("reading", {"temperature": 22.0, "luminosity": -5.0}, "luminosity -5.0 is outside"),
     ("reading", {"temperature": 22.0, "air_speed": 50.0}, "air_speed 50.0 is outside"),
     ("reading", {"temperature": 22.0, "occupancy": 5000}, "occupancy 5000 is outside"),
     ("weather", {"temperature": -120.0}, "temperature -120.0 is outside the physical limits -90 … 60 °C"),
     ("feedback", {"value": 1.0, "clothing": 9.0}, "clothing 9.0 is outside"),
     ("feedback", {"value": 1.0, "metabolic_rate": 0.1}, "metabolic_rate 0.1 is outside"),
     ("appliance", {"power": True, "set_temperature": 45.0}, "set_temperature 45.0 is outside the physical limits 5 … 40"),
     ("target", {"mode": "temperature", "value": 500.0}, "value 500.0 is outside the physical limits 0 … 100"),
     ("target", {"mode": "temperature", "value": 50.0}, "a temperature target of 50 is outside 5 … 40 °C"),
     ("target", {"mode": "humidity", "value": 120.0}, "value 120.0 is outside")],
)  # fmt: skip
def test_physically_impossible_values_are_dead_lettered_with_the_reason(kind, fields, why):
    out = Processor(Controller(), "w").process(entries(event(kind, "bad", **fields), reading(1)), {})
    ((entry, reason),) = out.dead  # fmt: skip
    assert entry.id == "1" and reason.startswith(f"malformed event: {kind} event: ") and why in reason
    assert [d["decision_id"] for d in out.docs] == ["r1"]


def test_make_event_refuses_what_the_worker_would_dead_letter():
    from skynet.errors import DataError

    with pytest.raises(DataError, match="temperature 500.0 is outside"):
        make_event("d1", "reading", temperature=500.0)
