"""End to end: `fab staging pred ...` over SSH (the loopback sshd of install/sshd.sh) with the
real skynet.pex, into a temporary root holding a space and a ``;``: deploy, run (a heartbeat
stand-in and the REST service, whose /readyz answers 200), second build, rollback, broken
builds, clean. Services run under supervisord (systemd does not run here), as
the unprivileged ``skynet`` user the deployment creates."""

from __future__ import annotations

import json
import os
import pwd
import stat
from pathlib import Path

import pytest

from skynet.deploy import LocalHost, SSHHost, open_build_store
from skynet.deploy._host import as_user, q
from skynet.tests.deploy.conftest import REPO, ROOT_NAME, SERVICE_USER, make_fake_pex, write_inventory
from skynet.tests.deploy.conftest import fab_ok as _ok
from skynet.tests.deploy.conftest import run_fab as _fab

pytestmark = pytest.mark.integration


@pytest.fixture
def site(tmp_path, sshd, real_pex, deploy_root):
    """A build store with builds 101 and 102 (the real PEX), 103 (exits non-zero) and 104
    (passes its checks, crashes as a service); an inventory pointing at the sshd."""
    store = open_build_store(str(tmp_path / "builds"))
    for num in (101, 102):
        store.put(real_pex, f"0.1.0-b{num}", {"build_num": num})
    store.put(make_fake_pex(tmp_path / "f" / "103.pex", "0.1.0-b103", always_fail=True), "0.1.0-b103", {})
    store.put(make_fake_pex(tmp_path / "f" / "104.pex", "0.1.0-b104", service_crashes=True), "0.1.0-b104", {})
    root = deploy_root
    inventory = write_inventory(
        tmp_path / "inventory.yml", root, tmp_path / "builds", sshd["host"], sshd["ssh"]
    )
    port = _with_serve(inventory)
    env = {**os.environ, "SKYNET_INVENTORY": str(inventory), "SERVE_PORT": str(port)}
    env.pop("SKYNET_DEPLOY_ROOT", None)
    yield root, env
    conf = root / "supervisor" / "supervisord.conf"
    if conf.exists():
        LocalHost().run(f"supervisorctl -c {q(conf)} shutdown", check=False)


def _with_serve(inventory: Path) -> int:
    """Add the REST service (skynet serve on a free port, healthy when its /readyz answers 200)
    to the inventory's pred group; return its port. Its first start compiles the models' jitted
    code: the health timeout allows for that on a busy machine."""
    import socket

    import yaml

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    data = yaml.safe_load(inventory.read_text())
    data["groups"]["pred"]["services"]["serve"] = {
        "command": f"serve --port {port} --reload-interval 0",
        "health": f"serve health --url http://127.0.0.1:{port}/readyz",
        "start_seconds": 2,
        "optional": True,  # the fake builds 103 and 104 have no `skynet serve`: skipped there
    }
    data["health_timeout"] = 180
    inventory.write_text(yaml.safe_dump(data, sort_keys=False))
    return port


def _register_models(data_dir: Path) -> dict[str, str]:
    """Small models of both types registered in a deployment's data folder (its SQLite registry
    and folder store), owned by the service user as the deployment leaves that folder."""
    from skynet.api import estimation, user_model
    from skynet.config import load_settings
    from skynet.models.estimation import SAMPLE_PARAMS as ESTIMATION_PARAMS
    from skynet.models.estimation import sample_data as estimation_sample
    from skynet.models.user_model import SAMPLE_PARAMS, sample_data

    settings = load_settings(None, environ={"SKYNET_GENERAL_DATA_DIR": str(data_dir)})
    names = {
        "user_model": user_model.train(settings, params=SAMPLE_PARAMS, frame=sample_data(400), progress=False)[0],
        "estimation": estimation.train(settings, params=ESTIMATION_PARAMS, frame=estimation_sample(300),
                                       progress=False)[0],
    }  # fmt: skip
    if SERVICE_USER:
        LocalHost().run(f"chown -R {q(SERVICE_USER)}: {q(data_dir)}")
    return names


def _readyz(port: int) -> dict:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as answer:
        assert answer.status == 200
        return json.loads(answer.read())


def _target(link: Path) -> str:
    return Path(os.readlink(link)).name


def _status(root: Path, program: str = "skynet-heartbeat") -> str:
    conf = q(root / "supervisor/supervisord.conf")
    return LocalHost().run(f"supervisorctl -c {conf} status {program}", check=False).stdout


def _service_user(root: Path) -> str:
    """The user the heartbeat service's process runs as."""
    pid = _status(root).split("pid ")[1].split(",")[0]
    return LocalHost().run(f"ps -o user= -p {q(pid)}").stdout.strip()


def _owner(path: Path) -> str:
    return pwd.getpwuid(path.stat().st_uid).pw_name


def test_fab_deploy_rollback_clean_over_ssh(site, sshd, tmp_path):
    root, env = site
    assert root.name == ROOT_NAME  # a space and a ";": every command must quote it
    service, dag = root / "services" / "heartbeat", root / "airflow"

    _ok(_fab(env, "staging", "pred", "deploy", "--build-num", "101"))
    pex = root / "shared/pex/0.1.0-b101.pex"
    assert (root / "shared/pex/0.1.0-b101.pex.sha256").read_text().split()[0] == open_build_store(
        str(tmp_path / "builds")
    ).fetch(101, root).sha256
    release = service / "releases/0.1.0-b101"
    assert sorted(p.name for p in release.iterdir()) == ["config.yml", "skynet.pex"]
    assert os.readlink(release / "skynet.pex") == str(pex)
    assert os.readlink(service / "current") == str(release)
    assert sorted(p.name for p in (dag / "smoke/releases/0.1.0-b101").iterdir()) == [
        "config.yml",
        "skynet.pex",
        "smoke.py",
    ]
    assert os.readlink(dag / "dags/smoke/current") == str(dag / "smoke/releases/0.1.0-b101")

    # the release's config.yml holds secrets: 0600, owned by the service user
    config_yml = release / "config.yml"
    assert stat.S_IMODE(config_yml.stat().st_mode) == 0o600
    assert _owner(config_yml) == (SERVICE_USER or "root")

    # the deployed PEX runs on the host, as the service user, with the release's configuration
    host = SSHHost(sshd["host"], sshd["ssh"])
    pex_root = q(root / "shared/pex_root")
    shown = host.run(
        f"{as_user(SERVICE_USER)}env PEX_ROOT={pex_root} {q(service / 'current/skynet.pex')} "
        f"--config {q(service / 'current/config.yml')} config show --format json"
    )
    config = json.loads(shown.stdout)
    assert config["general"]["data_dir"] == str(root / "data") and config["models"]["seed"] == 7

    # the REST service answers once the pred host's registry has a model of each type
    models = _register_models(Path(config["general"]["data_dir"]))
    _ok(_fab(env, "staging", "pred", "restart-all"))
    assert "RUNNING" in _status(root)
    if SERVICE_USER:  # finding 8: the service is not root
        assert _service_user(root) == SERVICE_USER
    ready = _readyz(int(env["SERVE_PORT"]))  # restart-all waited for `skynet serve health` on the host
    assert ready["ready"] and {k: v["name"] for k, v in ready["models"].items()} == models
    assert "RUNNING" in _status(root, "skynet-serve")

    _ok(_fab(env, "staging", "pred", "deploy", "--build-num", "102"))
    assert _target(service / "current") == "0.1.0-b102" and _target(service / "previous") == "0.1.0-b101"
    _ok(_fab(env, "staging", "pred", "restart-all"))

    _ok(_fab(env, "staging", "pred", "rollback"))
    assert _target(service / "current") == "0.1.0-b101"
    assert _target(dag / "dags/smoke/current") == "0.1.0-b101"
    assert "RUNNING" in _status(root)

    # a build whose PEX exits non-zero never becomes current (nor lands in shared/pex)
    broken = _fab(env, "staging", "pred", "deploy", "--build-num", "103")
    assert broken.returncode != 0 and "failed its smoke test" in broken.stderr
    assert _target(service / "current") == "0.1.0-b101"
    assert not (root / "shared/pex/0.1.0-b103.pex").exists()

    # a build that passes its checks but crashes as a service: restart-all fails loudly and goes back
    _ok(_fab(env, "staging", "pred", "deploy", "--build-num", "104"))
    assert _target(service / "current") == "0.1.0-b104"
    failed = _fab(env, "staging", "pred", "restart-all")
    assert failed.returncode != 0
    assert (
        "did not become healthy on 0.1.0-b104" in failed.stderr
        and "rolled back to 0.1.0-b101" in failed.stderr
    )
    assert _target(service / "current") == "0.1.0-b101"
    assert "RUNNING" in _status(root)
    if SERVICE_USER:
        assert _service_user(root) == SERVICE_USER

    _ok(_fab(env, "staging", "pred", "clean", "--n-keep", "1"))
    assert sorted(p.name for p in (service / "releases").iterdir()) == ["0.1.0-b101", "0.1.0-b104"]
    # the REST service skipped the fake builds 103 and 104 (no `skynet serve`): its current (101)
    # and previous (102) releases stay, so the shared PEX of 102 is still in use and stays
    assert sorted(p.name for p in (root / "services/serve/releases").iterdir()) == [
        "0.1.0-b101",
        "0.1.0-b102",
    ]
    assert sorted(p.name for p in (root / "shared/pex").glob("*.pex")) == [
        "0.1.0-b101.pex",
        "0.1.0-b102.pex",
        "0.1.0-b104.pex",
    ]

    _ok(_fab(env, "staging", "pred", "remove-extracted-pex-artifacts"))
    again = host.run(
        f"{as_user(SERVICE_USER)}env PEX_ROOT={pex_root} {q(service / 'current/skynet.pex')} --version"
    )
    assert again.stdout.strip() == "skynet, version 0.1.0"


def test_fab_needs_an_environment_and_group(site):
    _, env = site
    proc = _fab(env, "deploy")
    assert proc.returncode == 2 and "choose an environment and a group first" in proc.stderr
    proc = _fab(env, "qa", "pred", "deploy")
    assert proc.returncode != 0


@pytest.mark.slow
def test_build_is_reproducible(real_pex, tmp_path, monkeypatch):
    """A second build of the same inputs (sources, pins, tools, SOURCE_DATE_EPOCH) gives the
    same bytes as the session's build, made earlier in another process and folder."""
    from skynet.deploy import build_pex, sha256_file
    from skynet.tests.deploy.conftest import inputs_digest

    if real_pex.parent.name != inputs_digest():
        pytest.skip("the sources changed during this run (someone is editing the tree)")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", (real_pex.parent / "SOURCE_DATE_EPOCH").read_text())
    store = open_build_store(str(tmp_path / "store"))
    build = build_pex(REPO, 1, tmp_path / "dist", store)
    assert build.sha256 == sha256_file(real_pex)
    assert (
        tmp_path / "dist" / f"{build.path.name}.sha256"
    ).read_text() == f"{build.sha256}  {build.path.name}\n"
    assert store.builds() == {1: build.tag}
