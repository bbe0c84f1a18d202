"""Fixtures for deployment tests: fake PEXes (small zipapps), an inventory, the real PEX (built
once per session and cached by its inputs' digest) and the loopback sshd of install/sshd.sh.

Deployments go into a root holding a space and a ``;`` (``deploy_root``), so every test proves
the quoting, and run their services as the unprivileged ``skynet`` user, which the deployment
creates (that needs root; elsewhere the services run as the current user)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from skynet.deploy import load_inventory

REPO = Path(__file__).resolve().parents[3]

#: A stand-in for skynet.pex: a Python zipapp with a PEX-INFO, whose behaviour is set per test.
_FAKE_MAIN = r"""
import sys, time
args = sys.argv[1:]
behaviour = BEHAVIOUR
words = [a for a in args if not a.startswith("-")]
if args and args[0] == "--config":
    words = [a for a in args[2:] if not a.startswith("-")]
cmd = " ".join(words)
if behaviour.get("always_fail"):
    print("this build is broken", file=sys.stderr); sys.exit(3)
if "--help" in args:
    known = behaviour.get("commands", [])
    if any(cmd == k or cmd == "" for k in known):
        print("Usage: skynet " + cmd + " " + " ".join(behaviour.get("options", [])))
        sys.exit(0)
    print("No such command " + cmd, file=sys.stderr); sys.exit(2)
if cmd.startswith("deploy heartbeat"):
    if behaviour.get("service_crashes"):
        print("crash on start", file=sys.stderr); sys.exit(4)
    while True:
        print("beat", behaviour.get("name"), flush=True); time.sleep(0.5)
print("ok", behaviour.get("name"), cmd)
"""


def make_fake_pex(path: Path, name: str, **behaviour) -> Path:
    """Write an executable zipapp at ``path`` that acts like skynet.pex (see ``_FAKE_MAIN``)."""
    behaviour = {
        "name": name,
        "commands": ["deploy check", "config check", "deploy heartbeat"],
        "options": ["--interval"],
        **behaviour,
    }
    main = _FAKE_MAIN.replace("BEHAVIOUR", repr(behaviour))
    info = {"distributions": {f"fake_{name}-1.0-py3-none-any.whl": hashlib.sha256(name.encode()).hexdigest()},
            "pex_hash": hashlib.sha1(name.encode()).hexdigest()}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    zpath = path.with_suffix(".zip")
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("__main__.py", main)
        zf.writestr("PEX-INFO", json.dumps(info))
    path.write_bytes(b"#!/usr/bin/env python3\n" + zpath.read_bytes())
    zpath.unlink()
    path.chmod(0o755)
    return path


@pytest.fixture
def fake_store(tmp_path):
    """A local build store and a function adding a fake build to it: ``add(num, **behaviour)``."""
    from skynet.deploy import open_build_store

    store = open_build_store(str(tmp_path / "builds"))

    def add(num: int, **behaviour) -> str:
        tag = f"0.1.0-b{num}"
        pex = make_fake_pex(tmp_path / "work" / f"{tag}.pex", tag, **behaviour)
        store.put(pex, tag, {"build_num": num})
        return tag

    return store, add


#: The user the test deployments run services as (creating it needs root).
SERVICE_USER = "skynet" if os.geteuid() == 0 else ""
#: The last part of every test deployment root: a space and a ";" that must never reach a shell unquoted.
ROOT_NAME = "opt ai;x"

INVENTORY = """
root: {root}
build_store: {store}
ssh: {ssh}
service_user: "{user}"
pex_root: {pex_root}
service_manager: supervisor
health_timeout: 20
groups:
  pred:
    services:
      heartbeat: {{command: deploy heartbeat --interval 1, health: config check, start_seconds: 2}}
      later-worker: {{command: future worker, optional: true}}
    dags:
      smoke: {{schedule: "@daily", tasks: [{{id: check, command: config check}}, {{id: deploy_check, command: deploy check}}]}}
  train:
    dags:
      user_model_training:
        optional: true
        tasks: [{{id: train, command: user_model train}}]
environments:
  staging:
    hosts: {{pred: [{host}], train: [{host}]}}
    config: {{general: {{data_dir: {data_dir}, log_level: INFO}}, models: {{seed: 7}}}}
"""


def write_inventory(
    path: Path,
    root: Path,
    store: Path,
    host: str = "local",
    ssh: dict | None = None,
    user: str = SERVICE_USER,
) -> Path:
    # pex cannot run from a PEX_ROOT holding a blank (it reads it back from a shebang line)
    pex_root = str(root.parent / "pex_root") if " " in str(root) else ""
    values = {
        "pex_root": json.dumps(pex_root),
        "root": json.dumps(str(root)),
        "store": json.dumps(str(store)),
        "data_dir": json.dumps(f"{root}/data"),
    }
    path.write_text(INVENTORY.format(**values, host=host, ssh=json.dumps(ssh or {}), user=user))
    return path


@pytest.fixture
def deploy_root():
    """``/tmp/skynet-deploy-test-XXXX/opt ai;x``: a root holding a space and a ``;``, in a folder
    every user may enter (the service user reads its releases there; pytest's tmp_path is
    private to the user running the tests). Removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="skynet-deploy-test-"))
    base.chmod(0o755)
    yield base / ROOT_NAME
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def local_inventory(tmp_path, fake_store, deploy_root):
    """An inventory whose only host is this machine (``local``), rooted at ``deploy_root``."""
    return load_inventory(write_inventory(tmp_path / "inventory.yml", deploy_root, tmp_path / "builds"))


# -- the real PEX -------------------------------------------------------------------------------
def inputs_digest() -> str:
    """A digest of everything fab build reads (the PEX cache key)."""
    digest = hashlib.sha256()
    names = ("requirements.txt", "setup.py", "pyproject.toml", "README.md", "MANIFEST.in")
    files = [REPO / n for n in names] + [REPO / "install" / "build-constraints.txt"]
    tests = REPO / "skynet" / "tests"  # not in the PEX (see _build_wheel)
    files += sorted(p for p in (REPO / "skynet").rglob("*")
                    if p.is_file() and "__pycache__" not in p.parts and tests not in p.parents)  # fmt: skip
    for path in files:
        if path.exists():
            digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    import pex.version

    digest.update(pex.version.__version__.encode())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def real_pex(tmp_path_factory) -> Path:
    """skynet.pex of this checkout (build 1), built once and cached in
    ~/.cache/skynet-test/pex/<inputs digest>/, with the SOURCE_DATE_EPOCH it was built with."""
    pytest.importorskip("pex", reason="pex is in requirements-dev.txt")
    from skynet.deploy import build_pex, source_date_epoch

    cache = Path(os.environ.get("SKYNET_TEST_PEX_CACHE", "~/.cache/skynet-test/pex")).expanduser()
    cache = cache / inputs_digest()
    found = sorted(cache.glob("skynet-*-b1.pex"))
    if found and (cache / "SOURCE_DATE_EPOCH").exists():
        return found[0]
    epoch = str(source_date_epoch(REPO))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOURCE_DATE_EPOCH", epoch)
        build = build_pex(REPO, 1, tmp_path_factory.mktemp("pex-build"))
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "SOURCE_DATE_EPOCH").write_text(epoch)
    shutil.copy2(build.path, cache / f".{build.path.name}.tmp")
    os.replace(cache / f".{build.path.name}.tmp", cache / build.path.name)
    older = sorted((d for d in cache.parent.iterdir() if d != cache), key=lambda d: d.stat().st_mtime)
    for stale in older[:-2]:  # ~240 MB each: keep this build and the two before it
        shutil.rmtree(stale, ignore_errors=True)
    return cache / build.path.name


# -- the loopback sshd --------------------------------------------------------------------------
SSH_DIR = Path(os.environ.get("SKYNET_TEST_SSH_DIR", "/tmp/skynet-test-ssh"))
SSH_PORT = int(os.environ.get("SKYNET_TEST_SSH_PORT", "2222"))


@pytest.fixture(scope="session")
def sshd() -> dict:
    """The sshd started by install/sshd.sh: host, port and the test key. Missing: skip, or fail where CI is set."""
    key = SSH_DIR / "id_ed25519"
    try:
        with socket.create_connection(("127.0.0.1", SSH_PORT), timeout=3):
            pass
        if not key.exists():
            raise OSError(f"no test key at {key}")
    except OSError as exc:
        message = f"no test sshd on 127.0.0.1:{SSH_PORT} ({exc}); run install/sshd.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return {"host": f"root@127.0.0.1:{SSH_PORT}", "ssh": {"key_filename": str(key), "connect_timeout": 10}}


# -- fab ------------------------------------------------------------------------------------------
def run_fab(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """``fab ARGS...`` of this checkout (its fabfile.py) in a process of its own, with ``env``."""
    fab = Path(sys.executable).with_name("fab")
    cmd = [str(fab)] if fab.exists() else [sys.executable, "-m", "fabric"]
    return subprocess.run([*cmd, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)


def fab_ok(proc: subprocess.CompletedProcess) -> str:
    """The stderr (the tasks' progress) of a fab run that must have succeeded."""
    assert proc.returncode == 0, f"fab exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stderr
