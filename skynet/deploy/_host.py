"""Hosts the deployment works on, and the directory layout it keeps on them.

A :class:`Host` runs shell commands and receives files; :class:`SSHHost` wraps a Fabric
``Connection`` and :class:`LocalHost` runs on this machine (for tests and single-box setups).
Everything a task does on a host goes through these two methods, so the same code runs over
SSH and locally.
"""

from __future__ import annotations

import io
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from skynet.errors import DeployError

__all__ = ["Host", "SSHHost", "LocalHost", "Layout", "CommandResult", "release_tag", "build_number", "q"]

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
    """Quote for the remote shell."""
    return shlex.quote(str(value))


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
        raise DeployError(f"{name}: `{command}` exited {result.exited}: {' | '.join(detail)}")
    return result


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
            raise DeployError(f"{self.name}: `{command}` failed: {type(exc).__name__}: {exc}") from exc
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
    ROOT/shared/pex_root/                         PEX_ROOT: where PEXes extract themselves
    ROOT/services/SERVICE/releases/TAG/           config.yml, skynet.pex -> ROOT/shared/pex/TAG.pex
    ROOT/services/SERVICE/current  -> releases/TAG (previous -> the one before)
    ROOT/airflow/DAG/releases/TAG/                config.yml, skynet.pex, DAG.py
    ROOT/airflow/dags/DAG/current  -> ROOT/airflow/DAG/releases/TAG
    ROOT/supervisor/                              supervisord config, socket and logs (no systemd)
    """

    root: str

    @property
    def pex_dir(self) -> str:
        return f"{self.root}/shared/pex"

    @property
    def pex_root(self) -> str:
        return f"{self.root}/shared/pex_root"

    def pex(self, tag: str) -> str:
        return f"{self.pex_dir}/{tag}.pex"

    def service_dir(self, service: str) -> str:
        return f"{self.root}/services/{service}"

    def service_releases(self, service: str) -> str:
        return f"{self.service_dir(service)}/releases"

    def service_current(self, service: str) -> str:
        return f"{self.service_dir(service)}/current"

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
