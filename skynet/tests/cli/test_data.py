"""``skynet data``: import DB II-shaped files into the embedded store; inspect it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

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


# -- idempotent import: keys from the record itself (issue 10, finding 6) ---------------------------


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("mysql", id="mysql", marks=pytest.mark.integration),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.integration),
    ]
)
def store_url(request, tmp_path, monkeypatch, data_dir):
    """An empty record store on every SQL backend, set as ``storage.url``."""
    from skynet.tests.storage.conftest import _clean_url

    for url in _clean_url(request.param, tmp_path, request.node.name):
        monkeypatch.setenv("SKYNET_STORAGE_URL", url)
        yield url


def _empty(url):
    from skynet.storage.sql import dispose_engines
    from skynet.tests.storage.conftest import drop_schema

    if url.startswith("sqlite:///"):
        dispose_engines()
        for path in Path(url.removeprefix("sqlite:///")).parent.glob("store.db*"):
            path.unlink()
    else:
        drop_schema(url)


def _snapshot(url):
    with open_store(url) as store:
        return {
            kind.kind: store.read_frame(kind) for kind in (Device, User, Weather, SensorReading, Feedback)
        }


def _measurements(path, rows):
    from skynet.tests.conftest import _DB2_COLUMNS

    pd.DataFrame(rows, columns=_DB2_COLUMNS).to_csv(path, index=False)
    return str(path)


def _import(runner, cli, measurements, metadata):
    args = ["data", "import", "ashrae-db2", measurements, "--metadata", str(metadata), "--format", "json"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_importing_the_corrected_file_after_a_faulty_one_gives_a_fresh_imports_store(
    runner, cli, tmp_path, small_db2, store_url
):
    from skynet.tests.conftest import _row

    good = [
        *(_row(i, 1, "2001-07-02T00:00:00Z", "summer", 22.0 + i, i - 1) for i in range(4)),  # records 1-4
        _row(4, 3, "2010-01-05T00:00:00Z", "winter", 21.0, 0),
        _row(5, 3, "2010-01-05T00:00:00Z", "winter", 23.0, 1, subject_id=None),
        _row(6, 2, None, "summer", 22.0, -1),  # no survey day: synthesized
    ]
    faulty = [*good]
    faulty[1] = _row(1, 1, "2001-07-02T00:00:00Z", "summer", 23.0, 5)  # record 2: vote off the scale
    corrected = [*good, good[4]]  # and record 5 given twice
    faulty_file = _measurements(tmp_path / "faulty.csv", faulty)
    corrected_file = _measurements(tmp_path / "corrected.csv", corrected)

    first = _import(runner, cli, faulty_file, small_db2[1])
    assert first["skipped"] == {"thermal sensation vote outside -3…3": 1}
    second = _import(runner, cli, corrected_file, small_db2[1])
    assert second["skipped"] == {"row repeated (same record_id and values)": 1}
    assert second["added"]["feedback"] == 1  # only record 2 is new
    after_fix = _snapshot(store_url)

    _empty(store_url)
    fresh = _import(runner, cli, corrected_file, small_db2[1])
    assert fresh["added"]["feedback"] == 7  # seven records, the repeated one once
    fresh_store = _snapshot(store_url)
    for kind, frame in fresh_store.items():
        pd.testing.assert_frame_equal(after_fix[kind], frame, obj=kind)
    votes = fresh_store["feedback"]
    building_1 = votes[votes["device_id"] == "ashrae-1"]
    assert building_1["value"].tolist() == [-1.0, 0.0, 1.0, 2.0]  # each vote in its own slot, in order


def test_a_building_id_that_is_not_a_number_is_one_line_naming_file_row_and_column(
    tmp_path, small_db2, data_dir, capsys
):
    from skynet.cli import main
    from skynet.tests.conftest import _row

    rows = [_row(0, 1, "2001-07-02T00:00:00Z", "summer", 22.0, 0), _row(1, "B-12", None, "summer", 22.0, 0)]
    measurements = _measurements(tmp_path / "m.csv", rows)
    with pytest.raises(SystemExit) as exited:
        main(["data", "import", "ashrae-db2", measurements, "--metadata", str(small_db2[1]), "--no-progress"])
    assert exited.value.code == 1  # a user error, not an internal one (2)
    err = capsys.readouterr().err
    assert err == f"Error: {measurements} row 2, column building_id: 'B-12' is not a whole number\n"
    assert not (data_dir / "skynet.db").exists() or _counts(data_dir)["feedback"] == 0
