"""Finding 2 of issue 10: one future timestamp froze a device, for good.

A reading dated 9999-12-31 evicted every real reading (the state keeps the newest 35 minutes),
later decisions used it forever, the state carried it across restarts, and with a time zone
east of UTC every later event died of ``OverflowError``. Here: an event dated more than the
allowed skew (10 min) after it was queued is dead-lettered with the reason; old news never
replaces newer data nor triggers a decision; decisions happen at the device's clock, which
never runs backwards; and a state stored with future data recovers when it is loaded.

Times here are relative to the real clock (the worker's default reference when the queue does
not say when an event was queued).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from skynet.control import Controller
from skynet.storage.live import Entry
from skynet.worker import DeviceState, Processor, make_event, parse_event

FAR = datetime(9999, 12, 31)


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def reading(device: str, at: datetime, name: str, temperature: float = 28.0) -> str:
    return make_event(device, "reading", time=at, event_id=name, temperature=temperature, humidity=55.0,
                      outdoor_temperature=33.0)  # fmt: skip


def entries(*payloads: str, key: str = "d1", ids: list[str] | None = None) -> list[Entry]:
    return [Entry(0, (ids or [str(i + 1) for i in range(len(payloads))])[i], text, 1, key)
            for i, text in enumerate(payloads)]  # fmt: skip


def kept(out, device: str = "d1") -> DeviceState:
    return DeviceState.from_json(device, out.states[device])


def test_an_event_dated_beyond_the_skew_is_dead_lettered_with_the_reason():
    t = now()
    ahead, too_far = reading("d1", t + timedelta(minutes=5), "ok"), reading(
        "d1", t + timedelta(minutes=11), "far"
    )
    out = Processor(Controller(), "w").process(entries(ahead, too_far, reading("d1", FAR, "eternal")), {})
    assert [e.id for e, _ in out.dead] == ["2", "3"]
    assert "is 11 min after now" in out.dead[0][1] and "ahead by 10 min at most" in out.dead[0][1]
    assert "2,9" in out.dead[1][1] and "days after now" in out.dead[1][1]
    assert [r.timestamp for r in kept(out).readings] == [parse_event(ahead).time]


def test_the_skew_is_measured_from_when_the_event_was_queued():
    """On Redis an entry's id says when it was queued: an event dated 11 minutes after that is
    wrong however late it is processed (so a re-processed event gets the same verdict)."""
    queued = datetime(2025, 7, 1, 12, 0)
    ms = int(queued.replace(tzinfo=UTC).timestamp() * 1000)
    batch = entries(reading("d1", queued + timedelta(minutes=9), "a"), reading("d1", queued + timedelta(minutes=11), "b"),
                    ids=[f"{ms}-0", f"{ms}-1"])  # fmt: skip
    out = Processor(Controller(), "w").process(batch, {})
    assert [e.id for e, _ in out.dead] == [
        f"{ms}-1"
    ] and "after its queueing (2025-07-01T12:00:00)" in out.dead[0][1]
    out = Processor(Controller(), "w", max_skew=timedelta(minutes=15)).process(batch, {})  # configurable
    assert out.dead == []


def test_a_reading_from_9999_neither_evicts_real_readings_nor_freezes_the_device():
    """The issue's case, with a time zone east of UTC (where every later event died of
    OverflowError): the 9999 reading alone is dead-lettered, and the real ones decide."""
    t0 = now() - timedelta(minutes=30)
    events = [make_event("d1", "device", time=t0, event_id="dv", timezone="Asia/Tokyo"),
              make_event("d1", "target", time=t0, event_id="t", mode="comfort")]  # fmt: skip
    events += [reading("d1", t0 + timedelta(minutes=m), f"r{m}", 24.0) for m in range(5)]
    events.append(reading("d1", FAR, "r9999", 24.0))
    events += [reading("d1", t0 + timedelta(minutes=m), f"r{m}", 29.0) for m in range(5, 8)]
    out = Processor(Controller(), "w").process(entries(*events), {})
    assert [e.id for e, _ in out.dead] == ["8"]
    assert [d["decision_id"] for d in out.docs] == [f"r{m}" for m in range(8)]
    state = kept(out)
    assert [r.timestamp for r in state.readings] == [t0 + timedelta(minutes=m) for m in range(8)]
    assert state.last_time == t0 + timedelta(minutes=7)
    assert out.commands and json.loads(out.commands[-1][1])["mode"] == "cool"  # the real 29 °C is acted on


def test_a_state_poisoned_before_recovers_when_it_is_loaded():
    """A state stored before event times were checked: a 9999 reading that evicted the real
    ones, a 9999 AC state, skynet's command and power switch at 9999. Loaded, the future is
    dropped and the next real reading is decided on; the compressor protection still runs
    from the latest moment the state can trust."""
    t = now()
    poisoned = DeviceState("d1")
    target = parse_event(
        make_event("d1", "target", time=t - timedelta(hours=1), event_id="t", mode="comfort")
    )
    poisoned.apply(target, "t", target.time)
    for name, at in (("r0", t - timedelta(minutes=2)), ("r9999", FAR)):
        event = parse_event(reading("d1", at, name))
        poisoned.apply(event, name, at)
    poisoned.appliance = parse_event(make_event("d1", "appliance", time=FAR, power=False)).record(FAR)
    poisoned.safety = {"power": False, "power_since": FAR.isoformat(), "commands": [FAR.isoformat()]}
    assert [r.timestamp for r in poisoned.readings] == [FAR] and poisoned.last_time == FAR

    out = Processor(Controller(), "w").process(
        entries(reading("d1", t, "r1", 29.0)), {"d1": poisoned.to_json()}
    )
    state = kept(out)
    assert [r.timestamp for r in state.readings] == [t] and state.last_time == t
    assert state.appliance is None and state.target.mode == "comfort"
    safety = state.safety
    assert safety["commands"] == [] and t < datetime.fromisoformat(safety["power_since"]) <= t + timedelta(
        minutes=11
    )
    (doc,) = out.docs
    assert doc["decision_id"] == "r1" and doc["time"] == t
    assert doc["command"] is None and "minimum off time" in doc["reason"]["safety"][-1]  # held, not frozen


def test_old_news_never_replaces_newer_data_nor_decides():
    t = now() - timedelta(hours=1)
    events = [
        make_event("d1", "target", time=t + timedelta(minutes=10), event_id="t-new", mode="comfort"),
        reading("d1", t + timedelta(minutes=10), "r10", 28.0),
        make_event("d1", "weather", time=t + timedelta(minutes=10), event_id="w-new", temperature=33.0),
        make_event(
            "d1", "appliance", time=t + timedelta(minutes=11), event_id="a-new", power=True, mode="cool"
        ),
        make_event("d1", "target", time=t, event_id="t-old", mode="off"),  # late: must not win
        make_event("d1", "weather", time=t, event_id="w-old", temperature=5.0),
        make_event("d1", "appliance", time=t, event_id="a-old", power=False),
        reading("d1", t + timedelta(minutes=5), "r5", 20.0),  # late, within the history kept
        reading("d1", datetime(1970, 1, 2), "r1970", 20.0),  # a reset clock: far too old to keep
    ]
    out = Processor(Controller(), "w").process(entries(*events), {})
    assert out.dead == []
    state = kept(out)
    assert (state.target.mode, state.weather.temperature, state.appliance.power) == ("comfort", 33.0, True)
    assert [r.timestamp for r in state.readings] == [t + timedelta(minutes=5), t + timedelta(minutes=10)]
    assert state.applied == 9 and state.last_time == t + timedelta(minutes=11)
    assert [d["decision_id"] for d in out.docs] == ["r10"]  # the late ones decided nothing


def test_decisions_are_made_at_the_devices_clock_never_before_it():
    """A new reading dated before an AC change the device already reported is decided at the
    device's clock: the safety rules' time never runs backwards."""
    t = now() - timedelta(hours=1)
    events = [
        make_event("d1", "target", time=t, event_id="t", mode="comfort"),
        reading("d1", t, "r0", 24.0),
        make_event("d1", "appliance", time=t + timedelta(minutes=20), event_id="a", power=False),
        reading("d1", t + timedelta(minutes=15), "r15", 29.0),
    ]
    out = Processor(Controller(), "w").process(entries(*events), {})
    assert [(d["decision_id"], d["time"]) for d in out.docs] == [
        ("r0", t),
        ("r15", t + timedelta(minutes=20)),
    ]
    assert "minimum off time" in out.docs[-1]["reason"]["safety"][-1]  # off since :20, held at :20
