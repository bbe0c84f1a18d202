"""Hosts the deployment works on, and the directory layout it keeps on them.

A :class:`Host` runs shell commands and receives files; :class:`SSHHost` wraps a Fabric
``Connection`` and :class:`LocalHost` runs on this machine (for tests and single-box setups).
Everything a task does on a host goes through these two methods, so the same code runs over
SSH and locally.
"""

from __future__ import annotations

import io
import re
import secrets
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from skynet.config import masked
from skynet.errors import DeployError

__all__ = [
    "Host",
    "SSHHost",
    "LocalHost",
    "Layout",
    "CommandResult",
    "release_tag",
    "build_number",
    "q",
    "tmp_name",
    "ensure_user",
    "as_user",
    "USER_NAME",
]

#: A user name useradd accepts everywhere (what the inventory's ``service_user`` may be).
USER_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")

#: RELEASE_TAG = "<version>-b<build number>", e.g. 0.1.0-b3824 (no "+": it is a path and an S3 key).
_TAG = re.compile(r"^(?P<version>[0-9][A-Za-z0-9.]*)-b(?P<build>[0-9]+)$")


def release_tag(version: str, build_num: int) -> str:
    """The release tag of a build: ``release_tag("0.1.0", 3824) == "0.1.0-b3824"``."""
    return f"{version}-b{int(build_num)}"


def build_number(tag: str) -> int:
    """The build number in a release tag; :class:`DeployError` if it is not one."""
    match = _TAG.match(tag)
    if not match:
        raise DeployError(f"{tag!r} is not a release tag (<version>-b<build number>)")
    return int(match["build"])


def q(value: str | Path) -> str:
    """Quote for the remote shell: every path and name that goes into a command passes here."""
    return shlex.quote(str(value))


def tmp_name(path: str) -> str:
    """A temporary name beside ``path``, unique per call (two deployments never share one)."""
    return f"{path}.tmp-{secrets.token_hex(6)}"


def ensure_user(host: Host, user: str) -> str:
    """Create the unprivileged system user the services run as, when it is missing.

    Idempotent: an existing user is kept as it is (and two deployments racing to create it
    both succeed). The user gets no home and no login shell.

    Returns:
        The user's primary group.

    Raises:
        DeployError: the user cannot be created (e.g. the SSH user is not root).
    """
    u = q(user)
    # a group of that name may exist already (made by hand): join it instead of failing
    create = (
        f"if getent group {u} >/dev/null; then set -- -g {u}; else set -- --user-group; fi; "
        f'useradd --system "$@" --no-create-home --home-dir /nonexistent '
        f'--shell "$(command -v nologin || echo /bin/false)" {u}'
    )
    host.run(f"id -u {u} >/dev/null 2>&1 || {{ {create} || id -u {u} >/dev/null; }}")
    return host.run(f"id -gn {u}").stdout.strip()


def as_user(user: str | None) -> str:
    """The prefix that runs a command as ``user`` (``None``: as the SSH user)."""
    return f"runuser -u {q(user)} -- " if user else ""


@dataclass(frozen=True)
class CommandResult:
    """What a command on a host did."""

    exited: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exited == 0


class Host(Protocol):
    """What the deployment needs from a host."""

    name: str

    def run(self, command: str, check: bool = True, timeout: float | None = None) -> CommandResult:
        """Run ``command`` with ``sh``; with ``check``, a non-zero exit raises :class:`DeployError`."""

    def put(self, local: Path | bytes, remote: str) -> None:
        """Copy a local file (or bytes) to ``remote``."""


def _checked(name: str, command: str, result: CommandResult, check: bool) -> CommandResult:
    if check and not result.ok:
        detail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise DeployError(masked(f"{name}: `{_cut(command)}` exited {result.exited}: {' | '.join(detail)}"))
    return result


def _cut(command: str, limit: int = 500) -> str:
    """A command for a message (the PEX-ROOT pruning script alone is 1,500 characters)."""
    return command if len(command) <= limit else f"{command[:limit]}…"


class SSHHost:
    """A host reached with Fabric (``user@host:port`` or a plain name, plus the inventory's ssh options)."""

    def __init__(self, address: str, ssh: dict[str, Any] | None = None) -> None:
        from fabric import Connection

        ssh = dict(ssh or {})
        connect_kwargs: dict[str, Any] = {"timeout": ssh.pop("connect_timeout", 15)}
        if "key_filename" in ssh:
            connect_kwargs["key_filename"] = str(Path(ssh.pop("key_filename")).expanduser())
            connect_kwargs["look_for_keys"] = False
            connect_kwargs["allow_agent"] = False
        self.connection = Connection(address, user=ssh.pop("user", None), port=ssh.pop("port", None),
                                     connect_kwargs=connect_kwargs, **ssh)  # fmt: skip
        self.name = address

    def run(self, command: str, check: bool = True, timeout: float | None = None) -> CommandResult:
        try:
            res = self.connection.run(command, hide=True, warn=True, in_stream=False, timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - paramiko/socket/timeouts all mean "the host failed"
            raise DeployError(
                masked(f"{self.name}: `{_cut(command)}` failed: {type(exc).__name__}: {exc}")
            ) from exc
        return _checked(self.name, command, CommandResult(res.exited, res.stdout, res.stderr), check)

    def put(self, local: Path | bytes, remote: str) -> None:
        source = io.BytesIO(local) if isinstance(local, bytes) else str(local)
        try:
            self.connection.put(source, remote)
        except Exception as exc:  # noqa: BLE001
            raise DeployError(f"{self.name}: copying to {remote} failed: {exc}") from exc

    def close(self) -> None:
        self.connection.close()


class LocalHost:
    """This machine, driven with the same commands as a remote host."""

    name = "localhost"

    def run(self, command: str, check: bool = True, timeout: float | None = None) -> CommandResult:
        proc = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=timeout)
        return _checked(self.name, command, CommandResult(proc.returncode, proc.stdout, proc.stderr), check)

    def put(self, local: Path | bytes, remote: str) -> None:
        data = local if isinstance(local, bytes) else Path(local).read_bytes()
        Path(remote).write_bytes(data)

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class Layout:
    """Where things live under the deployment root (``/opt/ai`` unless configured)::

    ROOT/shared/pex/TAG.pex                       every installed build (+ TAG.pex.sha256)
    ROOT/shared/pex_root/                         PEX_ROOT: where PEXes extract themselves (or pex_root)
    ROOT/services/SERVICE/releases/TAG/           config.yml, skynet.pex -> ROOT/shared/pex/TAG.pex
    ROOT/services/SERVICE/current  -> releases/TAG (previous -> the one before)
    ROOT/services/SERVICE/state/                  the service's own folder (owned by its user)
    ROOT/airflow/DAG/releases/TAG/                config.yml, skynet.pex, DAG.py
    ROOT/airflow/dags/DAG/current  -> ROOT/airflow/DAG/releases/TAG
    ROOT/supervisor/                              supervisord config, socket and logs (no systemd)
    """

    root: str
    #: PEX_ROOT when it is not ``ROOT/shared/pex_root`` (the inventory's ``pex_root``).
    custom_pex_root: str = ""

    @property
    def pex_dir(self) -> str:
        return f"{self.root}/shared/pex"

    @property
    def pex_root(self) -> str:
        """PEX_ROOT; it may hold no blank: pex re-reads the venv's path from a shebang line."""
        return self.custom_pex_root or f"{self.root}/shared/pex_root"

    def pex(self, tag: str) -> str:
        return f"{self.pex_dir}/{tag}.pex"

    def service_dir(self, service: str) -> str:
        return f"{self.root}/services/{service}"

    def service_releases(self, service: str) -> str:
        return f"{self.service_dir(service)}/releases"

    def service_current(self, service: str) -> str:
        return f"{self.service_dir(service)}/current"

    def service_state(self, service: str) -> str:
        """The one folder of a service its user may write (working directory, heartbeat file)."""
        return f"{self.service_dir(service)}/state"

    def dag_releases(self, dag: str) -> str:
        return f"{self.root}/airflow/{dag}/releases"

    def dag_current(self, dag: str) -> str:
        return f"{self.root}/airflow/dags/{dag}/current"

    @property
    def dags_folder(self) -> str:
        """Airflow's ``dags_folder``: it finds ``DAG/current/DAG.py`` under it."""
        return f"{self.root}/airflow/dags"

    @property
    def supervisor_dir(self) -> str:
        return f"{self.root}/supervisor"
