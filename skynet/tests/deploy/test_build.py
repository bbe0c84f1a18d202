"""Build pieces that need no pex run: pin checking, the build store, DAG and unit rendering."""

from __future__ import annotations

import ast
import json
import shlex
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
    systemd = SystemdManager(LocalHost(), layout, REPO / "install", "skynet", "skynet")
    unit = systemd.unit_text(worker)
    assert "ExecStart=/opt/ai/services/control-worker/current/skynet.pex --config " in unit
    assert "/opt/ai/services/control-worker/current/config.yml control worker" in unit
    assert "Restart=always" in unit  # its own template, install/systemd/skynet-control-worker.service
    assert (
        "Restart=on-failure" in systemd.unit_text(other)
        and "Environment=PEX_ROOT=/opt/ai/shared/pex_root HOME=/opt/ai/services/control-worker/state" in unit
    )
    repo_worker = load_inventory(REPO / "inventory.yml", environ={}).services["pred"]["control-worker"]
    assert (
        "control worker --heartbeat-file /opt/ai/services/control-worker/state/heartbeat.json"
        in systemd.unit_text(repo_worker)
    )
    program = SupervisorManager(LocalHost(), layout, REPO / "install", "skynet", "skynet").program_text(other)
    assert "[program:skynet-heartbeat]" in program and "startsecs=4" in program
    assert (
        "command=/opt/ai/services/heartbeat/current/skynet.pex --config /opt/ai/services/heartbeat/current/config.yml deploy heartbeat --interval 5"
        in program
    )


def test_services_run_as_the_service_user():
    """Finding 8: systemd units and supervisord programs name the unprivileged user."""
    layout, spec = Layout("/opt/ai"), ServiceSpec("heartbeat", "deploy heartbeat")
    for template in ("skynet-service.service", "skynet-control-worker.service"):
        assert "User=$user" in (REPO / "install/systemd" / template).read_text()
    units = [SystemdManager(LocalHost(), layout, REPO / "install", "sky", "skygroup").unit_text(s)
             for s in (spec, ServiceSpec("control-worker", "control worker"))]  # fmt: skip
    for unit in units:
        assert "\nUser=sky\n" in unit and "\nGroup=skygroup\n" in unit and "NoNewPrivileges=true" in unit
        assert "\nWorkingDirectory=/opt/ai/services/" in unit and "/state\n" in unit
    program = SupervisorManager(LocalHost(), layout, REPO / "install", "sky", "skygroup").program_text(spec)
    assert "\nuser=sky\n" in program and 'HOME="/opt/ai/services/heartbeat/state",USER="sky"' in program
    inventory = load_inventory(REPO / "inventory.yml", environ={})
    assert inventory.service_user == "skynet"


def test_units_quote_a_root_with_a_space_and_a_semicolon():
    """Finding 8: each file format gets its own quoting; supervisord splits `command=` with shlex."""
    layout = Layout("/srv/opt ai;x%d")
    spec = ServiceSpec("heartbeat", "deploy heartbeat --file {state_dir}/beat.json")
    unit = SystemdManager(LocalHost(), layout, REPO / "install", "sky", "sky").unit_text(spec)
    assert (
        'ExecStart="/srv/opt ai;x%%d/services/heartbeat/current/skynet.pex" --config '
        '"/srv/opt ai;x%%d/services/heartbeat/current/config.yml" deploy heartbeat --file '
        '"/srv/opt ai;x%%d/services/heartbeat/state/beat.json"\n' in unit
    )
    assert 'Environment="PEX_ROOT=/srv/opt ai;x%%d/shared/pex_root"' in unit
    program = SupervisorManager(LocalHost(), layout, REPO / "install", "sky", "sky").program_text(spec)
    command = next(line for line in program.splitlines() if line.startswith("command="))
    assert shlex.split(command[len("command=") :].replace("%%", "%")) == [
        "/srv/opt ai;x%d/services/heartbeat/current/skynet.pex", "--config",
        "/srv/opt ai;x%d/services/heartbeat/current/config.yml", "deploy", "heartbeat", "--file",
        "/srv/opt ai;x%d/services/heartbeat/state/beat.json",
    ]  # fmt: skip
    with pytest.raises(DeployError, match="starts a comment"):  # INI has no escape for " ;"
        SupervisorManager(LocalHost(), Layout("/srv/a ;b"), REPO / "install", "sky", "sky").program_text(spec)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("root: opt/ai", "must be an absolute path"),
        ('root: "/opt/a\\nb"', "must be an absolute path on one line"),
        ("service_user: Root!", "is not a user name"),
        ('root: "/opt/a b"', "PEX_ROOT '/opt/a b/shared/pex_root' holds a blank.*set pex_root"),
        ('pex_root: "/var/cache/a b"', "PEX_ROOT '/var/cache/a b' holds a blank"),
        ("pex_root: cache", "pex_root 'cache' must be an absolute path"),
    ],
)
def test_bad_root_or_user_is_an_inventory_error(tmp_path, text, message):
    from skynet.errors import ConfigError

    path = tmp_path / "inventory.yml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError, match=message):
        load_inventory(path, environ={})
