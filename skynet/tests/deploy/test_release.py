"""Releases on a host (this machine, through LocalHost) with fake PEXes: layout, atomic switch,
rollback, clean, and broken builds that must never become current. The root holds a space and
a ``;`` (``deploy_root``); services run as the unprivileged ``SERVICE_USER``."""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import stat
from pathlib import Path

import pytest

from skynet.deploy import Deployment, Layout, LocalHost, build_number, release_tag
from skynet.deploy._host import q
from skynet.errors import DeployError
from skynet.tests.deploy.conftest import REPO, ROOT_NAME, SERVICE_USER


@pytest.fixture
def deployment(local_inventory):
    lines: list[str] = []
    dep = Deployment(local_inventory, "staging", "pred", REPO / "install", log=lines.append)
    dep.lines = lines
    return dep


def _current(layout: Layout, service: str = "heartbeat") -> str:
    return os.readlink(layout.service_current(service))


def test_release_tag_round_trip():
    assert release_tag("0.1.0", 3824) == "0.1.0-b3824"
    assert build_number("0.1.0-b3824") == 3824
    with pytest.raises(DeployError):
        build_number("0.1.0+b3824")


def test_deploy_builds_the_documented_tree(deployment, fake_store):
    store, add = fake_store
    add(7)
    assert deployment.deploy(7) == "0.1.0-b7"
    root = Path(deployment.layout.root)
    pex = root / "shared/pex/0.1.0-b7.pex"
    assert pex.is_file() and os.access(pex, os.X_OK)
    assert (root / "shared/pex/0.1.0-b7.pex.sha256").read_text().split()[0] == store.fetch(7, root).sha256
    release = root / "services/heartbeat/releases/0.1.0-b7"
    assert os.readlink(release / "skynet.pex") == str(pex)
    assert "data_dir: " + str(root / "data") in (release / "config.yml").read_text()
    assert _current(deployment.layout) == str(release)
    dag_release = root / "airflow/smoke/releases/0.1.0-b7"
    assert sorted(p.name for p in dag_release.iterdir()) == ["config.yml", "skynet.pex", "smoke.py"]
    assert os.readlink(root / "airflow/dags/smoke/current") == str(dag_release)
    # the optional service whose command the build lacks is skipped, not half-made
    assert not (root / "services/later-worker").exists()
    assert any("later-worker" in line and "skipped" in line for line in deployment.lines)
    # the released PEX runs, with the release's config
    out = (
        LocalHost().run(f"{q(root / 'services/heartbeat/current/skynet.pex')} --config x config check").stdout
    )
    assert out.strip() == "ok 0.1.0-b7 config check"


def test_second_release_switches_and_rollback_returns(deployment, fake_store):
    _, add = fake_store
    add(7), add(8)
    deployment.deploy(7)
    deployment.deploy(8)
    layout = deployment.layout
    assert _current(layout).endswith("0.1.0-b8")
    assert os.readlink(Path(layout.service_dir("heartbeat")) / "previous").endswith("0.1.0-b7")
    for link, releases in [(layout.service_current("heartbeat"), layout.service_releases("heartbeat")),
                           (layout.dag_current("smoke"), layout.dag_releases("smoke"))]:  # fmt: skip
        from skynet.deploy._release import rollback_link

        assert rollback_link(LocalHost(), link, releases) == "0.1.0-b7"
    assert _current(layout).endswith("0.1.0-b7")
    assert os.readlink(layout.dag_current("smoke")).endswith("0.1.0-b7")
    with pytest.raises(DeployError, match="no release older than 0.1.0-b7"):
        rollback_link(LocalHost(), layout.service_current("heartbeat"), layout.service_releases("heartbeat"))


def test_broken_build_never_becomes_current(deployment, fake_store):
    _, add = fake_store
    add(7), add(9, always_fail=True)
    deployment.deploy(7)
    with pytest.raises(
        DeployError, match="failed its smoke test `skynet deploy check` .exit 3.: this build is broken"
    ):
        deployment.deploy(9)
    layout = deployment.layout
    assert _current(layout).endswith("0.1.0-b7")
    assert not Path(layout.pex("0.1.0-b9")).exists()
    assert sorted(os.listdir(layout.pex_dir)) == ["0.1.0-b7.pex", "0.1.0-b7.pex.sha256"]


def test_required_command_missing_fails_before_switching(deployment, fake_store, local_inventory):
    _, add = fake_store
    add(7), add(
        10, commands=["deploy check", "deploy heartbeat"]
    )  # no `config check`: heartbeat's health command
    deployment.deploy(7)
    with pytest.raises(DeployError, match="has no `skynet config check`"):
        deployment.deploy(10)
    assert _current(deployment.layout).endswith("0.1.0-b7")
    assert not Path(deployment.layout.service_releases("heartbeat"), "0.1.0-b10").exists()


def test_corrupt_store_entry_is_refused(deployment, fake_store):
    store, add = fake_store
    add(7)
    pex = Path(store.location) / "skynet-0.1.0-b7.pex"
    pex.write_bytes(pex.read_bytes() + b"tampered")
    with pytest.raises(DeployError, match="sha256 is .*its .sha256 file says"):
        deployment.install_pex(7)


def test_install_pex_defaults_to_newest_and_reuses_identical_bytes(deployment, fake_store):
    store, add = fake_store
    add(7)
    shutil.copy(Path(store.location) / "skynet-0.1.0-b7.pex", Path(store.location) / "skynet-0.1.0-b11.pex")
    shutil.copy(
        Path(store.location) / "skynet-0.1.0-b7.pex.sha256",
        Path(store.location) / "skynet-0.1.0-b11.pex.sha256",
    )
    deployment.install_pex(7)
    assert deployment.install_pex() == "0.1.0-b11"
    assert (
        Path(deployment.layout.pex("0.1.0-b11")).read_bytes()
        == Path(deployment.layout.pex("0.1.0-b7")).read_bytes()
    )
    with pytest.raises(DeployError, match="has no build 12 .newest: 7, 11."):
        deployment.install_pex(12)


def test_clean_keeps_newest_and_current(deployment, fake_store):
    _, add = fake_store
    for n in (1, 2, 3, 4):
        add(n)
        deployment.deploy(n)
    from skynet.deploy._release import rollback_link

    layout = deployment.layout
    rollback_link(LocalHost(), layout.service_current("heartbeat"), layout.service_releases("heartbeat"))
    rollback_link(LocalHost(), layout.service_current("heartbeat"), layout.service_releases("heartbeat"))
    assert _current(layout).endswith("0.1.0-b2")
    deployment.clean(n_keep=1)
    assert sorted(os.listdir(layout.service_releases("heartbeat"))) == ["0.1.0-b2", "0.1.0-b4"]
    # the DAG was not rolled back: its current (b4) and previous (b3) stay
    assert sorted(os.listdir(layout.dag_releases("smoke"))) == ["0.1.0-b3", "0.1.0-b4"]
    assert sorted(p for p in os.listdir(layout.pex_dir) if p.endswith(".pex")) == [
        "0.1.0-b2.pex",
        "0.1.0-b3.pex",
        "0.1.0-b4.pex",
    ]
    with pytest.raises(DeployError, match="at least 1"):
        deployment.clean(n_keep=0)


def test_remove_extracted_pex_artifacts_keeps_installed_builds(deployment, fake_store):
    import hashlib

    _, add = fake_store
    add(7)
    deployment.deploy(7)
    pex_root = Path(deployment.layout.pex_root)
    used_wheel = hashlib.sha256(b"0.1.0-b7").hexdigest()
    used_venv = hashlib.sha1(b"0.1.0-b7").hexdigest()
    for rel in (f"installed_wheels/3/{used_wheel}/x.whl", f"installed_wheels/3/{'a' * 64}/old.whl",
                f"venvs/4/{used_venv}/abc/bin", f"venvs/4/{'b' * 40}/abc/bin"):  # fmt: skip
        (pex_root / rel).mkdir(parents=True)
    deployment.remove_extracted_pex_artifacts()
    assert (pex_root / f"installed_wheels/3/{used_wheel}").exists() and (
        pex_root / f"venvs/4/{used_venv}"
    ).exists()
    assert (
        not (pex_root / f"installed_wheels/3/{'a' * 64}").exists()
        and not (pex_root / f"venvs/4/{'b' * 40}").exists()
    )
    assert any("removed 2 entries" in line for line in deployment.lines)


def _supervisord():
    if shutil.which("supervisord") is None:
        if os.environ.get("CI"):
            pytest.fail("supervisord is missing (install/sshd.sh installs it)")
        pytest.skip("supervisord is not installed (install/sshd.sh installs it)")


@pytest.fixture
def supervised(deployment):
    _supervisord()
    yield deployment
    conf = Path(deployment.layout.supervisor_dir) / "supervisord.conf"
    if conf.exists():
        LocalHost().run(f"supervisorctl -c {q(conf)} shutdown", check=False)


@pytest.mark.integration
def test_restart_all_runs_services_and_rolls_back_a_crashing_release(supervised, fake_store):
    deployment = supervised
    _, add = fake_store
    add(7), add(8, service_crashes=True)
    deployment.deploy(7)
    deployment.restart_all()
    conf = q(f"{deployment.layout.supervisor_dir}/supervisord.conf")
    status = LocalHost().run(f"supervisorctl -c {conf} status skynet-heartbeat").stdout
    assert "RUNNING" in status
    if SERVICE_USER:  # finding 8: the service runs as the unprivileged user, not root
        pid = status.split("pid ")[1].split(",")[0]
        assert LocalHost().run(f"ps -o user= -p {q(pid)}").stdout.strip() == SERVICE_USER
        assert _owner(Path(deployment.layout.service_state("heartbeat"))) == SERVICE_USER
    deployment.deploy(8)
    assert _current(deployment.layout).endswith("0.1.0-b8")
    with pytest.raises(
        DeployError,
        match=r"heartbeat did not become healthy on 0.1.0-b8 .*rolled back to 0.1.0-b7, which is healthy",
    ):
        deployment.restart_all()
    assert _current(deployment.layout).endswith("0.1.0-b7")
    assert "RUNNING" in LocalHost().run(f"supervisorctl -c {conf} status skynet-heartbeat").stdout
    log = Path(deployment.layout.service_dir("heartbeat"), "service.log").read_text()
    assert "beat 0.1.0-b7" in log and "crash on start" in log


@pytest.mark.integration
def test_restart_all_fails_loudly_when_the_first_release_is_unhealthy(supervised, fake_store):
    deployment = supervised
    _, add = fake_store
    add(8, service_crashes=True)
    deployment.deploy(8)
    with pytest.raises(
        DeployError, match=r"did not become healthy on 0.1.0-b8 .*no release older than 0.1.0-b8"
    ):
        deployment.restart_all()
    assert _current(deployment.layout).endswith("0.1.0-b8")


# -- finding 7: the release's config.yml is 0600, the service user's, never readable on the way ----
def _owner(path: Path) -> str:
    return pwd.getpwuid(path.stat().st_uid).pw_name


class WatchingHost(LocalHost):
    """This machine; records every command, and how each uploaded file could be reached the
    moment it landed (the folder it landed in, its mode)."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.landed: list[tuple[str, int, int]] = []

    def run(self, command: str, check: bool = True, timeout: float | None = None):
        self.commands.append(command)
        return super().run(command, check, timeout)

    def put(self, local, remote: str) -> None:
        super().put(local, remote)
        folder = Path(remote).parent
        self.landed.append(
            (remote, stat.S_IMODE(folder.stat().st_mode), stat.S_IMODE(Path(remote).stat().st_mode))
        )


@pytest.fixture
def watched(local_inventory):
    host = WatchingHost()
    lines: list[str] = []
    dep = Deployment(
        local_inventory, "staging", "pred", REPO / "install", connect=lambda a: host, log=lines.append
    )
    dep.lines = lines
    return dep, host


def test_release_config_is_private_to_the_service_user(watched, fake_store, monkeypatch):
    deployment, host = watched
    _, add = fake_store
    add(7)
    monkeypatch.setenv("SKYNET_TEST_SECRET", "s3cret")
    deployment.inventory.environments["staging"].config["storage"] = {
        "url": "mysql+pymysql://u:${SKYNET_TEST_SECRET}@h/db"
    }
    deployment.deploy(7)
    layout = deployment.layout
    for config in (
        Path(layout.service_current("heartbeat"), "config.yml"),
        Path(layout.dag_current("smoke"), "config.yml"),
    ):
        assert stat.S_IMODE(config.stat().st_mode) == 0o600, config
        assert "s3cret" in config.read_text()
        if SERVICE_USER:
            assert _owner(config) == SERVICE_USER
    assert stat.S_IMODE(Path(layout.dag_current("smoke"), "smoke.py").stat().st_mode) == 0o644
    # each file landed in a private folder (0700) beside its target, never under its final name
    uploads = [entry for entry in host.landed if entry[0].endswith("config.yml")]
    assert uploads and all(folder_mode == 0o700 for _, folder_mode, _ in uploads), uploads
    assert not any(Path(p).parent.name == "0.1.0-b7" for p, _, _ in uploads)
    assert not list(Path(layout.service_releases("heartbeat"), "0.1.0-b7").glob(".upload-*"))  # cleaned up
    if SERVICE_USER:  # the data folder of the release configuration is the service user's
        assert _owner(Path(deployment.inventory.root, "data")) == SERVICE_USER
        assert _owner(Path(layout.pex_root)) == SERVICE_USER


# -- finding 8: a root holding a space and a ";" -----------------------------------------------------
def _unquoted(command: str, root: str) -> bool:
    """Whether the shell would split ``root`` in ``command`` (a ";" outside quotes is its own token)."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    head = ROOT_NAME.split()[0]
    return any(head in token and ROOT_NAME not in token for token in lexer)


def test_every_command_quotes_the_root(watched, fake_store):
    deployment, host = watched
    _, add = fake_store
    for n in (7, 8, 9):
        add(n)
        deployment.deploy(n)
    layout = deployment.layout
    from skynet.deploy._release import rollback_link

    assert (
        rollback_link(host, layout.service_current("heartbeat"), layout.service_releases("heartbeat"))
        == "0.1.0-b8"
    )
    deployment.clean(n_keep=1)
    deployment.remove_extracted_pex_artifacts()
    root = deployment.inventory.root
    assert root.endswith("/" + ROOT_NAME) and Path(root).is_dir()
    touching = [c for c in host.commands if ROOT_NAME.split()[0] in c]
    assert len(touching) > 50
    assert [c for c in touching if _unquoted(c, root)] == []
    # and the commands did what they say under that root
    assert (
        os.readlink(layout.service_current("heartbeat")) == f"{layout.service_releases('heartbeat')}/0.1.0-b8"
    )
    assert sorted(os.listdir(layout.service_releases("heartbeat"))) == ["0.1.0-b8", "0.1.0-b9"]


@pytest.mark.skipif(os.geteuid() != 0, reason="creating a user needs root")
def test_ensure_user_creates_a_system_user_once():
    import secrets

    from skynet.deploy._host import ensure_user

    name = f"skytest{secrets.token_hex(3)}"
    host = LocalHost()
    try:
        group = ensure_user(host, name)
        entry = pwd.getpwnam(name)
        assert group == name and entry.pw_dir == "/nonexistent" and entry.pw_uid < 1000  # --system
        assert ensure_user(host, name) == group  # idempotent
        assert pwd.getpwnam(name).pw_uid == entry.pw_uid
    finally:
        host.run(f"userdel {q(name)}", check=False)
        host.run(f"groupdel {q(name)}", check=False)
