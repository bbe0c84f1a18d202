"""``skynet user_model`` and ``skynet models`` on a small imported store."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skynet.models.user_model import sample_data

_SMALL = ["--format", "json"]


@pytest.fixture
def imported(runner, cli, tmp_path, data_dir):
    """A store holding 360 DB II-shaped votes of 6 buildings (imported through the CLI)."""
    return _import(runner, cli, tmp_path, data_dir, sample_data(360, seed=3, n_devices=6))


def _import(runner, cli, tmp_path, data_dir, votes: pd.DataFrame):
    """Import ``votes`` (sample_data's shape; subject = row number mod 9) as DB II files."""
    building = votes["device_id"].str[-2:].astype(int) + 1
    measurements = pd.DataFrame(
        {
            "index": range(len(votes)), "record_id": range(1, len(votes) + 1), "building_id": building,
            "timestamp": votes["timestamp"].dt.strftime("%Y-%m-%dT00:00:00Z"), "season": "summer",
            "subject_id": np.arange(len(votes)) % 9, "ta": votes["temperature"], "rh": votes["humidity"],
            "vel": votes["air_speed"], "met": votes["metabolic_rate"], "clo": votes["clothing"],
            "thermal_sensation": votes["value"], "t_out_isd": votes["outdoor_temperature"],
            "rh_out_isd": votes["outdoor_humidity"], "t_mot_isd": votes["outdoor_running_mean"], "pmv": 0.0,
        }
    )  # fmt: skip
    path = tmp_path / "m.csv.gz"
    with gzip.open(path, "wt") as fh:
        measurements.to_csv(fh, index=False)
    metadata = tmp_path / "meta.csv"
    pd.DataFrame(
        {
            "building_id": range(1, 7), "country": "x", "city": "y", "lat": [-33.9, 1.3, 37.8, 51.5, 37.8, 1.3],
            "lon": 0.0, "climate": ["tropical", "temperate oceanic", "hot semi-arid"] * 2,
            "building_type": ["office", "multifamily housing"] * 3, "cooling_type": "air conditioned",
            "timezone": "UTC", "year": 2024,
        }
    ).to_csv(metadata, index=False)  # fmt: skip
    result = runner.invoke(
        cli, ["data", "import", "ashrae-db2", str(path), "--metadata", str(metadata), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    return data_dir


@pytest.fixture
def trained(runner, cli, imported):
    result = runner.invoke(cli, ["user_model", "train", "--no-progress", *_SMALL])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["model"]


def test_train_saves_a_model_with_manifest(trained, imported, runner, cli):
    folder = imported / "models" / trained
    assert trained.startswith("user_model-gbm")
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "model.npz"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["training"]["n_rows"] == 360 and manifest["training"]["n_devices"] == 6
    assert 0 < manifest["metrics"]["oof_mae_median"] < 2


def test_predict_from_conditions_device_and_file(trained, runner, cli, tmp_path):
    result = runner.invoke(cli, ["user_model", "predict", "--temperature", "30", "--humidity", "60", *_SMALL])
    assert result.exit_code == 0, result.output
    hot = json.loads(result.stdout)
    assert hot["model"] == trained
    row = hot["rows"][0]
    assert sum(row[f"p_{v}"] for v in range(-3, 4)) == pytest.approx(1.0)
    cold = json.loads(runner.invoke(cli, ["user_model", "predict", "--temperature", "17", *_SMALL]).stdout)
    assert cold["rows"][0]["expected"] < row["expected"]

    device = runner.invoke(cli, ["user_model", "predict", "--device", "ashrae-2"])
    assert device.exit_code == 0, device.output
    assert "ashrae-2" in device.output and "expected" in device.output and "p_3" in device.output

    rows = pd.DataFrame({"temperature": [20.0, 25.0, 29.0], "device_id": ["ashrae-1", "ashrae-1", "new"]})
    rows.to_csv(tmp_path / "rows.csv", index=False)
    result = runner.invoke(cli, ["user_model", "predict", "--input", str(tmp_path / "rows.csv"), *_SMALL])
    assert result.exit_code == 0, result.output
    expected = [r["expected"] for r in json.loads(result.stdout)["rows"]]
    assert len(expected) == 3 and expected[0] < expected[1]


def test_models_list_and_show(trained, runner, cli):
    listed = runner.invoke(cli, ["models", "list"])
    assert listed.exit_code == 0, listed.output
    assert trained in listed.output and "oof_mae_median" in listed.output
    shown = json.loads(runner.invoke(cli, ["models", "show", trained, "--format", "json"]).stdout)
    assert shown["model_type"] == "user_model" and len(shown["artifact"]["sha256"]) == 64
    missing = runner.invoke(cli, ["models", "show", "nope"])
    assert missing.exit_code != 0 and "no model named 'nope'" in str(missing.exception)


def test_predict_without_a_model_or_input_is_a_clear_error(imported, runner, cli, tmp_path):
    no_model = runner.invoke(cli, ["user_model", "predict", "--temperature", "24"])
    assert no_model.exit_code != 0 and "no user_model model" in str(no_model.exception)
    nothing = runner.invoke(cli, ["user_model", "predict"])
    assert nothing.exit_code != 0 and "exactly one of" in str(nothing.exception)


def test_evaluate_prints_one_table_the_curves_and_plot_paths(imported, runner, cli):
    result = runner.invoke(cli, ["user_model", "evaluate", "--folds", "3", "--no-progress"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "PMV (ISO 7730, pythermalcomfort)" in out and "always comfy (0)" in out and "n_feedback" in out
    assert (
        "personalization per person" in out and "user_model online" in out and "held-out devices" not in out
    )
    plots = [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("wrote ")]
    assert [Path(p).name for p in plots] == [
        "personalization.png",
        "person_curve.png",
        "predicted_vs_voted.png",
        "evaluation.json",
    ]
    for path in plots:
        assert imported / "reports" in Path(path).parents
        assert Path(path).stat().st_size > 0


def test_predict_refuses_an_impossible_room_in_one_line(trained, runner, cli, tmp_path, capsys):
    """Issue 10, finding 9: these answered with confidence; each is now one line and exit 1."""
    from skynet.cli import main

    rows = tmp_path / "rows.csv"
    pd.DataFrame({"temperature": [24.0, 25.0, 26.0], "humidity": [40.0, None, 150.0]}).to_csv(
        rows, index=False
    )
    cases = [
        (["--temperature", "500"], "temperature 500.0 is outside 0 … 50 (indoor air temperature (°C))"),
        (["--temperature", "-273"], "temperature -273.0 is outside 0 … 50"),
        (["--temperature", "24", "--met", "0"], "metabolic_rate 0.0 is outside 0.6 … 6 (metabolic rate (met))"),
        (["--temperature", "24", "--humidity", "150"], "humidity 150.0 is outside 0 … 100"),
        (["--temperature", "nan"], "temperature 'nan' is not a number (indoor air temperature (°C), 0 … 50)"),
        (["--temperature", "24", "--air-speed", "fast"], "air_speed 'fast' is not a number"),
        (["--temperature", "24", "--timestamp", "soon"], "timestamp 'soon' is not a date"),
        (["--input", str(rows)], f"{rows}, row 3: humidity 150.0 is outside 0 … 100"),
    ]  # fmt: skip
    for args, message in cases:
        with pytest.raises(SystemExit) as exit_:
            main(["user_model", "predict", *args])
        assert exit_.value.code == 1, args
        captured = capsys.readouterr()
        assert captured.err == f"Error: {message}\n" or captured.err.startswith(f"Error: {message} ("), args
        assert captured.out == ""
    # the edges of the ranges are possible rooms
    edge = runner.invoke(cli, ["user_model", "predict", "--temperature", "0", "--humidity", "100", "--met", "6",
                               *_SMALL])  # fmt: skip
    assert edge.exit_code == 0, edge.output
    assert json.loads(edge.stdout)["rows"][0]["metabolic_rate"] == 6.0


def test_predict_help_states_the_ranges_the_check_uses(runner, cli):
    from skynet.data import PREDICT_RANGES

    text = " ".join(runner.invoke(cli, ["user_model", "predict", "--help"]).output.split())
    for column, rng in PREDICT_RANGES.items():
        assert f"{rng.low:g}…{rng.high:g}" in text, column


def test_evaluate_reports_held_out_devices_and_simulated_offsets(imported, runner, cli):
    args = ["user_model", "evaluate", "--folds", "2", "--holdout", "0.34"]
    args += ["--sim-homes", "6", "--sim-days", "6"]
    result = runner.invoke(cli, [*args, "--no-progress", "--format", "json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    held = found["holdout"]
    assert held["n_devices"] == 2 and found["n_devices"] == 4  # 6 buildings: every third is held out
    assert held["n_rows"] + found["n_rows"] == 360
    recovery = found["recovery"]
    assert recovery["homes"] == 6 and recovery["people"] >= 6
    assert {row["estimate"] for row in recovery["table"]} >= {"all votes", "per device (users ignored)"}
    names = sorted(Path(p).name for p in found["plots"])
    assert names == ["holdout_person_curve.png", "offset_recovery.png", "person_curve.png",
                     "personalization.png", "predicted_vs_voted.png"]  # fmt: skip
    bad = runner.invoke(cli, ["user_model", "evaluate", "--holdout", "0.9"])
    assert bad.exit_code == 2 and "0.9" in bad.output


def test_predict_for_a_person_uses_their_own_offset_and_slope(runner, cli, tmp_path, data_dir):
    votes = sample_data(720, seed=3, n_devices=6)
    subject = np.arange(len(votes)) % 9
    votes["value"] = np.clip(votes["value"] + np.where(subject == 0, 2, np.where(subject == 1, -2, 0)), -3, 3)
    _import(
        runner, cli, tmp_path, data_dir, votes
    )  # person 0 of every building feels 2 warmer, person 1 2 cooler
    trained = runner.invoke(cli, ["user_model", "train", "--no-progress", *_SMALL])
    assert trained.exit_code == 0, trained.output

    def answer(*extra: str) -> dict:
        args = ["user_model", "predict", "--device", "ashrae-2", "--temperature", "24", *extra, *_SMALL]
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)["rows"][0]

    device = answer()
    warm, cool, other = (answer("--user", f"ashrae-2/{s}") for s in (0, 1, 2))
    assert {row["personal"] for row in (warm, cool, other)} == {"person"} and warm["user_id"] == "ashrae-2/0"
    assert warm["n_feedback"] > 0 and device["personal"] == "device"
    assert warm["offset"] > other["offset"] + 0.5 and cool["offset"] < other["offset"] - 0.5
    assert warm["expected"] > device["expected"] > cool["expected"]
    stranger = answer("--user", "nobody")
    assert stranger["personal"] == "device"  # an unknown person: the device's typical one
    assert stranger["expected"] == pytest.approx(device["expected"])
    empty = runner.invoke(cli, ["user_model", "predict", "--device", "ashrae-2", "--user", " "])
    assert empty.exit_code == 1 and "--user: a person's id cannot be empty" in str(empty.exception)
