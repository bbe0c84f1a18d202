"""Faults against the real rabbitmq-server and real `skynet train worker` processes: a worker
SIGKILLed mid-task, the broker restarted mid-search, a point failing three times."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from skynet.tests.tasks.conftest import grid_file, votes_file, wait_for

pytestmark = pytest.mark.integration

#: Per point: 3 folds x 6 metrics, 6 overall, and the cross-validation's seconds.
METRICS_PER_POINT = 4 * 6 + 1


def _store(settings):
    from skynet.api.experiments import open_experiments

    return open_experiments(settings)


def _start(runner, cli, *args: str) -> str:
    started = runner.invoke(cli, ["user_model", "search", *args])
    assert started.exit_code == 0, started.output
    return started.stdout.strip()


def _points(settings, search_id):
    with _store(settings) as store:
        return store.points(search_id)


def _stored_once(settings, search_id) -> None:
    with _store(settings) as store:
        metrics = store.metrics(search_id)
        points = store.points(search_id)
    done = [p.point_id for p in points if p.status == "done"]
    counts = {i: sum(m.point_id == i for m in metrics) for i in done}
    assert counts == dict.fromkeys(done, METRICS_PER_POINT)
    keys = [(m.point_id, m.fold, m.name) for m in metrics]
    assert len(keys) == len(set(keys))


def test_a_worker_killed_mid_task_is_redelivered_finished_elsewhere_and_stored_once(
    workers, runner, cli, settings, tmp_path
):
    from skynet.api.search import wait_search

    workers.start("doomed")
    workers.wait_ready("doomed")
    # one point slow enough (several seconds of cross-validation) to be killed in the middle
    grid = grid_file(
        tmp_path / "grid.yml", {"max_iter": [150]}, fixed={"min_samples_leaf": 20, "calibration_folds": 2}
    )
    votes = votes_file(tmp_path / "votes.parquet", n=4000, devices=12)
    search_id = _start(runner, cli, "--grid", str(grid), "--dataset", str(votes))

    def running():
        point = _points(settings, search_id)[0]
        return point if point.status == "running" else None

    first = wait_for(running, 120, "the point to start on the doomed worker", every=0.05)
    assert (first.worker, first.attempts) == (workers.node("doomed"), 1)
    time.sleep(0.5)
    workers.kill("doomed")  # SIGKILL: the worker and its pool process, mid cross-validation
    assert _points(settings, search_id)[0].status == "running"  # it really died in the middle
    workers.start("rescuer")
    summary = wait_search(settings, search_id, timeout=240, progress=False)
    point = _points(settings, search_id)[0]
    # RabbitMQ redelivered the unacknowledged task to the other worker, which finished it
    assert (point.status, point.worker, point.attempts) == ("done", workers.node("rescuer"), 2)
    _stored_once(settings, search_id)
    assert summary["search"]["status"] == "done" and summary["model"]
    assert "nothing to do" not in workers.log("rescuer")


def _rabbitmqctl(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RABBITMQ_NODENAME": "rabbit@localhost"}
    return subprocess.run(["rabbitmqctl", "-q", *args], env=env, capture_output=True, text=True, timeout=120,
                          check=False)  # fmt: skip


def _require_rabbitmqctl() -> None:
    problem = None
    if shutil.which("rabbitmqctl") is None:
        problem = "rabbitmqctl is not installed"
    elif _rabbitmqctl("status").returncode != 0:
        problem = "rabbitmqctl cannot reach the node rabbit@localhost (run as root, after install/servers.sh)"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)


def test_the_broker_restarted_mid_search_the_search_completes(workers, runner, cli, settings, tmp_path):
    from skynet.api.search import wait_search

    _require_rabbitmqctl()
    workers.start("steady")
    workers.wait_ready("steady")
    grid = grid_file(tmp_path / "grid.yml", {"max_iter": [5, 10, 15, 20, 25, 30]})
    search_id = _start(
        runner, cli, "--grid", str(grid), "--dataset", str(votes_file(tmp_path / "v.parquet", n=1500))
    )
    wait_for(
        lambda: any(p.status == "done" for p in _points(settings, search_id)), 120, "a first point to end"
    )
    assert not all(p.status == "done" for p in _points(settings, search_id))
    try:
        stopped = _rabbitmqctl("stop_app")
        assert stopped.returncode == 0, stopped.stderr
        time.sleep(3)
    finally:  # the broker is shared: it runs again whatever happened
        _rabbitmqctl("start_app")
        _rabbitmqctl("await_startup", "--timeout", "60")
    summary = wait_search(settings, search_id, timeout=300, progress=False)
    assert summary["search"]["status"] == "done", summary["search"]
    assert summary["counts"]["done"] == 6
    _stored_once(settings, search_id)
    assert "Connection to broker lost" in workers.log("steady")  # the restart did hit the worker


def test_a_point_failing_three_times_is_marked_failed_and_the_search_goes_on(
    workers, runner, cli, settings, tmp_path
):
    workers.start("careful")
    workers.wait_ready("careful")
    # a negative learning rate passes the type check and fails in the model's fit, every time
    grid = grid_file(tmp_path / "grid.yml", {"learning_rate": [0.1, -1.0]})
    result = runner.invoke(cli, ["user_model", "search", "--grid", str(grid), "--dataset",
                                 str(votes_file(tmp_path / "v.parquet")), "--wait", "--timeout", "180"])  # fmt: skip
    assert result.exit_code == 0, result.output
    search_id = result.stdout.split()[1].rstrip(":")
    good, bad = sorted(_points(settings, search_id), key=lambda p: -p.params["learning_rate"])
    assert (bad.status, bad.attempts) == ("failed", 3)
    assert bad.error.startswith("failed 3 times; the last: ") and "learning_rate" in bad.error
    assert good.status == "done"
    assert f"point {bad.point_id} failed: failed 3 times" in result.stderr
    assert "1 done, 1 failed" in result.stdout and "\nmodel user_model-" in result.stdout
    with _store(settings) as store:
        search = store.search(search_id)
        assert store.metrics(search_id, bad.point_id) == []
    assert (search.status, search.best_point) == ("done", good.point_id)
    assert workers.log("careful").count("retrying") == 2
