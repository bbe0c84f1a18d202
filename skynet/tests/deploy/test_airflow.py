"""Airflow 3 DAGs rendered per release: every one imports into a DagBag, and `airflow dags test`
runs one end to end against the real skynet.pex. Runs in `tox -e airflow` (Airflow has its
own venv); elsewhere these tests skip, unless SKYNET_REQUIRE_AIRFLOW is set."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from skynet.deploy import Deployment, Layout, load_inventory, open_build_store, render_dag
from skynet.tests.deploy.conftest import REPO, write_inventory


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory):
    """An AIRFLOW_HOME of this module's own (SQLite metadata DB, no examples)."""
    home = tmp_path_factory.mktemp("airflow-home")
    os.environ.setdefault("AIRFLOW_HOME", str(home))  # read when airflow is first imported
    if os.environ.get("SKYNET_REQUIRE_AIRFLOW"):
        import airflow  # noqa: F401 - must be importable in tox -e airflow
    else:
        pytest.importorskip("airflow", reason="Airflow runs in its own tox env: tox -e airflow")
    return home


def _airflow_env(home: Path, dags: Path) -> dict[str, str]:
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
    }


def _dagbag(folder: Path, home: Path, monkeypatch):
    for key, value in _airflow_env(home, folder).items():
        if key.startswith("AIRFLOW"):
            monkeypatch.setenv(key, value)
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(folder))


def test_every_rendered_dag_imports_into_a_dagbag(airflow_home, tmp_path, monkeypatch):
    inventory = load_inventory(REPO / "inventory.yml", environ={})
    layout = Layout("/opt/ai")
    specs = [dag for group in inventory.dags.values() for dag in group.values()]
    assert {d.name for d in specs} >= {"user_model_training", "estimation_training"}
    for dag in specs:
        (tmp_path / f"{dag.name}.py").write_text(render_dag(dag, layout, "0.1.0-b3824"))
    bag = _dagbag(tmp_path, airflow_home, monkeypatch)
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {d.name for d in specs}
    for spec in specs:
        dag = bag.dags[spec.name]
        assert dag.catchup is False and dag.max_active_runs == 1
        assert [t.task_id for t in dag.topological_sort()] == [t.id for t in spec.tasks]
        for task, task_spec in zip(dag.topological_sort(), spec.tasks, strict=True):
            assert task.retries == spec.retries
            pex = f"/opt/ai/airflow/dags/{spec.name}/current/skynet.pex"
            config = f"/opt/ai/airflow/dags/{spec.name}/current/config.yml"
            assert task.bash_command == f"{pex} --config {config} {task_spec.command}"
            assert task.env == {"PEX_ROOT": "/opt/ai/shared/pex_root"} and task.append_env is True
    train = bag.dags["user_model_training"].get_task("train_user_model")
    assert "--end {{ data_interval_end | ds }}" in train.bash_command  # rendered by Airflow at run time


def test_airflow_dags_test_runs_a_released_dag_against_the_real_pex(
    airflow_home, real_pex, tmp_path, deploy_root
):
    """Release the real PEX on this machine (LocalHost), then `airflow dags test` the DAG."""
    store = open_build_store(str(tmp_path / "builds"))
    store.put(real_pex, "0.1.0-b5", {"build_num": 5})
    root = deploy_root  # the service user reads its releases there
    inventory = load_inventory(write_inventory(tmp_path / "inventory.yml", root, tmp_path / "builds"))
    deployment = Deployment(inventory, "staging", "pred", REPO / "install", log=lambda line: None)
    deployment.install_pex(5)
    deployment.airflow_dag_release()
    layout = Layout(str(root))
    assert Path(layout.dag_current("smoke"), "smoke.py").exists()

    airflow = [sys.executable, "-m", "airflow"] if not shutil.which("airflow") else [shutil.which("airflow")]
    env = _airflow_env(airflow_home, Path(layout.dags_folder))
    migrate = subprocess.run(
        [*airflow, "db", "migrate"], env=env, capture_output=True, text=True, timeout=600
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    run = subprocess.run([*airflow, "dags", "test", "smoke", "2026-01-02"], env=env, capture_output=True,
                         text=True, timeout=900)  # fmt: skip
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-5000:]
    assert "configuration OK (from " + str(Path(layout.dag_current("smoke"), "config.yml")) in out
    assert "skynet 0.1.0 OK on Python" in out
    finished = re.search(r"DagRun Finished: dag_id=smoke, .*?state=(\w+)", out)
    assert finished and finished[1] == "success", out[-3000:]
    assert out.count("new_state=success") == 2  # both tasks
