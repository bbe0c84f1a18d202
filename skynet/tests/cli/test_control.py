"""``skynet control decide`` and ``evaluate`` on an embedded store filled by ``skynet sim generate``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skynet.config import load_settings
from skynet.tests.sim.test_energyplus import needs_energyplus

GENERATE = ["sim", "generate", "--devices", "2", "--days", "0.5", "--seed", "8", "--climate", "hot-humid",
            "--no-progress"]  # fmt: skip
DEVICE = "sim-8-0001"


@pytest.fixture
def store_with_homes(runner, cli, data_dir):
    result = runner.invoke(cli, GENERATE)
    assert result.exit_code == 0, result.output
    return data_dir


@pytest.fixture
def stored_models(store_with_homes):
    """The session's small real models registered in this data directory's registry and store."""
    from skynet.api.models import register_trained
    from skynet.tests.control._models import small_control_models

    settings = load_settings(None)
    return {role: register_trained(settings, model, {})
            for role, model in small_control_models().items() if role != "note"}  # fmt: skip


def test_decide_without_models_falls_back_to_the_thermostat(runner, cli, store_with_homes):
    result = runner.invoke(cli, ["control", "decide", "--device", DEVICE, "--format", "json"])
    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)
    assert decision["device_id"] == DEVICE and decision["fallback"] == "no estimation model"
    assert decision["reason"]["why"].startswith("fallback thermostat") or decision["reason"]["target"]["mode"] in (
        "manual", "off")  # fmt: skip
    assert decision["models"]["estimator"].startswith("none")
    text = runner.invoke(cli, ["control", "decide", "--device", DEVICE])
    assert f"device {DEVICE} at" in text.stdout and "models: estimator none" in text.stdout


def test_decide_with_the_registered_models(runner, cli, stored_models):
    at = ["--at", "2025-07-01 11:00"]
    result = runner.invoke(cli, ["control", "decide", "--device", DEVICE, *at, "--format", "json"])
    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)
    assert decision["time"] == "2025-07-01T11:00:00"
    assert decision["models"] == stored_models and decision["fallback"] is None
    assert decision["safety"]["power"] in (True, False) and decision["latency_ms"] > 0
    target = decision["reason"]["target"]["mode"]
    if target not in ("manual", "off"):
        assert {"chosen", "runner_up", "candidates"} <= set(decision["reason"])
    text = runner.invoke(cli, ["control", "decide", "--device", DEVICE, *at])
    assert text.exit_code == 0 and f"models: estimator {stored_models['estimator']}" in text.stdout


def test_decide_on_an_unknown_device_is_a_one_line_error(store_with_homes, capsys):
    from skynet.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["control", "decide", "--device", "nope"])
    assert exit_.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err == "Error: device 'nope' is not in the store"


def test_evaluate_with_stored_models_writes_the_report(runner, cli, stored_models):
    args = ["control", "evaluate", "--devices", "2", "--days", "0.25", "--seed", "3", "--train", "never",
            "--sweep", "27", "--no-progress", "--format", "json"]  # fmt: skip
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [r["controller"] for r in summary["table"]] == [
        "fixed 24 °C",
        "comfort band",
        "fixed 27 °C",
        "skynet",
    ]
    assert summary["best_fixed"] in (None, "fixed 27 °C")
    assert all("energy_vs_best_fixed_%" in r and "mean_abs_sensation" in r for r in summary["table"])
    assert summary["models"] == stored_models and summary["decisions"]["fallbacks"] == {}
    report = Path(summary["report"])
    assert json.loads((report / "evaluation.json").read_text())["table"] == summary["table"]
    assert len(summary["plots"]) == 2 and all(Path(p).is_file() for p in summary["plots"])
    assert report.parent == Path(load_settings(None).path(load_settings(None).models.reports))
    text = runner.invoke(cli, args[:-2])
    assert (
        "energy_vs_reference_%" in text.stdout
        and "report: " in text.stdout
        and "best fixed set point" in text.stdout
    )


@needs_energyplus
def test_evaluate_on_energyplus_zones(runner, cli, stored_models):
    """``--engine energyplus``: the small office's five zones are the homes (stored models)."""
    from skynet.api.control import format_evaluation

    args = ["control", "evaluate", "--engine", "energyplus", "--building", "office-small", "--weather", "miami",
            "--start", "2025-07-20", "--days", "1", "--train", "never", "--sweep", "none", "--no-progress",
            "--format", "json"]  # fmt: skip
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    setup = summary["setup"]
    assert (setup["engine"], setup["building"], setup["start"], setup["devices"]) == ("energyplus", "office-small",
                                                                                      "2025-07-20", 5)  # fmt: skip
    assert [r["controller"] for r in summary["table"]] == ["fixed 24 °C", "comfort band", "skynet"]
    assert summary["models"] == stored_models and summary["decisions"]["count"] > 0
    assert all(Path(p).is_file() and "eplus-office-small-" in Path(p).name for p in summary["plots"])
    assert (
        "5 EnergyPlus zones of office-small (miami) as homes x 1 days from 2025-07-20"
        in format_evaluation(summary)
    )


def test_evaluate_on_energyplus_needs_whole_days(data_dir, capsys):
    from skynet.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["control", "evaluate", "--engine", "energyplus", "--days", "1.5", "--no-progress"])
    assert exit_.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err == "Error: EnergyPlus simulates whole days: --days must be a whole number >= 1, got 1.5"
