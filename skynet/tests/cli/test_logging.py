"""Logging of the CLI: ``general.log_level`` applied, ``--log-format json`` / ``general.log_format``
as JSON lines, ``--debug`` winning, the control worker's start-up facts at INFO."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from skynet.cli._logging import JsonFormatter, configure_logging
from skynet.worker import make_event


@pytest.fixture
def events(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(make_event("d1", "reading", temperature=22.0) + "\ngarbage\n")
    return str(path)


def log_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def test_the_configured_level_is_applied(runner, cli, events, monkeypatch):
    quiet = runner.invoke(cli, ["data", "ingest", "--events", events])
    assert quiet.exit_code == 0 and quiet.stderr == ""  # WARNING by default: nothing to say
    monkeypatch.setenv("SKYNET_GENERAL_LOG_LEVEL", "info")
    told = runner.invoke(cli, ["data", "ingest", "--events", events])
    lines = log_lines(told.stderr)
    assert (
        len(lines) == 2
        and " INFO skynet.ingest: ingester " in lines[0]
        and lines[0].endswith("16 partitions")
    )
    assert "stopped: {'events': 2" in lines[1]
    monkeypatch.setenv("SKYNET_GENERAL_LOG_LEVEL", "ERROR")
    assert runner.invoke(cli, ["data", "ingest", "--events", events]).stderr == ""
    # --debug wins over the setting
    debug = runner.invoke(cli, ["--debug", "data", "ingest", "--events", events])
    assert any(" INFO skynet.ingest: ingester " in line for line in log_lines(debug.stderr))


def test_json_lines_parse_from_the_option_or_the_setting(runner, cli, events, monkeypatch):
    monkeypatch.setenv("SKYNET_GENERAL_LOG_LEVEL", "INFO")
    for args, env in ((["--log-format", "json"], "text"), ([], "json")):
        monkeypatch.setenv("SKYNET_GENERAL_LOG_FORMAT", env)
        result = runner.invoke(cli, [*args, "data", "ingest", "--events", events])
        assert result.exit_code == 0, result.output
        records = [json.loads(line) for line in log_lines(result.stderr)]
        assert [r["logger"] for r in records] == ["skynet.ingest", "skynet.ingest"]
        assert all(set(r) == {"time", "level", "logger", "message", "pid"} for r in records)
        assert records[0]["level"] == "INFO" and records[0]["message"].startswith("ingester ")
        assert records[0]["time"].endswith("Z") and len(records[0]["time"]) == len("2026-01-01T00:00:00.000Z")


def test_a_json_line_carries_the_exception_and_extra_fields_and_stays_one_line():
    try:
        raise ValueError("bad\nworse")
    except ValueError:
        record = logging.getLogger("skynet.test").makeRecord(
            "skynet.test", logging.ERROR, __file__, 1, "event %s: \udcff", ("0/1",), sys.exc_info(),
            extra={"device": "d1", "batch": 3},
        )  # fmt: skip
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "event 0/1: \udcff" and parsed["device"] == "d1" and parsed["batch"] == 3
    assert parsed["exception"].startswith("Traceback") and "ValueError: bad\nworse" in parsed["exception"]


def test_skynet_logs_at_its_level_other_libraries_from_warning_on(capsys):
    restore = configure_logging("DEBUG", "text")
    try:
        logging.getLogger("skynet.storage").debug("ours")
        logging.getLogger("alembic.runtime").info("theirs")
        logging.getLogger("alembic.runtime").warning("their warning")
    finally:
        restore()
    err = capsys.readouterr().err
    assert "DEBUG skynet.storage: ours" in err and "their warning" in err and "theirs\n" not in err
    assert not [h for h in logging.getLogger().handlers if type(h).__name__ == "_Stderr"]  # undone


def test_a_wrong_level_or_format_is_one_line(capsys, monkeypatch, data_dir):
    from skynet.cli import main

    for variable, value, message in (
        ("SKYNET_GENERAL_LOG_LEVEL", "verbose", "Error: environment variable SKYNET_GENERAL_LOG_LEVEL: log level must "
                                                "be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not 'verbose'\n"),
        ("SKYNET_GENERAL_LOG_FORMAT", "xml", "Error: environment variable SKYNET_GENERAL_LOG_FORMAT: log format must "
                                             "be one of text, json, not 'xml'\n"),
    ):  # fmt: skip
        monkeypatch.setenv(variable, value)
        with pytest.raises(SystemExit) as exited:
            main(["config", "check"])
        assert exited.value.code == 1 and capsys.readouterr().err == message
        monkeypatch.delenv(variable)


def test_the_worker_logs_its_models_and_partitions_at_info_on_start(runner, cli, events, monkeypatch):
    monkeypatch.setenv("SKYNET_GENERAL_LOG_LEVEL", "INFO")
    result = runner.invoke(
        cli, ["--log-format", "json", "control", "worker", "--embedded", "--events", events]
    )
    assert result.exit_code == 0, result.output
    messages = [
        json.loads(line)["message"] for line in log_lines(result.stderr)[:-1]
    ]  # the last: its summary
    assert any("events from memory://embedded-worker" in m and "(16 partitions" in m for m in messages)
    assert any(m.startswith("worker models: estimator none (no estimation@production") for m in messages)
    assert any(m.endswith(f"took partitions {list(range(16))}") for m in messages)
