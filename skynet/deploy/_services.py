"""Services: long-running skynet commands under systemd, or supervisord where systemd is not running.

Both run ``ROOT/services/SERVICE/current/skynet.pex --config .../current/config.yml COMMAND``,
so switching ``current`` and restarting is all a new release needs. Unit files are rendered
from ``install/systemd/`` (``skynet-SERVICE.service`` if present, else ``skynet-service.service``)
and supervisord programs from ``install/supervisor/``.
"""

from __future__ import annotations

import string
import time
from abc import ABC, abstractmethod
from pathlib import Path

from skynet.deploy._host import Host, Layout, q
from skynet.deploy._inventory import ServiceSpec
from skynet.deploy._release import run_pex, write_file
from skynet.errors import DeployError

__all__ = [
    "ServiceManager",
    "SystemdManager",
    "SupervisorManager",
    "service_manager",
    "render_template",
    "wait_healthy",
]


def render_template(path: Path, values: dict[str, str]) -> str:
    """``$name`` placeholders filled in; a missing one is an error naming it."""
    try:
        return string.Template(path.read_text()).substitute(values)
    except KeyError as exc:
        raise DeployError(f"{path}: unknown placeholder ${exc.args[0]}") from None
    except FileNotFoundError:
        raise DeployError(f"template {path} does not exist") from None


def expand_service_dir(command: str, layout: Layout, service: ServiceSpec) -> str:
    """``{service_dir}`` in a service's command or health check is ROOT/services/SERVICE."""
    return command.replace("{service_dir}", layout.service_dir(service.name))


def _unit_name(service: ServiceSpec) -> str:
    return f"skynet-{service.name}"


class ServiceManager(ABC):
    """Installs, restarts and watches the services of one host."""

    kind: str

    def __init__(self, host: Host, layout: Layout, templates: Path) -> None:
        self.host, self.layout, self.templates = host, layout, templates

    def values(self, service: ServiceSpec) -> dict[str, str]:
        current = self.layout.service_current(service.name)
        command = expand_service_dir(service.command, self.layout, service)
        return {
            "service": service.name,
            "unit": _unit_name(service),
            "command": command,
            "service_dir": self.layout.service_dir(service.name),
            "current": current,
            "pex_root": self.layout.pex_root,
            "exec_start": f"{current}/skynet.pex --config {current}/config.yml {command}",
            "start_seconds": str(service.start_seconds),
            "root": self.layout.root,
        }

    def _template(self, folder: str, service: ServiceSpec, generic: str, suffix: str) -> Path:
        specific = self.templates / folder / f"{_unit_name(service)}{suffix}"
        return specific if specific.exists() else self.templates / folder / generic

    @abstractmethod
    def install(self, service: ServiceSpec) -> None:
        """Write (or refresh) the service's unit and tell the manager about it."""

    @abstractmethod
    def restart(self, service: ServiceSpec) -> None: ...

    @abstractmethod
    def running(self, service: ServiceSpec) -> bool:
        """Whether the process is up (and has not been restarted since :meth:`restart`)."""

    @abstractmethod
    def status(self, service: ServiceSpec) -> str:
        """One line for messages."""

    @abstractmethod
    def gave_up(self, service: ServiceSpec) -> bool:
        """Whether the manager stopped trying to start the service (no point waiting longer)."""


class SystemdManager(ServiceManager):
    """Units in ``/etc/systemd/system`` (``unit_dir``), driven with systemctl."""

    kind = "systemd"

    def __init__(
        self, host: Host, layout: Layout, templates: Path, unit_dir: str = "/etc/systemd/system"
    ) -> None:
        super().__init__(host, layout, templates)
        self.unit_dir = unit_dir
        self._restarts: dict[str, str] = {}

    def unit_text(self, service: ServiceSpec) -> str:
        return render_template(
            self._template("systemd", service, "skynet-service.service", ".service"), self.values(service)
        )

    def install(self, service: ServiceSpec) -> None:
        write_file(
            self.host, f"{self.unit_dir}/{_unit_name(service)}.service", self.unit_text(service).encode()
        )
        self.host.run(f"systemctl daemon-reload && systemctl enable {q(_unit_name(service))}")

    def _restart_count(self, service: ServiceSpec) -> str:
        return self.host.run(
            f"systemctl show -p NRestarts --value {q(_unit_name(service))}", check=False
        ).stdout.strip()

    def restart(self, service: ServiceSpec) -> None:
        self.host.run(f"systemctl restart {q(_unit_name(service))}", check=False)
        self._restarts[service.name] = self._restart_count(service)

    def running(self, service: ServiceSpec) -> bool:
        active = self.host.run(f"systemctl is-active {q(_unit_name(service))}", check=False).stdout.strip()
        return active == "active" and self._restart_count(service) == self._restarts.get(service.name)

    def gave_up(self, service: ServiceSpec) -> bool:
        return (
            self.host.run(f"systemctl is-failed {q(_unit_name(service))}", check=False).stdout.strip()
            == "failed"
        )

    def status(self, service: ServiceSpec) -> str:
        out = self.host.run(f"systemctl status --no-pager -n 5 {q(_unit_name(service))}", check=False)
        return " | ".join(out.stdout.strip().splitlines()[:8])


class SupervisorManager(ServiceManager):
    """A supervisord of the deployment's own under ``ROOT/supervisor`` (started if not running)."""

    kind = "supervisor"

    @property
    def conf(self) -> str:
        return f"{self.layout.supervisor_dir}/supervisord.conf"

    def ctl(self, args: str, check: bool = True):  # noqa: ANN201 - a CommandResult
        return self.host.run(f"supervisorctl -c {q(self.conf)} {args}", check=check)

    def program_text(self, service: ServiceSpec) -> str:
        return render_template(
            self._template("supervisor", service, "skynet-service.conf", ".conf"), self.values(service)
        )

    def ensure_running(self) -> None:
        if self.ctl("pid", check=False).stdout.strip().isdigit():
            return
        if not self.host.run("command -v supervisord", check=False).ok:
            raise DeployError(f"{self.host.name}: systemd is not running and supervisord is not installed "
                              "(apt-get install supervisor)")  # fmt: skip
        base = self.layout.supervisor_dir
        text = render_template(self.templates / "supervisor" / "supervisord.conf", {"dir": base})
        self.host.run(f"mkdir -p {q(base)}/conf.d {q(base)}/logs")
        write_file(self.host, self.conf, text.encode())
        self.host.run(f"supervisord -c {q(self.conf)}")
        for _ in range(50):
            if self.ctl("pid", check=False).stdout.strip().isdigit():
                return
            time.sleep(0.2)
        raise DeployError(f"{self.host.name}: supervisord did not start (see {base}/supervisord.log)")

    def install(self, service: ServiceSpec) -> None:
        self.ensure_running()
        path = f"{self.layout.supervisor_dir}/conf.d/{_unit_name(service)}.conf"
        write_file(self.host, path, self.program_text(service).encode())
        self.ctl("reread")
        self.ctl(f"update {q(_unit_name(service))}")

    def restart(self, service: ServiceSpec) -> None:
        self.ctl(f"restart {q(_unit_name(service))}", check=False)

    def running(self, service: ServiceSpec) -> bool:
        return " RUNNING " in f" {self.status(service)} "

    def gave_up(self, service: ServiceSpec) -> bool:
        return " FATAL " in f" {self.status(service)} "

    def status(self, service: ServiceSpec) -> str:
        return self.ctl(f"status {q(_unit_name(service))}", check=False).stdout.strip()


def service_manager(host: Host, layout: Layout, templates: Path, kind: str = "auto") -> ServiceManager:
    """systemd where it runs (``/run/systemd/system`` exists), else supervisord; or as ``kind`` says."""
    if kind == "auto":
        kind = "systemd" if host.run("test -d /run/systemd/system", check=False).ok else "supervisor"
    return (
        SystemdManager(host, layout, templates)
        if kind == "systemd"
        else SupervisorManager(host, layout, templates)
    )


def wait_healthy(manager: ServiceManager, service: ServiceSpec, timeout: float) -> bool:
    """Wait until the service runs, stays up ``start_seconds`` and its health command exits 0."""
    deadline = time.monotonic() + timeout
    current = manager.layout.service_current(service.name)
    while time.monotonic() < deadline:
        if manager.running(service):
            time.sleep(service.start_seconds)
            if not manager.running(service):
                continue
            if not service.health:
                return True
            args = f"--config {q(current + '/config.yml')} {expand_service_dir(service.health, manager.layout, service)}"
            if run_pex(
                manager.host, manager.layout, f"{current}/skynet.pex", args, check=False, timeout=120
            ).ok:
                return True
        time.sleep(1)
    return False
