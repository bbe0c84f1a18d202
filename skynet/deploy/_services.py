"""Services: long-running skynet commands under systemd, or supervisord where systemd is not running.

Both run ``ROOT/services/SERVICE/current/skynet.pex --config .../current/config.yml COMMAND``
as the inventory's unprivileged ``service_user`` (``User=``/``Group=`` under systemd, ``user=``
under supervisord), in ``ROOT/services/SERVICE/state`` (the one folder that user may write), so
switching ``current`` and restarting is all a new release needs. Unit files are rendered
from ``install/systemd/`` (``skynet-SERVICE.service`` if present, else ``skynet-service.service``)
and supervisord programs from ``install/supervisor/``. Values are quoted for the file they go
into: a root holding a space or a ``;`` is a path like any other.
"""

from __future__ import annotations

import re
import shlex
import string
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
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
    "command_words",
]


def render_template(path: Path, values: dict[str, str]) -> str:
    """``$name`` placeholders filled in; a missing one is an error naming it."""
    try:
        return string.Template(path.read_text()).substitute(values)
    except KeyError as exc:
        raise DeployError(f"{path}: unknown placeholder ${exc.args[0]}") from None
    except FileNotFoundError:
        raise DeployError(f"template {path} does not exist") from None


def command_words(command: str, layout: Layout, service: ServiceSpec) -> list[str]:
    """A service's command or health check as words, ``{service_dir}`` (ROOT/services/SERVICE)
    and ``{state_dir}`` (its ``state`` folder) filled in word by word, so a path holding a
    space stays one word."""
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise DeployError(f"service {service.name}: cannot split {command!r}: {exc}") from None
    places = {
        "{service_dir}": layout.service_dir(service.name),
        "{state_dir}": layout.service_state(service.name),
    }
    out = []
    for word in words:
        for key, value in places.items():
            word = word.replace(key, value)
        out.append(word)
    return out


def _unit_name(service: ServiceSpec) -> str:
    return f"skynet-{service.name}"


class ServiceManager(ABC):
    """Installs, restarts and watches the services of one host.

    Args:
        host: the host.
        layout: the deployment's layout on it.
        templates: the repository's ``install/`` folder.
        user: the user the services run as (``None``: the SSH user, as found on the host).
        group: that user's group (``None``: found on the host).
    """

    kind: str

    def __init__(
        self, host: Host, layout: Layout, templates: Path, user: str | None = None, group: str | None = None
    ) -> None:
        self.host, self.layout, self.templates = host, layout, templates
        #: the configured service user: deploy-time runs of the PEX (health checks) use it too
        self.run_as = user
        self._user, self._group = user, group

    @property
    def user(self) -> str:
        if self._user is None:
            self._user = self.host.run("id -un").stdout.strip()
        return self._user

    @property
    def group(self) -> str:
        if self._group is None:
            self._group = self.host.run(f"id -gn {q(self.user)}").stdout.strip()
        return self._group

    # how a value is written into this manager's files
    @abstractmethod
    def _path(self, value: str) -> str:
        """A value taken verbatim (a directory, a log file, a user)."""

    @abstractmethod
    def _argv(self, words: Sequence[str]) -> str:
        """A command line, each word quoted."""

    @abstractmethod
    def _environment(self, env: Mapping[str, str]) -> str:
        """Environment variables."""

    def values(self, service: ServiceSpec) -> dict[str, str]:
        """The template's placeholders, each quoted for the file it goes into."""
        current = self.layout.service_current(service.name)
        state = self.layout.service_state(service.name)
        words = command_words(service.command, self.layout, service)
        argv = [f"{current}/skynet.pex", "--config", f"{current}/config.yml", *words]
        env = {"PEX_ROOT": self.layout.pex_root, "HOME": state, "USER": self.user}
        return {
            "service": self._path(service.name),
            "unit": _unit_name(service),
            "command": self._path(" ".join(map(shlex.quote, words))),
            "service_dir": self._path(self.layout.service_dir(service.name)),
            "state_dir": self._path(state),
            "current": self._path(current),
            "pex_root": self._path(self.layout.pex_root),
            "exec_start": self._argv(argv),
            "environment": self._environment(env),
            "user": self._path(self.user),
            "group": self._path(self.group),
            "start_seconds": str(service.start_seconds),
            "root": self._path(self.layout.root),
        }

    def _template(self, folder: str, service: ServiceSpec, generic: str, suffix: str) -> Path:
        specific = self.templates / folder / f"{_unit_name(service)}{suffix}"
        return specific if specific.exists() else self.templates / folder / generic

    def prepare(self, service: ServiceSpec) -> None:
        """Make the service's ``state`` folder, owned by its user (mode 0750)."""
        state = q(self.layout.service_state(service.name))
        self.host.run(f"install -d -o {q(self.user)} -g {q(self.group)} -m 750 {state}")

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


def _systemd_word(word: str) -> str:
    """One word of a systemd setting: double-quoted with C escapes where needed; ``%`` and ``$``
    doubled (systemd expands specifiers and variables)."""
    if not word or re.search(r"[^\w@+=:,./-]", word):
        word = '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return word.replace("%", "%%").replace("$", "$$")


class SystemdManager(ServiceManager):
    """Units in ``/etc/systemd/system`` (``unit_dir``), driven with systemctl."""

    kind = "systemd"

    def __init__(
        self,
        host: Host,
        layout: Layout,
        templates: Path,
        user: str | None = None,
        group: str | None = None,
        unit_dir: str = "/etc/systemd/system",
    ) -> None:
        super().__init__(host, layout, templates, user, group)
        self.unit_dir = unit_dir
        self._restarts: dict[str, str] = {}

    def _path(self, value: str) -> str:
        _one_line(value)
        return value.replace("%", "%%")

    def _argv(self, words: Sequence[str]) -> str:
        return " ".join(_systemd_word(_one_line(w)) for w in words)

    def _environment(self, env: Mapping[str, str]) -> str:
        return " ".join(_systemd_word(_one_line(f"{k}={v}")) for k, v in env.items())

    def unit_text(self, service: ServiceSpec) -> str:
        return render_template(
            self._template("systemd", service, "skynet-service.service", ".service"), self.values(service)
        )

    def install(self, service: ServiceSpec) -> None:
        self.prepare(service)
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

    def _path(self, value: str) -> str:
        # supervisord reads an INI file: " ;" or " #" starts a comment that no quoting escapes
        if re.search(r"\s[;#]", _one_line(value)):
            raise DeployError(f"{self.host.name}: supervisord cannot hold {value!r} in its config "
                              "(a blank before ';' or '#' starts a comment); choose another root")  # fmt: skip
        return value.replace("%", "%%")

    def _argv(self, words: Sequence[str]) -> str:
        # supervisord splits `command=` with shlex after expanding %(name)s
        return self._path(" ".join(shlex.quote(w) for w in words))

    def _environment(self, env: Mapping[str, str]) -> str:
        for value in env.values():
            if '"' in value:
                raise DeployError(f"{self.host.name}: supervisord cannot hold {value!r} in environment=")
        return self._path(",".join(f'{k}="{v}"' for k, v in env.items()))

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
        text = render_template(self.templates / "supervisor" / "supervisord.conf", {"dir": self._path(base)})
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
        self.prepare(service)
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


def service_manager(
    host: Host,
    layout: Layout,
    templates: Path,
    kind: str = "auto",
    user: str | None = None,
    group: str | None = None,
) -> ServiceManager:
    """systemd where it runs (``/run/systemd/system`` exists), else supervisord; or as ``kind``
    says. The services run as ``user`` (``None``: the SSH user)."""
    if kind == "auto":
        kind = "systemd" if host.run("test -d /run/systemd/system", check=False).ok else "supervisor"
    manager = SystemdManager if kind == "systemd" else SupervisorManager
    return manager(host, layout, templates, user, group)


def _one_line(value: str) -> str:
    if any(c in value for c in "\n\r\0"):
        raise DeployError(f"a line break or NUL cannot go into a unit file: {value!r}")
    return value


def wait_healthy(manager: ServiceManager, service: ServiceSpec, timeout: float) -> bool:
    """Wait until the service runs, stays up ``start_seconds`` and its health command exits 0
    (run as the service's user)."""
    deadline = time.monotonic() + timeout
    current = manager.layout.service_current(service.name)
    while time.monotonic() < deadline:
        if manager.running(service):
            time.sleep(service.start_seconds)
            if not manager.running(service):
                continue
            if not service.health:
                return True
            args = [
                "--config",
                f"{current}/config.yml",
                *command_words(service.health, manager.layout, service),
            ]
            pex = f"{current}/skynet.pex"
            if run_pex(
                manager.host, manager.layout, pex, args, check=False, timeout=120, user=manager.run_as
            ).ok:
                return True
        time.sleep(1)
    return False
