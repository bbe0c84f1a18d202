"""Build pieces that need no pex run: pin checking, the build store, DAG and unit rendering."""

from __future__ import annotations

import ast
import json
import zipfile

import pytest

from skynet.deploy import (
    Layout,
    LocalHost,
    ServiceSpec,
    SupervisorManager,
    SystemdManager,
    load_inventory,
    open_build_store,
    render_dag,
    source_date_epoch,
)
from skynet.deploy._build import _check_pins
from skynet.errors import DeployError
from skynet.tests.deploy.conftest import REPO, make_fake_pex


def _pex_with(tmp_path, wheels):
    path = tmp_path / "x.pex"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("PEX-INFO", json.dumps({"distributions": {w: "0" * 64 for w in wheels}}))
    return path


def test_every_resolved_distribution_must_be_pinned(tmp_path):
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("# pins\nnumpy==2.4.6\nPyYAML==6.0.3 ; python_version >= '3'\n")
    ok = _pex_with(tmp_path, ["numpy-2.4.6-cp311-cp311-linux_x86_64.whl", "pyyaml-6.0.3-cp311-none-any.whl",
                              "skynet-0.1.0-py3-none-any.whl"])  # fmt: skip
    _check_pins(ok, reqs)
    drifted = _pex_with(
        tmp_path, ["numpy-2.5.0-cp311-cp311-linux_x86_64.whl", "narwhals-2.29.0-py3-none-any.whl"]
    )
    with pytest.raises(DeployError, match=r"does not pin numpy==2.5.0, narwhals==2.29.0"):
        _check_pins(drifted, reqs)


def test_repository_requirements_pin_everything_they_list():
    for line in (REPO / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            assert "==" in line, f"requirements.txt: {line!r} is not pinned"


def test_source_date_epoch_prefers_the_environment(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert source_date_epoch(REPO) == 1700000000
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert source_date_epoch(REPO) >= 315532800


def test_local_store_lists_fetches_and_refuses_unknown(tmp_path):
    store = open_build_store(str(tmp_path / "store"))
    with pytest.raises(DeployError, match="holds no build"):
        store.latest()
    for num in (3, 12):
        store.put(
            make_fake_pex(tmp_path / f"{num}.pex", f"0.1.0-b{num}"), f"0.1.0-b{num}", {"build_num": num}
        )
    (tmp_path / "store" / "skynet-0.1.0-b99.pex").write_bytes(b"no sha256 beside it: incomplete")
    assert store.builds() == {3: "0.1.0-b3", 12: "0.1.0-b12"} and store.latest() == 12
    fetched = store.fetch(None, tmp_path / "cache")
    assert fetched.tag == "0.1.0-b12" and fetched.path.read_bytes() == (tmp_path / "12.pex").read_bytes()
    assert (
        json.loads((tmp_path / "store" / "skynet-0.1.0-b3.json").read_text())["sha256"]
        == store.fetch(3, tmp_path).sha256
    )
    with pytest.raises(DeployError, match="expected a folder or s3://"):
        open_build_store("ftp://host/builds")


def test_rendered_dag_is_python_with_the_inventory_values():
    inventory = load_inventory(REPO / "inventory.yml", environ={})
    dag = inventory.dags["train"]["estimation_training"]
    source = render_dag(dag, Layout("/srv/ai"), "0.1.0-b3824")
    tree = ast.parse(source)
    values = {n.targets[0].id: ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)}
    assert values["PEX"] == "/srv/ai/airflow/dags/estimation_training/current/skynet.pex"
    assert values["ENV"] == {"PEX_ROOT": "/srv/ai/shared/pex_root"}
    assert values["TASKS"] == [(t.id, t.command) for t in dag.tasks]
    assert "catchup=False" in source and "schedule='0 3 * * *'" in source and "'0.1.0-b3824'" in source
    assert "from airflow.sdk import DAG" in source


def test_units_render_for_systemd_and_supervisor(tmp_path):
    layout = Layout("/opt/ai")
    worker = ServiceSpec("control-worker", "control worker", health="config check")
    other = ServiceSpec("heartbeat", "deploy heartbeat --interval 5", start_seconds=4)
    systemd = SystemdManager(LocalHost(), layout, REPO / "install")
    unit = systemd.unit_text(worker)
    assert "ExecStart=/opt/ai/services/control-worker/current/skynet.pex --config " in unit
    assert "/opt/ai/services/control-worker/current/config.yml control worker" in unit
    assert "Restart=always" in unit  # its own template, install/systemd/skynet-control-worker.service
    assert (
        "Restart=on-failure" in systemd.unit_text(other)
        and "Environment=PEX_ROOT=/opt/ai/shared/pex_root" in unit
    )
    repo_worker = load_inventory(REPO / "inventory.yml", environ={}).services["pred"]["control-worker"]
    assert (
        "control worker --heartbeat-file /opt/ai/services/control-worker/heartbeat.json"
        in systemd.unit_text(repo_worker)
    )
    program = SupervisorManager(LocalHost(), layout, REPO / "install").program_text(other)
    assert "[program:skynet-heartbeat]" in program and "startsecs=4" in program
    assert (
        "command=/opt/ai/services/heartbeat/current/skynet.pex --config /opt/ai/services/heartbeat/current/config.yml deploy heartbeat --interval 5"
        in program
    )
