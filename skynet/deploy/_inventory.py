"""The deployment inventory: environments, their hosts per group, services and DAGs per group.

One YAML file (``inventory.yml`` beside the fabfile, or ``$SKYNET_INVENTORY``)::

    root: /opt/ai                      # $SKYNET_DEPLOY_ROOT overrides it
    pex_root: ""                       # PEX_ROOT; default ROOT/shared/pex_root (no blank allowed)
    service_user: skynet               # services run as this unprivileged user (made if missing)
    build_store: dist/builds           # a folder or s3://bucket/prefix; $SKYNET_BUILD_STORE overrides it
    ssh: {user: root, port: 22}        # defaults for every host (key_filename, connect_timeout too)
    service_manager: auto              # auto | systemd | supervisor
    groups:
      pred:
        services:
          control-worker: {command: control worker, health: config check, optional: true}
        dags: {}
      train:
        dags:
          user_model_training:
            schedule: "0 2 * * *"
            tasks:
              - {id: train, command: user_model train}
    environments:
      staging:
        hosts: {pred: [pred-1.staging], train: [train-1.staging]}
        config: {storage: {url: "postgresql+psycopg://skynet:${DB_PASSWORD}@db/skynet"}}

``${VAR}`` in config values is taken from the deploying user's environment, so no secret
needs to live in the file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skynet.deploy._host import USER_NAME
from skynet.errors import ConfigError, brief

__all__ = ["Inventory", "Environment", "ServiceSpec", "DagSpec", "TaskSpec", "load_inventory"]

INVENTORY_ENV = "SKYNET_INVENTORY"
ROOT_ENV = "SKYNET_DEPLOY_ROOT"
STORE_ENV = "SKYNET_BUILD_STORE"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class ServiceSpec:
    """A long-running ``skynet`` command kept up by systemd or supervisord."""

    name: str
    #: The skynet subcommand and its arguments, e.g. ``control worker``.
    command: str
    #: A skynet subcommand that exits 0 when the service's release is healthy (optional).
    health: str = ""
    #: Skip (with a warning) instead of failing when the build lacks the command.
    optional: bool = False
    #: Seconds the process must stay up to count as started.
    start_seconds: int = 3
    #: Configuration values merged over the environment's for this service.
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskSpec:
    """One step of a DAG: a skynet subcommand (Airflow templates such as ``{{ ds }}`` allowed)."""

    id: str
    command: str


@dataclass(frozen=True)
class DagSpec:
    """An Airflow DAG whose tasks run the release's PEX one after the other."""

    name: str
    tasks: tuple[TaskSpec, ...]
    schedule: str = "@daily"
    description: str = ""
    retries: int = 2
    retry_delay_minutes: int = 10
    start_date: str = "2026-01-01"
    optional: bool = False
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Environment:
    """staging, production, ...: hosts per group and the skynet configuration they run with."""

    name: str
    hosts: dict[str, tuple[str, ...]]
    config: dict[str, Any]
    ssh: dict[str, Any]


@dataclass(frozen=True)
class Inventory:
    """The whole inventory file, validated."""

    path: str
    root: str
    build_store: str
    #: The unprivileged user services run as (created when missing); "" means the SSH user.
    service_user: str
    #: PEX_ROOT; "" means ROOT/shared/pex_root.
    pex_root: str
    ssh: dict[str, Any]
    service_manager: str
    health_timeout: int
    smoke_test: str
    services: dict[str, dict[str, ServiceSpec]]
    dags: dict[str, dict[str, DagSpec]]
    environments: dict[str, Environment]

    def environment(self, name: str) -> Environment:
        if name not in self.environments:
            raise ConfigError(f"{self.path}: no environment {name!r} (known: {', '.join(self.environments)})")
        return self.environments[name]

    def hosts(self, env: str, group: str) -> tuple[str, ...]:
        """The hosts of ``group`` in ``env``; an unknown name is an error naming the known ones."""
        environment = self.environment(env)
        if group not in self.services:
            raise ConfigError(f"{self.path}: no group {group!r} (known: {', '.join(self.services)})")
        return environment.hosts.get(group, ())

    def ssh_options(self, env: str) -> dict[str, Any]:
        return {**self.ssh, **self.environment(env).ssh}

    def release_config(self, env: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """The skynet ``config.yml`` content of a release: the environment's values (+ ``extra``)."""
        merged = _merge(self.environment(env).config, extra or {})
        return _expand(merged, f"{self.path}: environments.{env}.config")


def load_inventory(
    path: str | os.PathLike[str] | None = None, environ: dict[str, str] | None = None
) -> Inventory:
    """Read and validate the inventory.

    Args:
        path: the YAML file; ``None`` means ``$SKYNET_INVENTORY`` or ``inventory.yml`` here.
        environ: where ``SKYNET_DEPLOY_ROOT`` / ``SKYNET_BUILD_STORE`` overrides are read.

    Returns:
        The inventory.

    Raises:
        ConfigError: the file is missing or a value is wrong (the message names the key).
    """
    import yaml

    env = os.environ if environ is None else environ
    path = Path(path or env.get(INVENTORY_ENV) or "inventory.yml")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"inventory {path} does not exist (set {INVENTORY_ENV})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    where = str(path)
    _keys(data, where, {"root", "build_store", "ssh", "service_manager", "health_timeout", "smoke_test",
                        "groups", "environments", "service_user", "pex_root"})  # fmt: skip
    groups = _mapping(data.get("groups"), f"{where}: groups")
    services = {
        g: _services(_mapping(v, f"{where}: groups.{g}").get("services"), f"{where}: groups.{g}")
        for g, v in groups.items()
    }
    dags = {
        g: _dags(_mapping(v, f"{where}: groups.{g}").get("dags"), f"{where}: groups.{g}")
        for g, v in groups.items()
    }
    environments = {
        name: _environment(name, _mapping(value, f"{where}: environments.{name}"), groups, where)
        for name, value in _mapping(data.get("environments"), f"{where}: environments").items()
    }
    manager = str(data.get("service_manager", "auto"))
    if manager not in ("auto", "systemd", "supervisor"):
        raise ConfigError(f"{where}: service_manager must be auto, systemd or supervisor, not {manager!r}")
    store = env.get(STORE_ENV) or str(data.get("build_store", "dist/builds"))
    if "://" not in store and not os.path.isabs(os.path.expanduser(store)):
        store = str((path.parent / store).resolve())
    user = "" if data.get("service_user", "skynet") is None else str(data.get("service_user", "skynet"))
    if user and not USER_NAME.match(user):
        raise ConfigError(f"{where}: service_user {brief(user)} is not a user name (a-z, 0-9, _ and -)")
    root = _root(env.get(ROOT_ENV) or str(data.get("root", "/opt/ai")), where)
    pex_root = _pex_root(str(data.get("pex_root") or ""), root, where)
    return Inventory(
        path=where,
        root=root,
        build_store=store,
        service_user=user,
        pex_root=pex_root,
        ssh=_mapping(data.get("ssh"), f"{where}: ssh"),
        service_manager=manager,
        health_timeout=int(data.get("health_timeout", 60)),
        smoke_test=str(data.get("smoke_test", "deploy check")),
        services=services,
        dags=dags,
        environments=environments,
    )


def _root(root: str, where: str, what: str = "root") -> str:
    """The deployment root: an absolute path on one line (it goes into shell commands, quoted,
    and into unit files, which are line-based)."""
    if not root.startswith("/") or any(c in root for c in "\n\r\0"):
        raise ConfigError(f"{where}: {what} {brief(root)} must be an absolute path on one line")
    return root.rstrip("/") or "/"


def _pex_root(pex_root: str, root: str, where: str) -> str:
    """The inventory's ``pex_root`` ("" for ROOT/shared/pex_root), checked: pex reads the path
    of its venv back from a shebang line, which ends at the first blank."""
    effective = _root(pex_root, where, "pex_root") if pex_root else f"{root}/shared/pex_root"
    if re.search(r"\s", effective):
        raise ConfigError(
            f"{where}: PEX_ROOT {brief(effective)} holds a blank, which pex cannot run from (it reads "
            "the path back from a shebang line): set pex_root to a path without one"
        )
    return pex_root and effective


def _services(raw: Any, where: str) -> dict[str, ServiceSpec]:
    out = {}
    for name, spec in _mapping(raw, f"{where}.services").items():
        spec = _mapping(spec, f"{where}.services.{name}")
        _keys(spec, f"{where}.services.{name}", {"command", "health", "optional", "start_seconds", "config"})
        if "command" not in spec:
            raise ConfigError(f"{where}.services.{name}: missing 'command' (the skynet subcommand to run)")
        out[_name(name, where)] = ServiceSpec(
            name=name,
            command=str(spec["command"]),
            health=str(spec.get("health") or ""),
            optional=bool(spec.get("optional", False)),
            start_seconds=int(spec.get("start_seconds", 3)),
            config=_mapping(spec.get("config"), f"{where}.services.{name}.config"),
        )
    return out


def _dags(raw: Any, where: str) -> dict[str, DagSpec]:
    out = {}
    allowed = {
        "tasks",
        "schedule",
        "description",
        "retries",
        "retry_delay_minutes",
        "start_date",
        "optional",
        "config",
    }
    for name, spec in _mapping(raw, f"{where}.dags").items():
        at = f"{where}.dags.{name}"
        spec = _mapping(spec, at)
        _keys(spec, at, allowed)
        tasks = spec.get("tasks") or []
        if not isinstance(tasks, list) or not tasks:
            raise ConfigError(f"{at}.tasks: expected a non-empty list of {{id, command}}")
        parsed = []
        for i, task in enumerate(tasks):
            if not isinstance(task, dict) or set(task) != {"id", "command"}:
                raise ConfigError(f"{at}.tasks[{i}]: expected exactly the keys id and command, got {task!r}")
            parsed.append(TaskSpec(id=_name(str(task["id"]), at), command=str(task["command"])))
        out[_name(name, where)] = DagSpec(
            name=name,
            tasks=tuple(parsed),
            schedule=str(spec.get("schedule", "@daily")),
            description=str(spec.get("description", "")),
            retries=int(spec.get("retries", 2)),
            retry_delay_minutes=int(spec.get("retry_delay_minutes", 10)),
            start_date=str(spec.get("start_date", "2026-01-01")),
            optional=bool(spec.get("optional", False)),
            config=_mapping(spec.get("config"), f"{at}.config"),
        )
    return out


def _environment(name: str, raw: dict[str, Any], groups: dict[str, Any], where: str) -> Environment:
    at = f"{where}: environments.{name}"
    _keys(raw, at, {"hosts", "config", "ssh"})
    hosts = {}
    for group, names in _mapping(raw.get("hosts"), f"{at}.hosts").items():
        if group not in groups:
            raise ConfigError(f"{at}.hosts: unknown group {group!r} (known: {', '.join(groups)})")
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list):
            raise ConfigError(f"{at}.hosts.{group}: expected a list of host names")
        hosts[group] = tuple(str(h) for h in names)
    return Environment(
        name, hosts, _mapping(raw.get("config"), f"{at}.config"), _mapping(raw.get("ssh"), f"{at}.ssh")
    )


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
    return {str(k): v for k, v in value.items()}


def _keys(data: dict[str, Any], where: str, allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(allowed))})"
        )


def _name(name: str, where: str) -> str:
    if not _NAME.match(name):
        raise ConfigError(f"{where}: {name!r} is not a valid name (letters, digits, _ . -)")
    return name


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = (
            _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand(value: Any, where: str) -> Any:
    if isinstance(value, dict):
        return {k: _expand(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            if match[1] not in os.environ:
                raise ConfigError(f"{where}: ${{{match[1]}}} is not set in the deploying environment")
            return os.environ[match[1]]

        return _VAR.sub(sub, value)
    return value
