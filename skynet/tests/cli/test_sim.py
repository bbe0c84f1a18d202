"""``skynet sim generate`` into the embedded SQLite store of a temporary data directory."""

from __future__ import annotations

import json

import pytest

from skynet.config import load_settings
from skynet.domain import RECORD_KINDS
from skynet.storage import open_store


def _stored(kind: str) -> int:
    settings = load_settings(None)
    with open_store(settings.path(settings.storage.url)) as store:
        return len(store.read_frame(RECORD_KINDS[kind]))


ARGS = ["sim", "generate", "--devices", "3", "--days", "0.5", "--seed", "4", "--climate", "hot-humid",
        "--start", "2025-08-01", "--no-progress"]  # fmt: skip


def test_generate_writes_every_kind_once(runner, cli, data_dir):
    first = runner.invoke(cli, [*ARGS, "--format", "json"])
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["records"]["sensor_reading"] > 3 * 700 and summary["records"]["weather"] == 3 * 24
    assert summary["start"].startswith("2025-08-01") and summary["climate"] == "hot-humid"
    for kind, count in summary["records"].items():
        assert summary["added"][kind] == count, kind
        assert _stored(kind) == count, kind
    again = runner.invoke(cli, [*ARGS, "--format", "json"])
    assert sum(json.loads(again.stdout)["added"].values()) == 0  # idempotent


def test_generate_prints_a_summary_table(runner, cli):
    result = runner.invoke(cli, ARGS)
    assert result.exit_code == 0, result.output
    assert "simulated 3 homes x 0.5 days (hot-humid, seed 4)" in result.stdout
    assert "sensor_reading" in result.stdout and "kWh per home and day" in result.stdout


def test_bad_weather_file_is_a_one_line_error(data_dir, tmp_path, capsys):
    from skynet.cli import main

    bad = tmp_path / "bad.epw"
    bad.write_text("nothing,here\n")
    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "sim",
                "generate",
                "--devices",
                "1",
                "--days",
                "0.1",
                "--weather-file",
                str(bad),
                "--no-progress",
            ]
        )
    assert exit_.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error:") and "not an EPW file" in err and len(err.splitlines()) == 1
