"""``skynet control send-event --field``: issue 10 found ``--field time=...`` ending in an internal
TypeError (the field reached ``make_event`` beside its own ``time`` argument). A field named like
one of the event's own parts is now taken for it, or refused with one line."""

from __future__ import annotations

import json
from typing import Any

import pytest

from skynet.api.worker import send_event


def run(capsys, *args: str) -> tuple[int, str, str]:
    from skynet.cli import main

    code: Any = 0
    try:
        main(["control", "send-event", "--device", "d1", "--type", "reading", "--temperature", "22", "--embedded",
              *args])  # fmt: skip
    except SystemExit as exited:
        code = exited.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_time_given_as_a_field_is_the_events_time(capsys, data_dir):
    code, out, err = run(capsys, "--field", "time=2025-07-01T14:00:00+02:00", "--field", "event_id=e1",
                         "--field", "humidity=55")  # fmt: skip
    assert (code, err) == (0, "")
    event = json.loads(out)
    assert (event["time"], event["event_id"], event["humidity"]) == ("2025-07-01T12:00:00", "e1", 55)


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--at", "2025-07-01T12:00:00", "--field", "time=2025-07-01T12:00:00"], "the event time is given twice"),
     (["--event-id", "a", "--field", "event_id=b"], "the event id is given twice"),
     (["--field", "time=noon"], "time 'noon' is not an ISO 8601 time"),
     (["--field", "time=1900-01-01T00:00:00"], "before 1970"),
     (["--field", "device_id=d2"], "device_id is not a field: it is the event's device"),
     (["--field", "type=weather"], "type is not a field: it is the event's type"),
     (["--field", "humidity=50", "--field", "humidity=60"], "field 'humidity' is given twice"),
     (["--field", "temperature=30"], "field 'temperature' is given twice"),
     (["--field", "embedded=true"], "unknown field 'embedded'"),
     (["--field", "settings=1"], "unknown field 'settings'"),
     (["--field", "nothing"], "a field is NAME=VALUE, got 'nothing'"),
     (["--field", "humidity=" + "[" * 50_000], "the event is 50,150 characters long (at most 16,384)"),
     (["--field", "humidity=" + "[" * 5_000], "humidity must be a number"),
     (["--field", "humidity=500"], "humidity 500 is outside the physical limits")],
)  # fmt: skip
def test_a_bad_field_is_one_line_and_exit_1(capsys, data_dir, args, message):
    code, out, err = run(capsys, *args)
    assert code == 1 and out == ""
    assert err.startswith("Error: ") and message in err and err.count("\n") == 1 and len(err) < 600


def test_send_event_takes_fields_as_a_mapping_whatever_their_names(settings):
    """Python callers pass fields as a mapping: no field name can collide with an argument."""
    result = send_event(
        settings, "d1", "appliance", embedded=True, fields={"power": True, "set_temperature": 24}
    )
    assert json.loads(result["event"])["set_temperature"] == 24
