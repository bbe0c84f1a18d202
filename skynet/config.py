"""skynet's configuration: one YAML file, overridable key by key from the environment.

The file is ``--config PATH`` or ``$SKYNET_CONFIG``; without one the defaults give an embedded
setup under ``general.data_dir`` (a SQLite database and a local model store), so nothing needs
a server. Every key ``section.key`` can be overridden by ``SKYNET_<SECTION>_<KEY>``, for
example ``SKYNET_STORAGE_URL=postgresql+psycopg://...``. Values are validated when loaded; a
wrong key or type is a :class:`~skynet.errors.ConfigError` that names it and where it came from.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, get_type_hints

from skynet.errors import ConfigError

__all__ = ["Settings", "load_settings", "masked"]

ENV_PREFIX = "SKYNET_"
CONFIG_ENV = "SKYNET_CONFIG"


@dataclass(frozen=True)
class General:
    """Where skynet keeps its files and how much it says."""

    #: Everything embedded lives here: the SQLite database, models, reports.
    data_dir: str = "~/.skynet"
    log_level: str = "WARNING"


@dataclass(frozen=True)
class Storage:
    """Where records live; each URL picks an adapter by its scheme."""

    #: Devices, users, feedback, appliance states, control targets. Default: SQLite in data_dir.
    url: str = "sqlite:///{data_dir}/skynet.db"
    #: Sensor readings and weather; empty means the same store as ``url``.
    timeseries_url: str = ""
    #: Control decision logs; empty means the same store as ``url``.
    decisions_url: str = ""
    #: Live device state and event queues (``redis://``); empty means in-process.
    live_url: str = ""
    #: Bring a SQL schema up to date when it is opened (turn off where ops run migrations).
    auto_migrate: bool = True


@dataclass(frozen=True)
class Models:
    """Where trained models are kept."""

    store: str = "{data_dir}/models"
    reports: str = "{data_dir}/reports"
    seed: int = 0


@dataclass(frozen=True)
class Aws:
    """AWS (S3, SQS, DynamoDB); credentials come from boto3's usual chain (``AWS_*`` variables, ...)."""

    #: Empty = AWS itself; another AWS-compatible server's URL otherwise (e.g. moto in tests).
    endpoint_url: str = ""
    region: str = "us-east-1"


@dataclass(frozen=True)
class Settings:
    """The effective configuration."""

    general: General = field(default_factory=General)
    storage: Storage = field(default_factory=Storage)
    models: Models = field(default_factory=Models)
    aws: Aws = field(default_factory=Aws)
    #: Where the values came from, for messages (a file path or "defaults").
    source: str = "defaults"

    @property
    def data_dir(self) -> Path:
        return Path(os.path.expanduser(self.general.data_dir))

    def path(self, template: str) -> str:
        """Expand ``{data_dir}`` and ``~`` in a configured path or URL."""
        return os.path.expanduser(template.replace("{data_dir}", str(self.data_dir)))

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {
            s.name: {f.name: getattr(getattr(self, s.name), f.name) for f in fields(getattr(self, s.name))}
            for s in fields(self)
            if s.name != "source"
        }


_SECTIONS = {f.name: f for f in fields(Settings) if f.name != "source"}


def _coerce(value: Any, kind: Any, where: str) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
            return int(value)
    elif kind is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        if value is None:
            return ""
    type_name = getattr(kind, "__name__", str(kind))
    raise ConfigError(f"{where}: expected {type_name}, got {value!r}")


def _apply(settings: Settings, section: str, key: str, value: Any, where: str) -> Settings:
    if section not in _SECTIONS:
        raise ConfigError(f"{where}: unknown section {section!r} (known: {', '.join(_SECTIONS)})")
    current = getattr(settings, section)
    hints = get_type_hints(type(current))
    if key not in hints:
        known = ", ".join(f.name for f in fields(current))
        raise ConfigError(f"{where}: unknown key {section}.{key} (known in {section}: {known})")
    return replace(settings, **{section: replace(current, **{key: _coerce(value, hints[key], where)})})


def load_settings(
    path: str | os.PathLike[str] | None = None, environ: dict[str, str] | None = None
) -> Settings:
    """Load the configuration file (if any) and apply ``SKYNET_<SECTION>_<KEY>`` overrides.

    Args:
        path: the YAML file; ``None`` means ``$SKYNET_CONFIG`` or none at all.
        environ: the environment to read overrides from (default ``os.environ``).

    Returns:
        The validated settings.

    Raises:
        ConfigError: the file is missing or malformed, or a key or value is wrong.
    """
    env = os.environ if environ is None else environ
    path = path or env.get(CONFIG_ENV) or None
    settings = Settings()
    if path is not None:
        settings = replace(settings, source=str(path))
        settings = _load_file(settings, Path(path))
    for name, value in sorted(env.items()):
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV or name.startswith("SKYNET_TEST_"):
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        section, _, key = rest.partition("_")
        if section not in _SECTIONS:
            continue  # other SKYNET_* variables (e.g. SKYNET_PEX_*) are not configuration
        settings = _apply(settings, section, key, value, f"environment variable {name}")
    return settings


def _load_file(settings: Settings, path: Path) -> Settings:
    import yaml  # imported here: keeps `skynet --help` fast

    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, got {type(data).__name__}")
    for section, values in data.items():
        if not isinstance(values, dict):
            if section in _SECTIONS:
                raise ConfigError(f"{path}: section {section!r} must be a mapping of keys")
            raise ConfigError(f"{path}: unknown section {section!r} (known: {', '.join(_SECTIONS)})")
        for key, value in values.items():
            settings = _apply(settings, str(section), str(key), value, f"{path}: {section}.{key}")
    return settings


_SECRET = re.compile(r"(?P<scheme>[a-z0-9+]+://)(?P<user>[^:/@]*):(?P<password>[^@]*)@")


def masked(value: Any) -> Any:
    """Mask the password in a URL-like string (``user:***@host``)."""
    if isinstance(value, str):
        return _SECRET.sub(lambda m: f"{m['scheme']}{m['user']}:***@", value)
    return value
