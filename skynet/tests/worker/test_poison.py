"""Finding 1 of issue 10, the poison pill: one bad event is one dead letter, never a crash loop.

An event whose field held ``'[' * 200000 + ']' * 200000`` raised ``RecursionError`` out of
``parse_event``: the Redis worker died on it at every start and, after six deliveries,
dead-lettered its whole batch; the embedded feeder thread died on it and the worker exited 0
with the rest of its input dropped. Here: the parser turns any failure into a ``DataError``
(size and nesting limits checked before decoding), the batch goes on, a worker that *does* die
on an event re-reads it alone so it alone is dead-lettered, and the embedded worker reads every
line or fails loudly.
"""

from __future__ import annotations

import io
import json
import uuid
from datetime import datetime, timedelta

import pytest

from skynet.control import Controller
from skynet.errors import DataError
from skynet.storage.decisions import open_decision_log
from skynet.storage.live import Entry, open_live_store
from skynet.worker import Processor, Worker, WorkerOptions, make_event, parse_event

T0 = datetime(2025, 7, 1, 12, 0)
NESTED = "[" * 200_000 + "]" * 200_000  # the payload (400 kB)
DEEP = "[" * 5_000 + "]" * 5_000  # as deadly, and short enough for the size limit to let it through
FAST = WorkerOptions(batch=16, block_ms=20, lease_ms=1000, heartbeat_ms=100)


def reading(device: str, minute: int, temperature: float = 28.0) -> str:
    return make_event(device, "reading", time=T0 + timedelta(minutes=minute), event_id=f"{device}-r{minute}",
                      temperature=temperature, humidity=55.0, outdoor_temperature=33.0)  # fmt: skip


def target(device: str) -> str:
    return make_event(device, "target", time=T0, event_id=f"{device}-t", mode="comfort")


def poison(device: str, text: str = DEEP) -> str:
    return f'{{"device_id": "{device}", "type": "reading", "temperature": {text}}}'


def entries(*payloads: tuple[str, str]) -> list[Entry]:
    return [Entry(0, str(i + 1), text, 1, key) for i, (key, text) in enumerate(payloads)]


# -- the parser ---------------------------------------------------------------------------------


def test_a_deeply_nested_event_is_a_data_error_not_a_recursion_error():
    with pytest.raises(DataError, match="nested more than 8 levels deep"):
        parse_event(poison("d1"))
    with pytest.raises(DataError, match="the event is 400,055 characters long \\(at most 16,384\\)"):
        parse_event(poison("d1", NESTED))  # too long to be read at all


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (poison("d1", "1e400"), "temperature must be a finite number"),  # inf
        ('{"device_id": "d1", "type": "reading", "temperature": 20, "occupancy": 1e400}', "finite"),
        ('{"device_id": "d1", "type": "reading", "temperature": 20, "occupancy": NaN}', "finite"),
        ('{"device_id": "d1", "type": "reading", "temperature": 20, "time": "0001-01-01T00:00:00+05:00"}',
         "not an ISO 8601 time"),  # fmt: skip
        (
            '{"device_id": "d1", "type": "reading", "temperature": 20, "time": "1969-12-31T23:59:00"}',
            "before 1970",
        ),
        (poison("d1", "20") + " " * 20_000, "20,0.. characters long"),  # too long, even if the JSON is fine
        (b'{"device_id": "d1", "type": "reading", "temperature": 20, "user": "\xff"}', "not UTF-8"),
        ('{"device_id": "d1", "type": "device", "timezone": "Mars/Olympus_Mons"}', "not a known time zone"),
        ('{"device_id": "d1", "type": "device", "timezone": "../../etc/passwd"}', "not a known time zone"),
        ('{"device_id": "' + "d" * 100_000 + '", "type": "reading", "temperature": 20}', "characters long"),
        (
            '{"device_id": "d1", "type": "feedback", "value": 1, "user_id": "\\ud800"}',
            "user_id is not valid UTF-8",
        ),
        ('{"device_id": "d\udcff", "type": "reading", "temperature": 20}', "the event is not valid UTF-8"),
        ('{"device_id": "d1", "type": ["reading"], "temperature": 20}', "event type"),  # unhashable
    ],
)
def test_a_payload_nobody_foresaw_is_a_data_error_that_says_what_is_wrong(payload, message):
    with pytest.raises(DataError, match=message) as raised:
        parse_event(payload)
    assert len(str(raised.value)) < 400  # echoed values are cut


def test_the_limits_are_the_callers_to_choose():
    text = reading("d1", 0)
    with pytest.raises(DataError, match=r"long \(at most 50\)"):
        parse_event(text, max_size=50)
    with pytest.raises(DataError, match="nested more than 1 levels"):
        parse_event(poison("d1", "[20]"), max_depth=1)
    assert parse_event(text, max_size=len(text)).device_id == "d1"


# -- a batch -----------------------------------------------------------------------------------------


def test_a_poison_pill_is_dead_lettered_alone_and_the_rest_of_the_batch_is_processed():
    batch = entries(("d1", target("d1")), ("d1", reading("d1", 0)), ("d1", poison("d1")), ("d2", reading("d2", 0)),
                    ("d1", poison("d1", "1e400")), ("d1", poison("d1", NESTED)), ("d1", reading("d1", 1, 28.5)))  # fmt: skip
    out = Processor(Controller(), "w").process(batch, {})
    assert out.acks == ["1", "2", "3", "4", "5", "6", "7"]
    assert [e.id for e, _ in out.dead] == ["3", "5", "6"]
    reasons = [why for _, why in out.dead]
    assert all(why.startswith("malformed event: ") for why in reasons)
    assert (
        "nested more than 8 levels" in reasons[0]
        and "finite" in reasons[1]
        and "characters long" in reasons[2]
    )
    assert [d["decision_id"] for d in out.docs] == ["d1-r0", "d2-r0", "d1-r1"]
    assert json.loads(out.states["d1"])["applied"] == 3


# -- a worker that dies on an event -----------------------------------------------------------------


class Crash(BaseException):  # noqa: N818 - stands for the process dying, not an error it handles
    """The worker process dies mid-batch (a segfault, the OOM killer): nothing is committed."""


class Deadly(Controller):
    """Decides like the thermostat, and kills the worker when it decides for device ``poison``."""

    def decide_many(self, requests):  # the one decision path (decide is a batch of one)
        if any(request.context.device_id == "poison" for request in requests):
            raise Crash
        return super().decide_many(requests)


def _live(kind: str, request) -> object:
    if kind == "memory":
        return open_live_store(f"memory://poison-{uuid.uuid4().hex}", partitions=1)
    url = request.getfixturevalue("redis_url")
    return open_live_store(f"{url}&partitions=1")


@pytest.mark.parametrize("kind", ["memory", pytest.param("redis", marks=pytest.mark.integration)])
def test_an_event_that_kills_its_workers_is_dead_lettered_alone(kind, request):
    """Restart after restart, the event a worker dies on is re-read alone; after
    ``max_deliveries`` it alone goes to the dead letters, and every other event of its batch is
    decided (they were dead-lettered with it before)."""
    live = _live(kind, request)
    log = open_decision_log(f"memory://poison-log-{uuid.uuid4().hex}")
    devices = ["d1", "d2", "d3"]
    events = [(d, target(d)) for d in [*devices, "poison"]]
    events += [(d, reading(d, m, 27.0 + m)) for m in range(2) for d in devices]
    events.insert(5, ("poison", reading("poison", 0)))
    live.append_events(events)
    starts = 0
    while live.backlog() and starts < 20:
        worker = Worker(live, log, Processor(Deadly(), f"w{starts}"), f"w{starts}", FAST)
        starts += 1
        try:
            worker.run(until=lambda: live.backlog() == 0)
        except Crash:
            continue
    assert live.backlog() == 0, f"still {live.backlog()} events after {starts} starts"
    (letter,) = live.read_dead_letters()
    assert letter.payload == reading("poison", 0) and "delivered 6 times" in letter.reason
    assert sorted(d["decision_id"] for d in log.read()) == sorted(
        f"{d}-r{m}" for d in devices for m in range(2)
    )
    assert 5 <= starts <= 10  # died five times on it, then went on
    live.clear()


# -- the embedded worker -------------------------------------------------------------------------


def test_the_embedded_worker_dead_letters_a_poison_line_and_processes_every_other_line(settings):
    from skynet.api.worker import run_worker

    lines = [target("d1"), reading("d1", 0), poison("d1"), "not json", reading("d1", 1), reading("d1", 2)]
    summary = run_worker(settings, embedded=True, events=io.StringIO("\n".join(lines) + "\n"),
                         controller=Controller())  # fmt: skip
    assert (summary["events"], summary["dead"], summary["decisions"]) == (6, 2, 3)


def test_the_embedded_worker_fails_when_its_input_cannot_be_read(data_dir, tmp_path, capsys):
    """Input that is not text stops the worker with one line and exit 1 once the lines before it
    are processed: never "done" (exit 0) with input left unread."""
    from skynet.cli import main

    path = tmp_path / "events.jsonl"
    good = [target("d1")] + [reading("d1", m) for m in range(100)]  # more than one read of the file
    path.write_bytes(
        "\n".join(good).encode() + b"\n\xff\xfe\x00 binary\n" + f"{reading('d1', 100)}\n".encode()
    )
    with pytest.raises(SystemExit) as exited:
        main(["control", "worker", "--embedded", "--events", str(path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert exited.value.code == 1
    assert err[-1].startswith("Error: events: could not read past line ") and "UnicodeDecodeError" in err[-1]
    assert err[-1].endswith("the rest was not processed")
    read = int(err[-1].split("past line ")[1].split(" ")[0].replace(",", ""))
    states = json.loads((data_dir / "worker" / "states.json").read_text())
    assert 0 < read <= len(good) and json.loads(states["d1"])["applied"] == read  # what was read was kept


def test_each_embedded_run_has_a_queue_of_its_own(settings):
    """Two embedded runs in one process (tests, a notebook) shared one in-process queue: the
    second printed the first one's commands again."""
    from skynet.api.worker import run_worker

    printed: list[str] = []
    lines = io.StringIO(f"{target('d1')}\n{reading('d1', 0, 29.0)}\n")
    run_worker(settings, embedded=True, events=lines, controller=Controller(), on_command=printed.append)
    assert len(printed) == 1
    run_worker(
        settings, embedded=True, events=io.StringIO(""), controller=Controller(), on_command=printed.append
    )
    assert len(printed) == 1


@pytest.mark.integration
def test_bytes_that_are_not_utf8_in_a_redis_stream_are_one_dead_letter(redis_url):
    """A producer writing raw bytes that are not UTF-8 made every read of the stream fail
    (UnicodeDecodeError in the client) and the worker die at every start, the valid events
    read with it included. Now they reach the parser and are dead-lettered, bytes intact."""
    import redis

    live = open_live_store(f"{redis_url}&partitions=1")
    log = open_decision_log(f"memory://poison-log-{uuid.uuid4().hex}")
    raw = redis.Redis.from_url(redis_url.split("?")[0])
    bad = b'{"device_id": "d1", "type": "reading", "temperature": 20, "\xff": 1}'
    try:
        live.append_events([("d1", target("d1")), ("d1", reading("d1", 0))])
        raw.xadd(f"{live.namespace}:events:0", {"k": b"d1", "e": bad})
        live.append_events([("d1", reading("d1", 1))])
        worker = Worker(live, log, Processor(Controller(), "w"), "w", FAST)
        worker.run(until=lambda: live.backlog() == 0)
    finally:
        raw.close()
    (letter,) = live.read_dead_letters()
    assert "not valid UTF-8" in letter.reason
    assert letter.payload.encode("utf-8", "surrogateescape") == bad
    assert [d["decision_id"] for d in log.read()] == ["d1-r0", "d1-r1"]
