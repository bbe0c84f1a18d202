"""Hyper-parameters on the train commands, and what the search commands say before any worker
is involved (no broker configured, a broker that does not answer, a bad grid)."""

from __future__ import annotations

import json

import pytest

from skynet.models.user_model import sample_data


def _error(capsys, *args: str) -> str:
    from skynet.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    assert exit_.value.code == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("Error: ")
    return err


@pytest.fixture
def votes(tmp_path):
    path = tmp_path / "votes.parquet"
    sample_data(300, n_devices=6).to_parquet(path, index=False)
    return path


def test_train_takes_parameters_from_pairs_and_a_file(runner, cli, votes, tmp_path):
    params = tmp_path / "params.yml"
    params.write_text("max_iter: 12\nmin_samples_leaf: 7\ncalibration_folds: 2\n")
    result = runner.invoke(cli, ["user_model", "train", "--dataset", str(votes), "--params", str(params),
                                 "--param", "max_iter=8", "--param", "learning_rate=0.3", "--no-progress",
                                 "--format", "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    name = json.loads(result.stdout)["model"]
    shown = json.loads(runner.invoke(cli, ["models", "show", name, "--format", "json"]).stdout)
    stored = shown["registry"]["params"]
    assert (stored["max_iter"], stored["min_samples_leaf"], stored["learning_rate"]) == (8, 7, 0.3)


def test_an_unknown_parameter_is_one_line_and_trains_nothing(capsys, votes, data_dir):
    err = _error(capsys, "user_model", "train", "--dataset", str(votes), "--param", "max_iters=8")
    assert err.startswith("Error: --param: unknown user_model parameter 'max_iters' (known: max_iter, ")
    assert err.endswith("did you mean max_iter?")
    assert not (data_dir / "models").exists() or not any((data_dir / "models").iterdir())
    err = _error(capsys, "estimation", "train", "--param", "epochs=lots")
    assert "estimation parameter epochs = 'lots': expected a whole number" in err


def test_a_search_without_a_broker_says_which_setting_to_set(capsys, votes, tmp_path, data_dir):
    grid = tmp_path / "grid.yml"
    grid.write_text("params: {max_iter: [5, 10]}\n")
    err = _error(capsys, "user_model", "search", "--grid", str(grid), "--dataset", str(votes))
    assert "train.broker_url is empty and there is no Redis storage.live_url: set train.broker_url" in err


def test_a_broker_that_does_not_answer_is_one_line_and_nothing_is_recorded(
    capsys, votes, tmp_path, monkeypatch, settings
):
    monkeypatch.setenv("SKYNET_TRAIN_BROKER_URL", "amqp://skynet:secret@127.0.0.1:1/none")
    grid = tmp_path / "grid.yml"
    grid.write_text("params: {max_iter: [5, 10]}\n")
    err = _error(capsys, "user_model", "search", "--grid", str(grid), "--dataset", str(votes))
    assert err.startswith("Error: broker[amqp]: cannot reach amqp://skynet:***@127.0.0.1:1/none")
    assert "secret" not in err
    from skynet.api.experiments import list_searches

    assert list_searches(settings) == []


def test_a_bad_grid_is_refused_before_the_broker_is_asked(capsys, votes, tmp_path, monkeypatch):
    monkeypatch.setenv("SKYNET_TRAIN_BROKER_URL", "amqp://skynet:skynet@127.0.0.1:1/none")
    grid = tmp_path / "grid.yml"
    grid.write_text("params: {epochs: [5, 10]}\n")
    err = _error(capsys, "user_model", "search", "--grid", str(grid), "--dataset", str(votes))
    assert "grid.yml: unknown user_model parameter 'epochs'" in err


def test_a_broker_url_that_is_no_broker_is_refused(capsys, votes, tmp_path, monkeypatch):
    monkeypatch.setenv("SKYNET_TRAIN_BROKER_URL", "http://127.0.0.1:1")
    grid = tmp_path / "grid.yml"
    grid.write_text("params: {max_iter: [5]}\n")
    err = _error(capsys, "user_model", "search", "--grid", str(grid), "--dataset", str(votes))
    assert (
        "train.broker_url is 'http://127.0.0.1:1': a Celery broker is amqp:// (RabbitMQ) or redis://" in err
    )


def test_worker_options_map_the_seed_command(settings):
    import socket

    from skynet.errors import ConfigError
    from skynet.tasks import worker_options

    options = worker_options(settings, ["training"], 2, "w1@%h")
    assert options["queues"] == ["training"] and options["concurrency"] == 2
    assert options["hostname"] == f"w1@{socket.gethostname()}" and options["threads"] >= 1
    default = worker_options(settings)
    assert default["queues"] == ["collect_data", "training", "save_result"]
    assert default["hostname"].startswith("train-worker@")
    with pytest.raises(ConfigError, match="unknown queue 'trainig'"):
        worker_options(settings, ["trainig"])


def test_models_differing_only_in_a_parameter_the_name_leaves_out_are_two_versions(runner, cli, votes):
    """Regression: the name showed max_iter, learning_rate and the seed only, so a model trained
    with another min_samples_leaf (a search's best, --param) replaced the default one's row."""
    names = []
    for extra in ([], ["--param", "min_samples_leaf=7"], ["--param", "n_jobs=1"]):
        result = runner.invoke(cli, ["user_model", "train", "--dataset", str(votes), "--param", "max_iter=6",
                                     "--param", "calibration_folds=2", *extra, "--no-progress", "--format", "json"])  # fmt: skip
        assert result.exit_code == 0, result.output
        names.append(json.loads(result.stdout)["model"])
    assert names[0] != names[1] and "-p" in names[1].split("-s0")[1]
    assert names[2] == names[0]  # n_jobs changes the speed only: the same model
    listed = json.loads(runner.invoke(cli, ["models", "list", "--format", "json"]).stdout)
    assert {r["name"] for r in listed} == {names[0], names[1]}


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("SKYNET_TRAIN_CONCURRENCY", "-1", r"concurrency must be 0 \(one per core\) to 256, not -1"),
        ("SKYNET_TRAIN_CONCURRENCY", "many", "expected int"),
        ("SKYNET_TRAIN_QUEUES", "training, save result", "expected comma-separated queue names"),
        ("SKYNET_TRAIN_BROKR_URL", "amqp://x", "unknown key train.brokr_url.*did you mean train.broker_url"),
    ],
)
def test_train_settings_are_checked_when_loaded(variable, value, message):
    from skynet.config import load_settings
    from skynet.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        load_settings(None, environ={variable: value})


def test_config_show_masks_the_broker_password(runner, cli, monkeypatch):
    monkeypatch.setenv("SKYNET_TRAIN_BROKER_URL", "amqp://skynet:hunter2@rabbit:5672/prod")
    shown = runner.invoke(cli, ["config", "show", "--format", "json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["train"]["broker_url"] == "amqp://skynet:***@rabbit:5672/prod"
    assert "hunter2" not in shown.stdout


@pytest.mark.parametrize(
    "args", [["--help"], ["train", "--help"], ["experiments", "--help"], ["user_model", "--help"]]
)
def test_help_never_imports_celery(args):
    import subprocess
    import sys

    code = (
        "import sys; from skynet.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        "print('LOADED:' + ','.join(m for m in ('celery', 'kombu', 'amqp', 'billiard') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "LOADED:"
