"""``skynet db``: upgrade, current and describe on the embedded SQLite store."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from skynet.config import load_settings
from skynet.domain import Device, SensorReading
from skynet.storage import open_store
from skynet.storage.sql import SqlStore, current_revision, head_revision


def _url() -> str:
    settings = load_settings(None)
    return settings.path(settings.storage.url)


def test_upgrade_then_current_shows_head(runner, cli, data_dir):
    before = runner.invoke(cli, ["db", "current"])
    assert before.exit_code == 0, before.output
    assert "revision: (none)" in before.output and "run `skynet db upgrade`" in before.output
    result = runner.invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"schema at revision {head_revision()}" in result.output
    assert current_revision(_url()) == head_revision()  # what was stored, not only what was said
    after = runner.invoke(cli, ["db", "current", "--format", "json"])
    state = json.loads(after.output)
    assert state["revision"] == state["head"] == head_revision() and state["up_to_date"] is True
    assert str(data_dir) in state["url"]


def test_current_does_not_migrate(runner, cli, data_dir):
    assert runner.invoke(cli, ["db", "current"]).exit_code == 0
    assert current_revision(_url()) is None


def test_describe_counts_records_per_kind(runner, cli, data_dir):
    data_dir.mkdir(parents=True)
    with open_store(_url()) as store:
        store.write(
            [Device("a"), Device("b")] + [SensorReading("a", datetime(2024, 1, 1, h), 20.0) for h in range(5)]
        )
    result = runner.invoke(cli, ["db", "describe", "--format", "json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert (
        info["counts"]["device"] == 2
        and info["counts"]["sensor_reading"] == 5
        and info["counts"]["feedback"] == 0
    )
    assert info["adapter"] == "sql[sqlite]" and info["schema_revision"] == head_revision()
    table = runner.invoke(cli, ["db", "describe"])
    assert table.exit_code == 0
    assert any(line.split() == ["sensor_reading", "5"] for line in table.output.splitlines())


def test_upgrade_of_a_non_sql_store_is_one_line_error(monkeypatch, data_dir, capsys):
    from skynet.cli import main

    monkeypatch.setenv("SKYNET_STORAGE_URL", "memory://cli-test")
    with pytest.raises(SystemExit) as exited:
        main(["db", "upgrade"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert (
        err
        == "Error: storage.url memory://cli-test is not a SQL database: `skynet db` manages SQL schemas only\n"
    )


def test_auto_migrate_off_asks_for_upgrade(runner, cli, data_dir, monkeypatch):
    monkeypatch.setenv("SKYNET_STORAGE_AUTO_MIGRATE", "false")
    result = runner.invoke(cli, ["db", "describe"])
    assert result.exit_code != 0 and "skynet db upgrade" in str(result.exception)
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(cli, ["db", "describe"]).exit_code == 0
    assert SqlStore(_url(), auto_migrate=False).revision() == head_revision()
