"""``skynet estimation train | evaluate | predict`` on a small simulated fleet in the embedded store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skynet.config import load_settings
from skynet.storage import LocalModelStore


@pytest.fixture
def fleet(runner, cli, data_dir):
    """8 simulated homes x 3 days in the temporary store."""
    args = ["sim", "generate", "--devices", "8", "--days", "3", "--seed", "5", "--climate", "hot-humid",
            "--no-progress"]  # fmt: skip
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    return data_dir


def _stored_models() -> list[dict]:
    settings = load_settings(None)
    return LocalModelStore(settings.path(settings.models.store)).list("estimation")


def test_train_evaluate_predict(runner, cli, fleet):
    trained = runner.invoke(
        cli, ["estimation", "train", "--epochs", "8", "--no-progress", "--format", "json"]
    )
    assert trained.exit_code == 0, trained.output
    out = json.loads(trained.stdout)
    assert [m["name"] for m in _stored_models()] == [out["model"]]
    assert out["metrics"]["n_devices"] == 8 and out["metrics"]["n_rows"] > 8 * 3 * 200

    evaluated = runner.invoke(cli, ["estimation", "evaluate", "--test-device", "sim-5-000[01]", "--plots", "1", "--device", "sim-5-000[0-7]",
                                    "--no-progress"])  # fmt: skip
    assert evaluated.exit_code == 0, evaluated.output
    text = evaluated.stdout
    assert "trained on 6 devices" in text and "tested on 2 unseen devices" in text
    assert "rmse_estimation  rmse_persistence  rmse_rc" in text and "humidity (%RH)" in text
    written = [Path(line.split(" ", 1)[1]) for line in text.splitlines() if line.startswith("wrote ")]
    assert [p.suffix for p in written] == [".png", ".json"] and all(p.is_file() for p in written)
    report = json.loads(written[-1].read_text())
    assert report["test_devices"]["first"] == ["sim-5-0000", "sim-5-0001"]
    assert {r["horizon_min"] for r in report["table"]} == {5, 15, 30, 60}

    predicted = runner.invoke(cli, ["estimation", "predict", "--device", "sim-5-0003", "--command", "off",
                                    "--command", "cool:22:high", "--format", "json"])  # fmt: skip
    assert predicted.exit_code == 0, predicted.output
    result = json.loads(predicted.stdout)
    assert result["model"] == out["model"] and [r["command"] for r in result["rows"]] == [
        "off",
        "cool:22:high",
    ]
    assert all(10 < r["temperature_30m"] < 45 and 0 <= r["humidity_60m"] <= 100 for r in result["rows"])
    table = runner.invoke(cli, ["estimation", "predict", "--device", "sim-5-0003"])
    assert table.exit_code == 0, table.output
    assert "temperature_60m" in table.stdout and "sim-5-0003 at " in table.stdout


def test_evaluating_a_stored_model_skips_its_training_devices(runner, cli, fleet):
    trained = runner.invoke(cli, ["estimation", "train", "--device", "sim-5-000[0-5]", "--epochs", "5",
                                  "--no-progress", "--format", "json"])  # fmt: skip
    assert trained.exit_code == 0, trained.output
    name = json.loads(trained.stdout)["model"]
    result = runner.invoke(cli, ["estimation", "evaluate", "--model", name, "--plots", "0", "--no-progress",
                                 "--format", "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["model"] == name and report["test_devices"]["first"] == ["sim-5-0006", "sim-5-0007"]
    assert report["plots"] == []


def test_user_errors_are_one_line(runner, cli, fleet, capsys):
    from skynet.cli import main

    cases = [
        (["estimation", "predict", "--device", "sim-5-0001"], "no estimation model"),
        (
            ["estimation", "train", "--device", "nope-*", "--no-progress"],
            "no device in the store matches nope-*",
        ),
    ]
    for args, message in cases:
        with pytest.raises(SystemExit) as exit_:
            main(args)
        assert exit_.value.code == 1
        err = capsys.readouterr().err
        assert err.startswith("Error: ") and message in err and err.count("\n") == 1
    assert runner.invoke(cli, ["estimation", "train", "--epochs", "3", "--no-progress"]).exit_code == 0
    with pytest.raises(SystemExit):
        main(["estimation", "predict", "--device", "sim-5-0001", "--command", "cool:warm"])
    assert "set temperature 'warm' is not a number" in capsys.readouterr().err
