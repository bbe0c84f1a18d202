"""``skynet control worker / send-event / health``: embedded end to end, and on a real Redis."""

from __future__ import annotations

import json

import pytest

from skynet.api.worker import EMBEDDED_URL
from skynet.storage.decisions import open_decision_log


def send(runner, cli, *args: str) -> str:
    result = runner.invoke(cli, ["control", "send-event", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_embedded_worker_runs_events_piped_from_send_event(runner, cli, data_dir):
    lines = send(runner, cli, "--device", "d1", "--type", "target", "--mode", "comfort", "--embedded",
                 "--at", "2025-07-01T12:00:00", "--event-id", "t1")  # fmt: skip
    for minute, temperature in enumerate(["27.5", "28", "28.2"], start=1):
        lines += send(runner, cli, "--device", "d1", "--type", "reading", "--temperature", temperature,
                      "--humidity", "55", "--field", "outdoor_temperature=33", "--field", "occupancy=1", "--embedded",
                      "--at", f"2025-07-01T12:0{minute}:00", "--event-id", f"r{minute}")  # fmt: skip
    lines += '{"device_id": "d1", "type": "reading"}\n'
    assert json.loads(lines.splitlines()[1])["outdoor_temperature"] == 33

    result = runner.invoke(cli, ["control", "worker", "--embedded", "--consumer", "demo"], input=lines)
    assert result.exit_code == 0, result.output
    commands = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(c["decision_id"], c["mode"], c["power"]) for c in commands] == [("r1", "cool", True)]
    summary = json.loads(result.stderr.strip().splitlines()[-1])
    assert (summary["consumer"], summary["events"], summary["decisions"], summary["dead"]) == (
        "demo",
        5,
        3,
        1,
    )

    with open_decision_log(f"sqlite:///{data_dir / 'skynet.db'}") as log:  # the embedded decision log
        docs = log.read("d1")
    assert [d["decision_id"] for d in docs] == ["r1", "r2", "r3"]
    assert [d["consumer"] for d in docs] == ["demo"] * 3 and docs[0]["command"]["set_temperature"] == 26.0

    # the device states outlive the process: the same reading again is recognised and ignored
    again = runner.invoke(cli, ["control", "worker", "--embedded"], input=lines.splitlines()[-2] + "\n")
    assert again.exit_code == 0 and json.loads(again.stderr.strip().splitlines()[-1])["duplicates"] == 1


def one_line_error(capsys, *args: str) -> str:
    from skynet.cli import main

    with pytest.raises(SystemExit) as exited:
        main(list(args))
    assert exited.value.code == 1
    return capsys.readouterr().err


def test_send_event_refuses_a_malformed_event(capsys, data_dir):
    err = one_line_error(
        capsys, "control", "send-event", "--device", "d1", "--type", "feedback", "--value", "9"
    )
    assert err == "Error: feedback value 9.0 is outside the scale -3 … +3\n"


def test_embedded_health_needs_a_heartbeat_file(runner, cli, data_dir, capsys):
    err = one_line_error(capsys, "control", "health")
    assert err.startswith("Error: storage.live_url is empty") and "--heartbeat-file" in err
    beat = data_dir / "beat.json"
    runner.invoke(cli, ["control", "worker", "--embedded", "--heartbeat-file", str(beat)], input="")
    stale = runner.invoke(cli, ["control", "health", "--heartbeat-file", str(beat)])
    assert stale.exit_code == 1 and json.loads(stale.stdout)["healthy"] is False  # it said it stopped
    missing = runner.invoke(cli, ["control", "health", "--heartbeat-file", str(data_dir / "nope.json")])
    assert missing.exit_code == 1


@pytest.mark.integration
def test_send_event_queues_on_redis_and_health_sees_a_worker(runner, cli, redis_url, monkeypatch):
    from skynet.storage.live import open_live_store

    monkeypatch.setenv("SKYNET_STORAGE_LIVE_URL", redis_url)
    out = send(runner, cli, "--device", "d9", "--type", "reading", "--temperature", "25")
    assert json.loads(out)["device_id"] == "d9"
    with open_live_store(redis_url) as live:
        assert live.backlog() == 1
        down = runner.invoke(cli, ["control", "health"])
        assert down.exit_code == 1 and json.loads(down.stdout)["healthy"] is False
        live.heartbeat("w1", {"pid": 1}, ttl_ms=10_000)
        up = runner.invoke(cli, ["control", "health", "--consumer", "w1"])
        assert up.exit_code == 0 and json.loads(up.stdout)["workers"]["w1"]["pid"] == 1
        assert runner.invoke(cli, ["control", "health", "--consumer", "w2"]).exit_code == 1
    assert EMBEDDED_URL.startswith("memory://")


def test_a_served_worker_needs_a_live_store(capsys, data_dir):
    err = one_line_error(capsys, "control", "worker")
    assert err.startswith("Error: storage.live_url is empty") and "--embedded" in err
