"""A search end to end: real `skynet train worker` processes on RabbitMQ (and on Redis), the
search command, the metadata tables, the registered (and promoted) best model, experiments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skynet.config import load_settings
from skynet.tests.conftest import redis_server
from skynet.tests.tasks.conftest import grid_file, purge, votes_file, wait_for

pytestmark = pytest.mark.integration


def _store(settings):
    from skynet.api.experiments import open_experiments

    return open_experiments(settings)


def test_search_spreads_over_two_workers_stores_every_fold_and_registers_the_best(
    workers, runner, cli, settings, tmp_path
):
    workers.start("alpha")
    workers.start("beta")
    workers.wait_ready("alpha")
    workers.wait_ready("beta")
    health = runner.invoke(cli, ["train", "health", "--hostname", "alpha@%h"])  # what the deployment runs
    assert health.exit_code == 0, health.output
    assert [w["worker"] for w in json.loads(health.stdout)] == [workers.node("alpha")]
    assert runner.invoke(cli, ["train", "health", "--hostname", "nobody@%h", "--timeout", "1"]).exit_code == 1
    grid = grid_file(tmp_path / "grid.yml", {"max_iter": [5, 10], "learning_rate": [0.05, 0.3]})
    votes = votes_file(tmp_path / "votes.parquet")
    result = runner.invoke(cli, ["user_model", "search", "--grid", str(grid), "--dataset", str(votes), "--wait",
                                 "--timeout", "240", "--promote", "production", "--no-progress"])  # fmt: skip
    assert result.exit_code == 0, result.output
    search_id = result.stdout.split()[1].rstrip(":")
    assert "user_model grid search, done; 4 done, 0 failed" in result.stdout
    with _store(settings) as store:
        search, points, metrics = store.search(search_id), store.points(search_id), store.metrics(search_id)
    assert search.status == "done" and search.dataset_hash and search.model_name
    assert sorted(p.params["max_iter"] for p in points) == [5, 5, 10, 10]
    assert {p.status for p in points} == {"done"} and {p.attempts for p in points} == {1}
    # prefetch 1 and fair scheduling: both workers took points
    assert {p.worker for p in points} == {workers.node("alpha"), workers.node("beta")}
    # every fold and the overall figure of every point, once: 4 points x (4 folds x 6 metrics + fit_seconds)
    assert len(metrics) == 4 * (4 * 6 + 1)
    assert {m.fold for m in metrics} == {-1, 0, 1, 2}
    assert {m.dataset_hash for m in metrics} == {search.dataset_hash}
    best = min((m for m in metrics if m.fold == -1 and m.name == "mae"), key=lambda m: (m.value, m.point_id))
    assert search.best_point == best.point_id
    assert {m.model_name for m in metrics if m.point_id == best.point_id} == {search.model_name}
    # the best point, trained on the whole slice, is registered with its lineage and promoted
    shown = runner.invoke(cli, ["models", "lineage", "user_model@production", "--format", "json"])
    assert shown.exit_code == 0, shown.output
    lineage = json.loads(shown.stdout)
    assert lineage["model"]["name"] == search.model_name
    assert lineage["model"]["selection"]["search"] == search_id
    assert lineage["dataset"]["path"] == str(votes.resolve()) and lineage["dataset"]["unchanged"]
    version = runner.invoke(cli, ["models", "show", search.model_name, "--format", "json"])
    registry = json.loads(version.stdout)["registry"]
    assert registry["params"]["max_iter"] == points[search.best_point].params["max_iter"]
    assert registry["metrics"]["cv_mae"] == pytest.approx(best.value)


def test_experiments_list_show_and_compare(workers, runner, cli, tmp_path):
    workers.start("solo", concurrency=2)
    workers.wait_ready("solo")
    votes = votes_file(tmp_path / "votes.parquet")
    ids = []
    for i, rates in enumerate(([0.05, 0.2], [0.1, 0.4])):
        grid = grid_file(tmp_path / f"grid{i}.yml", {"learning_rate": rates})
        started = runner.invoke(cli, ["user_model", "search", "--grid", str(grid), "--dataset", str(votes)])
        assert started.exit_code == 0, started.output
        ids.append(started.stdout.strip())  # without --wait: the id alone
        assert "skynet experiments show" in started.stderr

    def ended():
        listed = runner.invoke(cli, ["experiments", "list", "--format", "json"])
        rows = json.loads(listed.stdout)
        return all(r["status"] == "done" for r in rows) and len(rows) == 2 and rows

    rows = wait_for(ended, 180, "both searches to end", every=1.0)
    assert {r["id"] for r in rows} == set(ids) and all(r["points"] == "2/2" for r in rows)
    table = runner.invoke(cli, ["experiments", "list"])
    assert ids[0] in table.stdout and "2/2" in table.stdout
    shown = runner.invoke(cli, ["experiments", "show", ids[0]])
    assert shown.exit_code == 0, shown.output
    assert "learning_rate" in shown.stdout and "best: point" in shown.stdout
    plot = shown.stdout.strip().splitlines()[-1].removeprefix("wrote ")
    assert plot.endswith(".png") and Path(plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    compared = runner.invoke(cli, ["experiments", "compare", *ids, "--format", "json"])
    result = json.loads(compared.stdout)
    assert len(result["table"]) == 4 and result["metric"] == "mae"
    values = [r["mae"] for r in result["table"]]
    assert values == sorted(values)  # best first
    assert result["plot"].endswith(".png")
    unknown = runner.invoke(cli, ["experiments", "show", "nope-1"])
    assert unknown.exit_code == 1 and "no search 'nope-1'" in str(unknown.exception)


def test_redis_is_a_broker_too(data_dir, workers, runner, cli, tmp_path, monkeypatch):
    url = redis_server().rsplit("/", 1)[0] + "/3"
    monkeypatch.setenv("SKYNET_TRAIN_BROKER_URL", url)
    workers.env["SKYNET_TRAIN_BROKER_URL"] = url
    purge(load_settings(None))  # what an earlier run may have left
    workers.start("redis-worker")
    workers.wait_ready("redis-worker")
    grid = grid_file(tmp_path / "grid.yml", {"max_iter": [5, 10]})
    result = runner.invoke(cli, ["user_model", "search", "--grid", str(grid), "--dataset",
                                 str(votes_file(tmp_path / "votes.parquet")), "--wait", "--timeout", "120"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2 done, 0 failed" in result.stdout and "\nmodel user_model-" in result.stdout


def test_an_estimation_search_from_the_store_materialises_its_slice_once(
    workers, runner, cli, settings, tmp_path
):
    simulated = runner.invoke(
        cli, ["sim", "generate", "--devices", "6", "--days", "2", "--seed", "5", "--no-progress"]
    )
    assert simulated.exit_code == 0, simulated.output
    workers.start("est")
    workers.wait_ready("est")
    grid = grid_file(tmp_path / "grid.yml", {"epochs": [2, 4]}, fixed={"hidden": [8], "max_rows": 3000},
                     metric="rmse")  # fmt: skip
    result = runner.invoke(cli, ["estimation", "search", "--grid", str(grid), "--wait", "--timeout", "240",
                                 "--no-progress", "--format", "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    search = summary["search"]
    assert (search["status"], summary["counts"]["done"], search["metric"]) == ("done", 2, "rmse")
    dataset = Path(search["spec"]["dataset"]["path"])
    assert dataset.parent == Path(settings.path(settings.models.datasets))
    assert dataset.name.endswith(f"-{search['dataset_hash'][:8]}.parquet") and dataset.is_file()
    assert len(list(dataset.parent.iterdir())) == 1  # the slice, written once: the workers read it
    lineage = json.loads(
        runner.invoke(cli, ["models", "lineage", summary["model"], "--format", "json"]).stdout
    )
    assert (
        lineage["dataset"]["path"] == str(dataset) and lineage["model"]["selection"]["search"] == search["id"]
    )
    assert lineage["model"]["type"] == "estimation"


def test_a_tpe_search_plans_its_points_as_points_end(workers, runner, cli, settings, tmp_path):
    workers.start("tpe", concurrency=2)
    workers.wait_ready("tpe")
    grid = tmp_path / "grid.yml"
    grid.write_text("kind: tpe\ntrials: 6\nbatch: 2\nparams:\n  learning_rate: {low: 0.03, high: 0.5, log: true}\n"
                    "  max_iter: [4, 8]\nfixed: {min_samples_leaf: 10, calibration_folds: 2}\n")  # fmt: skip
    votes = votes_file(tmp_path / "votes.parquet")
    started = runner.invoke(cli, ["user_model", "search", "--grid", str(grid), "--dataset", str(votes)])
    assert started.exit_code == 0, started.output
    assert "queued 2 points (TPE plans 4 more as points end)" in started.stderr
    from skynet.api.search import wait_search

    summary = wait_search(settings, started.stdout.strip(), timeout=240, progress=False)
    assert summary["search"]["status"] == "done" and summary["counts"]["done"] == 6
    with _store(settings) as store:
        points = store.points(summary["search"]["id"])
    assert [p.point_id for p in points] == list(range(6))
    first_end = min(p.finished for p in points[:2])
    assert all(p.started >= first_end for p in points[2:])  # planned once points had ended
    assert len({(p.params["learning_rate"], p.params["max_iter"]) for p in points}) == 6
