"""``skynet data``: import DB II-shaped files into the embedded store; inspect it."""

from __future__ import annotations

import json

from skynet.config import load_settings
from skynet.domain import Device, Feedback, SensorReading, User, Weather
from skynet.storage import open_store


def _counts(data_dir):
    settings = load_settings(None)
    with open_store(settings.path(settings.storage.url)) as store:
        return {k.kind: len(store.read_frame(k)) for k in (Device, User, SensorReading, Weather, Feedback)}


def test_import_stores_good_rows_and_reports_bad_ones(runner, cli, small_db2, data_dir):
    measurements, metadata = small_db2
    result = runner.invoke(
        cli, ["data", "import", "ashrae-db2", str(measurements), "--metadata", str(metadata)]
    )
    assert result.exit_code == 0, result.output
    assert "read 13 rows" in result.output
    assert "skipped 5 rows" in result.output
    assert "indoor relative humidity (%) outside 0…100" in result.output
    assert _counts(data_dir) == {"device": 3, "user": 7, "sensor_reading": 8, "weather": 6, "feedback": 8}


def test_second_import_adds_nothing(runner, cli, small_db2, data_dir):
    args = [
        "data",
        "import",
        "ashrae-db2",
        str(small_db2[0]),
        "--metadata",
        str(small_db2[1]),
        "--format",
        "json",
    ]
    first = json.loads(runner.invoke(cli, args).stdout)
    second = runner.invoke(cli, args)
    assert second.exit_code == 0, second.output
    assert sum(first["added"].values()) == 3 + 7 + 8 + 6 + 8
    assert sum(json.loads(second.stdout)["added"].values()) == 0
    assert _counts(data_dir)["feedback"] == 8


def test_bad_file_is_one_line_error_and_stores_nothing(runner, cli, tmp_path, small_db2, data_dir):
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("x,y\n1,2\n")
    result = runner.invoke(cli, ["data", "import", "ashrae-db2", str(wrong), "--metadata", str(small_db2[1])])
    assert result.exit_code != 0
    assert "missing columns" in str(result.exception)
    assert not (data_dir / "skynet.db").exists() or _counts(data_dir)["feedback"] == 0


def test_show_prints_newest_records(runner, cli, small_db2):
    runner.invoke(cli, ["data", "import", "ashrae-db2", str(small_db2[0]), "--metadata", str(small_db2[1])])
    result = runner.invoke(cli, ["data", "show", "feedback", "--device", "ashrae-1", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["value"] for r in rows] == [2.5, 1.0, 0.0]  # newest first
