"""Fuzzing the event parser (Hypothesis): whatever arrives, one ``DataError`` or a valid event.

Bounded so CI stays quick: :data:`EXAMPLES` examples in all (listed per test below), about
10 s. Every test checks the same contract: :func:`~skynet.worker.parse_event` returns an
:class:`~skynet.worker.Event` whose values are within their physical limits, or raises
:class:`~skynet.errors.DataError` with a short message; nothing else ever escapes, and a batch
of anything never stops :meth:`Processor.process <skynet.worker.Processor.process>`.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skynet.control import Controller
from skynet.domain import AC_MODES, FAN_SPEEDS, TARGET_MODES
from skynet.errors import DataError
from skynet.storage.live import Entry
from skynet.worker import EVENT_TYPES, LIMITS, Event, Processor, event_key, make_event, parse_event
from skynet.worker._events import EARLIEST

#: Examples per test; their sum is what CI runs.
PER_TEST = {"json": 300, "event_like": 400, "text": 300, "round_trip": 200, "batch": 100}
EXAMPLES = sum(PER_TEST.values())  # 1,300
FIELDS = sorted({*LIMITS, "mode", "power", "fan", "origin", "timezone", "user_id", "value"})

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.text(st.characters(categories=["Cs", "Lu", "Nd", "Po"]), max_size=10)  # lone surrogates too
    | st.sampled_from(
        ["NaN", "Infinity", "", "2025-07-01T12:00:00", "9999-12-31T23:59:59", "0001-01-01T00:00:00+14:00"]
    )
)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=25)  # fmt: skip
field_values = scalars | st.lists(scalars, max_size=2)  # cheaper than json_values in every field
times = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(datetime.isoformat),
    st.datetimes().map(lambda d: d.isoformat() + "+14:00"),
    st.datetimes().map(lambda d: d.isoformat() + "-12:00"),
    json_values,
)
event_like = st.fixed_dictionaries(
    {"device_id": st.one_of(st.sampled_from(["d1", "", "x" * 65]), json_values),
     "type": st.one_of(st.sampled_from(EVENT_TYPES), json_values)},
    optional={"event_id": st.one_of(st.text(max_size=130), json_values), "time": times,
              **{name: field_values for name in FIELDS},
              "mode": st.sampled_from([*AC_MODES, *TARGET_MODES, "turbo"]), "fan": st.sampled_from([*FAN_SPEEDS, "x"]),
              "timezone": st.sampled_from(["Europe/Paris", "UTC", "Mars/Base", "../../etc/passwd", "", "a" * 200])},
)  # fmt: skip


def check(payload: str | bytes) -> Event | None:
    """The contract: a valid event within its limits, or a short DataError; nothing else."""
    assert isinstance(event_key(payload), str)  # the embedded feeder's look-up never raises either
    try:
        event = parse_event(payload)
    except DataError as exc:
        assert 0 < len(str(exc)) < 600, str(exc)[:1000]
        return None
    assert isinstance(event.device_id, str) and 0 < len(event.device_id) <= 64
    assert event.type in EVENT_TYPES
    assert event.time is None or event.time >= EARLIEST
    for name, value in event.fields.items():
        if isinstance(value, float):
            assert math.isfinite(value)
        if name in LIMITS and event.type not in ("weather", "target"):
            low, high, _ = LIMITS[name]
            assert low <= value <= high, (name, value)
    lowest, highest = event.fields.get("min_set_temperature"), event.fields.get("max_set_temperature")
    assert lowest is None or highest is None or lowest <= highest
    return event


@settings(max_examples=PER_TEST["json"], deadline=None)
@given(value=json_values)
def test_fuzz_any_json_value(value):
    check(json.dumps(value))


@settings(max_examples=PER_TEST["event_like"], deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=event_like)
def test_fuzz_event_like_objects(data):
    check(json.dumps(data))


@settings(max_examples=PER_TEST["text"], deadline=None)
@given(text=st.one_of(st.text(max_size=200), st.binary(max_size=200), st.text(st.characters(categories=["Cs", "Ps", "Pe"])),
                      st.tuples(st.integers(0, 120), st.integers(1, 30_000), st.sampled_from("[{\"\\ ,:")).map(
                          lambda t: _mutate(*t))))  # fmt: skip
def test_fuzz_raw_text_bytes_and_mutated_events(text):
    check(text)


def _mutate(at: int, times: int, char: str) -> str:
    """A valid event with ``char`` repeated ``times`` times inserted at ``at`` (deep nesting,
    broken strings, huge whitespace)."""
    valid = make_event(
        "d1", "reading", time=datetime(2025, 7, 1), event_id="e", temperature=22.0, humidity=50.0
    )
    return valid[:at] + char * times + valid[at:]


@settings(max_examples=PER_TEST["round_trip"], deadline=None)
@given(
    temperature=st.floats(-40, 70),
    humidity=st.one_of(st.none(), st.floats(0, 100)),
    occupancy=st.one_of(st.none(), st.integers(0, 1000)),
    at=st.datetimes(min_value=EARLIEST, max_value=datetime(2200, 1, 1)),
)
def test_fuzz_valid_events_round_trip(temperature, humidity, occupancy, at):
    text = make_event("d1", "reading", time=at, event_id="e", temperature=temperature, humidity=humidity,
                      occupancy=occupancy)  # fmt: skip
    event = check(text)
    assert event is not None and event.time == at and event.fields["temperature"] == temperature
    assert event.fields.get("humidity") == humidity and event.fields.get("occupancy") == occupancy


@settings(max_examples=PER_TEST["batch"], deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads=st.lists(st.one_of(event_like.map(json.dumps), st.text(max_size=50),
                                   st.integers(0, 40).map(lambda m: make_event(
                                       "d1", "reading", time=datetime(2025, 7, 1) + timedelta(minutes=m),
                                       temperature=20.0 + m / 4)),
                                   st.just(make_event("d1", "target", time=datetime(2025, 7, 1), mode="comfort"))),
                         min_size=1, max_size=20))  # fmt: skip
def test_fuzz_a_batch_of_anything_is_acknowledged_and_never_stops_the_worker(payloads):
    batch = [Entry(0, str(i + 1), text, 1, "d1") for i, text in enumerate(payloads)]
    out = Processor(Controller(), "fuzz").process(batch, {})
    assert out.acks == [e.id for e in batch]
    dead = {e.id for e, _ in out.dead}
    assert all(len(why) < 700 for _, why in out.dead)
    assert {d["entry"].split("/")[1] for d in out.docs}.isdisjoint(dead)
    for _, command in out.commands:
        tset = json.loads(command)["set_temperature"]
        assert tset is None or 16.0 <= tset <= 30.0
