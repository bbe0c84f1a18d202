"""``skynet data ingest`` / ``ingest-health`` / ``ingest-drop`` / ``collect`` through the CLI:
what they print, what they store, how they fail."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta

import pytest

from skynet.config import load_settings
from skynet.domain import Feedback, SensorReading
from skynet.storage import open_store
from skynet.storage.live import open_live_store

T0 = datetime(2025, 7, 1, 12, 0)


def one_line_error(capsys, *args: str) -> str:
    from skynet.cli import main

    with pytest.raises(SystemExit) as exited:
        main(list(args))
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


def store_url() -> str:
    from skynet.api._context import records_url

    return records_url(load_settings(None))  # its folder created


@pytest.fixture
def on_redis(redis_url, monkeypatch, data_dir):
    """The CLI's live store is a fresh Redis namespace."""
    monkeypatch.setenv("SKYNET_STORAGE_LIVE_URL", redis_url)
    return redis_url


@pytest.mark.integration
def test_events_sent_with_send_event_are_ingested_once(runner, cli, on_redis):
    for minute, args in enumerate([["--type", "reading", "--temperature", "25.5", "--field", "outdoor_temperature=30"],
                                   ["--type", "feedback", "--value", "-1", "--field", "user_id=u7"]]):  # fmt: skip
        at = (T0 + timedelta(minutes=minute)).isoformat()
        sent = runner.invoke(
            cli, ["control", "send-event", "--device", "d1", "--at", at, "--event-id", f"e{minute}", *args]
        )
        assert sent.exit_code == 0, sent.output
    result = runner.invoke(cli, ["data", "ingest", "--once"])
    assert result.exit_code == 0, result.output
    assert (
        result.stdout.startswith("ingested 2 events from redis://") and "; 0 left to ingest" in result.stdout
    )
    rows = [line.split() for line in result.stdout.splitlines()[3:6]]
    assert rows == [["feedback", "1"], ["sensor_reading", "1"], ["weather", "1"]]
    with open_store(store_url()) as store:
        assert store.read(SensorReading) == [SensorReading("d1", T0, 25.5)]
        assert store.read(Feedback) == [Feedback("d1", T0 + timedelta(minutes=1), -1.0, user_id="u7")]

    again = runner.invoke(cli, ["control", "send-event", "--device", "d1", "--type", "reading", "--temperature",
                                "25.5", "--at", T0.isoformat(), "--event-id", "e0"])  # fmt: skip
    assert again.exit_code == 0
    second = runner.invoke(cli, ["data", "ingest", "--once", "--format", "json"])
    summary = json.loads(second.stdout)
    assert summary["events"] == 1 and summary["stored"] == {} and summary["duplicates"] == 1


@pytest.mark.integration
def test_once_with_a_locked_store_exits_1_and_acknowledges_nothing(runner, cli, on_redis, capsys):
    sent = runner.invoke(
        cli, ["control", "send-event", "--device", "d1", "--type", "reading", "--temperature", "25"]
    )
    assert sent.exit_code == 0
    open_store(store_url()).close()
    lock = sqlite3.connect(store_url()[len("sqlite:///") :], isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        err = one_line_error(capsys, "data", "ingest", "--once")
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert err.startswith("Error: sql[sqlite]: ") and "database is locked" in err
    with open_live_store(on_redis) as live:
        assert live.pending(group="ingest") == 1 and live.backlog(group="ingest") == 1
    retried = runner.invoke(cli, ["data", "ingest", "--once", "--claim-idle-ms", "0", "--format", "json"])
    assert json.loads(retried.stdout)["stored"] == {"sensor_reading": 1}


@pytest.mark.integration
def test_ingest_drop_removes_the_group(runner, cli, on_redis):
    assert runner.invoke(cli, ["data", "ingest", "--once"]).exit_code == 0
    with open_live_store(on_redis) as live:
        assert set(live.groups()) == {"workers", "ingest"}
        result = runner.invoke(cli, ["data", "ingest-drop", "--yes"])
        assert result.exit_code == 0, result.output
        assert "dropped the ingest group" in result.stdout and live.groups() == {"workers": 0}


def test_a_file_of_events_is_ingested_without_a_server(runner, cli, tmp_path):
    from skynet.worker import make_event

    lines = [
        make_event("d1", "reading", time=T0 + timedelta(minutes=i), temperature=20.0 + i) for i in range(5)
    ]
    lines += ["garbage", make_event("d2", "target", time=T0, mode="off")]
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines) + "\n")
    beat = tmp_path / "beat.json"
    result = runner.invoke(cli, ["data", "ingest", "--events", str(events), "--batch", "2", "--heartbeat-file",
                                 str(beat), "--format", "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["events"] == 7 and summary["stored"] == {"sensor_reading": 5, "control_target": 1}
    assert summary["skipped"] == {"malformed": 1} and summary["live"].startswith("memory://ingest-")
    with open_store(store_url()) as store:
        assert [r.temperature for r in store.read(SensorReading, "d1")] == [20.0, 21.0, 22.0, 23.0, 24.0]
    # the run is over: its heartbeat says so, and the health check fails with one reason
    health = runner.invoke(cli, ["data", "ingest-health", "--heartbeat-file", str(beat)])
    assert health.exit_code == 1 and json.loads(health.stdout)["problem"] == "the ingester stopped"
    missing = runner.invoke(cli, ["data", "ingest-health", "--heartbeat-file", str(tmp_path / "none.json")])
    assert missing.exit_code == 1 and "none.json" in json.loads(missing.stdout)["problem"]


def test_ingest_without_a_live_store_or_a_file_is_one_line(capsys, data_dir):
    err = one_line_error(capsys, "data", "ingest")
    assert err.startswith("Error: storage.live_url is empty") and "--events FILE" in err


# -- data collect -----------------------------------------------------------------------------


@pytest.fixture
def arrived(data_dir):
    """A day of readings every 10 min from two devices, none 06:00–08:10; one vote."""
    day = datetime(2025, 7, 1)
    times = [day + timedelta(minutes=10 * i) for i in range(144)]
    readings = [
        SensorReading(d, t, 24.0)
        for d in ("a", "b")
        for t in times
        if not 6 * 60 <= (t - day).seconds // 60 < 8 * 60 + 10
    ]
    with open_store(store_url()) as store:
        store.write([*readings, Feedback("a", day + timedelta(hours=9), 1.0)])
    return day


def test_collect_prints_what_arrived(runner, cli, arrived):
    result = runner.invoke(cli, ["data", "collect", "--start", "2025-07-01", "--end", "2025-07-02", "--kinds",
                                 "sensor_reading,feedback", "--max-gap", "sensor_reading=180"])  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("arrived 2025-07-01 00:00 .. 2025-07-02 00:00 in sqlite:")
    assert lines[1].split() == ["kind", "rows", "devices", "first", "last", "largest_gap_min", "max_gap_min"]
    assert lines[3].split() == ["sensor_reading", "262", "2", "2025-07-01", "00:00:00", "2025-07-01", "23:50:00",
                                "140.0", "180.0"]  # fmt: skip
    assert (
        lines[4].split()[:3] == ["feedback", "1", "1"] and lines[4].split()[-1] == "900.0"
    )  # 09:00 .. the end


def test_collect_fails_in_one_line_on_a_gap_a_missing_kind_or_too_few_devices(capsys, arrived):
    err = one_line_error(
        capsys, "data", "collect", "--start", "2025-07-01", "--end", "2025-07-02", "--max-gap", "60"
    )
    assert err == ("Error: collect 2025-07-01 00:00 .. 2025-07-02 00:00 in sqlite:///" + store_url()[10:]
                   + ": sensor_reading: no record for 140 min, 2025-07-01 05:50 .. 2025-07-01 08:10 (at most 60)\n")  # fmt: skip
    err = one_line_error(capsys, "data", "collect", "--start", "2025-07-01", "--end", "2025-07-02", "--kinds",
                         "sensor_reading,weather", "--min-devices", "3")  # fmt: skip
    assert err.endswith(": sensor_reading: records from 2 devices (at least 3); weather: no records\n")
    err = one_line_error(capsys, "data", "collect", "--start", "2025-07-03", "--end", "2025-07-03")
    assert "the interval is empty" in err


def test_collect_json_and_a_kind_it_does_not_know(runner, cli, arrived):
    result = runner.invoke(cli, ["data", "collect", "--start", "2025-07-01T05:00:00", "--end", "2025-07-01T06:00:00",
                                 "--format", "json"])  # fmt: skip
    (row,) = json.loads(result.stdout)["kinds"]
    assert row["rows"] == 12 and row["largest_gap_min"] == 10.0 and row["gap_to"] == "2025-07-01 05:10:00"
    bad = runner.invoke(
        cli, ["data", "collect", "--start", "2025-07-01", "--end", "2025-07-02", "--kinds", "device"]
    )
    assert bad.exit_code == 2 and "'device' is not one of sensor_reading" in bad.output
