"""Build ``skynet.pex``: the skynet wheel plus the pinned requirements, in one reproducible file.

Same inputs give the same bytes: the wheel is built from a clean copy of the sources with the
build backend pinned in ``install/build-constraints.txt`` and ``SOURCE_DATE_EPOCH`` set (the
last commit's time), and pex writes zips with fixed timestamps and sorted entries. Every
distribution the PEX resolves must be pinned in ``requirements.txt``, or the build fails:
an unpinned transitive dependency would make next month's build differ.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skynet.deploy._host import release_tag
from skynet.deploy._store import BuildStore, pex_name, sha256_file
from skynet.errors import DeployError

__all__ = ["Build", "build_pex", "source_date_epoch", "project_version"]

#: The interpreter every host must have: the PEX's shebang and its interpreter constraint.
PYTHON = "python3.11"
INTERPRETER_CONSTRAINT = "CPython==3.11.*"
_FALLBACK_EPOCH = 315532800  # 1980-01-01, the earliest time a zip can hold
_SOURCES = ("setup.py", "pyproject.toml", "README.md", "MANIFEST.in", "skynet")


@dataclass(frozen=True)
class Build:
    """A built PEX."""

    build_num: int
    tag: str
    path: Path
    sha256: str
    size: int
    seconds: float
    stored_at: str | None


def project_version(repo: Path) -> str:
    """``skynet.__version__`` as written in the repository (not the imported one)."""
    match = re.search(r'__version__ = "([^"]+)"', (repo / "skynet" / "__init__.py").read_text())
    if not match:
        raise DeployError(f"{repo}/skynet/__init__.py: no __version__")
    return match[1]


def source_date_epoch(repo: Path) -> int:
    """``$SOURCE_DATE_EPOCH``, else the time of the last commit, else 1980-01-01."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return int(os.environ["SOURCE_DATE_EPOCH"])
    proc = subprocess.run(
        ["git", "-C", str(repo), "log", "-1", "--format=%ct"], capture_output=True, text=True
    )
    out = proc.stdout.strip()
    return max(int(out), _FALLBACK_EPOCH) if proc.returncode == 0 and out.isdigit() else _FALLBACK_EPOCH


def build_pex(
    repo: str | os.PathLike[str],
    build_num: int,
    out_dir: str | os.PathLike[str] | None = None,
    store: BuildStore | None = None,
    log: Any = None,
) -> Build:
    """Build ``skynet-<version>-b<build_num>.pex`` (and its ``.sha256``) and put it into ``store``.

    Args:
        repo: the repository root (holds ``setup.py`` and ``requirements.txt``).
        build_num: the CI build number; it names the release (``0.1.0-b3824``), not the bytes.
        out_dir: where the PEX is written (default ``<repo>/dist``).
        store: the build store that receives it (none: only ``out_dir``).
        log: a callable taking one line of progress (default: stderr).

    Returns:
        The build: path, sha256, size, how long it took and where it was stored.

    Raises:
        DeployError: the wheel or PEX build failed, or a resolved distribution is not pinned.
    """
    say = log or (lambda line: print(line, file=sys.stderr))
    repo = Path(repo).resolve()
    out = Path(out_dir or repo / "dist")
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    version = project_version(repo)
    tag = release_tag(version, build_num)
    epoch = source_date_epoch(repo)
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch), "PYTHONHASHSEED": "0"}
    with tempfile.TemporaryDirectory(prefix="skynet-build-") as tmp:
        wheel = _build_wheel(repo, Path(tmp), env, say)
        target = out / pex_name(tag)
        say(f"building {target.name} (SOURCE_DATE_EPOCH={epoch})")
        _run([sys.executable, "-m", "pex", "-r", str(repo / "requirements.txt"), str(wheel),
              "-c", "skynet", "--interpreter-constraint", INTERPRETER_CONSTRAINT,
              "--python-shebang", f"/usr/bin/env {PYTHON}", "--venv", "prepend",
              "--no-pre-install-wheels", "-o", str(target)], env, "pex")  # fmt: skip
    _check_pins(target, repo / "requirements.txt")
    digest = sha256_file(target)
    (out / f"{target.name}.sha256").write_text(f"{digest}  {target.name}\n")
    manifest = {"version": version, "build_num": int(build_num), "tag": tag, "size": target.stat().st_size,
                "source_date_epoch": epoch, "python": INTERPRETER_CONSTRAINT, "commit": _commit(repo)}  # fmt: skip
    (out / f"skynet-{tag}.json").write_text(json.dumps({**manifest, "sha256": digest}, indent=2) + "\n")
    stored = store.put(target, tag, manifest) if store is not None else None
    if stored:
        say(f"stored {stored}")
    return Build(
        int(build_num), tag, target, digest, target.stat().st_size, time.monotonic() - started, stored
    )


def _build_wheel(repo: Path, tmp: Path, env: dict[str, str], say: Any) -> Path:
    """The skynet wheel, built from a clean copy (no build/ or egg-info residue to leak in)."""
    src = tmp / "src"
    src.mkdir()
    junk = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".pytest_cache")

    def ignore(folder: str, names: list[str]) -> set[str]:
        # the test suite stays out of the PEX: hosts do not run it, and it would only add bytes
        tests = {"tests"} if Path(folder) == repo / "skynet" else set()
        return set(junk(folder, names)) | tests

    for name in _SOURCES:
        path = repo / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        elif path.exists():
            shutil.copy2(path, src / name)
    constraints = repo / "install" / "build-constraints.txt"
    wheel_env = {**env, "PIP_CONSTRAINT": str(constraints)} if constraints.exists() else env
    say("building the skynet wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "wheels"), str(src)],
         wheel_env, "pip wheel")  # fmt: skip
    wheels = sorted((tmp / "wheels").glob("skynet-*.whl"))
    if len(wheels) != 1:
        raise DeployError(f"pip wheel made {len(wheels)} skynet wheels, expected one")
    return wheels[0]


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise DeployError(f"{what} failed (exit {proc.returncode}):\n{tail}")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _check_pins(pex: Path, requirements: Path) -> None:
    """Every distribution inside the PEX must be pinned (``==``) in requirements.txt."""
    pins = {}
    for line in requirements.read_text().splitlines():
        match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)", line)
        if match:
            pins[_norm(match[1])] = match[2]
    with zipfile.ZipFile(pex) as zf:
        info = json.loads(zf.read("PEX-INFO"))
    unpinned = []
    for wheel in info["distributions"]:
        name, version = wheel.split("-")[:2]
        if _norm(name) != "skynet" and pins.get(_norm(name)) != version:
            unpinned.append(f"{name}=={version}")
    if unpinned:
        raise DeployError(
            f"{requirements} does not pin {', '.join(unpinned)}: add them for a reproducible build"
        )


def _commit(repo: Path) -> str:
    proc = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else ""
