"""skynet's configuration: one YAML file, overridable key by key from the environment.

The file is ``--config PATH`` or ``$SKYNET_CONFIG``; without one the defaults give an embedded
setup under ``general.data_dir`` (a SQLite database and a local model store), so nothing needs
a server. Every key ``section.key`` can be overridden by ``SKYNET_<SECTION>_<KEY>``, for
example ``SKYNET_STORAGE_URL=postgresql+psycopg://...``. Values are validated when loaded; a
wrong key, type or value is a :class:`~skynet.errors.ConfigError` that names it and where it
came from, on one line, echoing at most a few hundred characters of the value.

An environment variable ``SKYNET_<X>_...`` whose ``<X>`` is not a section is an error when it
looks like a typo of one (``SKYNET_STORGE_URL``); variables of other tools that share the
prefix are listed once, in :data:`RESERVED_ENV_PREFIXES`.

:func:`masked` hides the passwords in URLs (and ``password=`` query parameters) of any text:
every message, log line and listing that shows a URL goes through it.

The ``control`` section is :class:`ControlConfig`, the knobs of skynet's controller (the
trade-off's weights, the fallback thermostat, the safety rules): what ``skynet control decide``,
the control worker and ``skynet control evaluate`` use. Lists are YAML lists, or comma-separated
in the environment (``SKYNET_CONTROL_COMFORT_BAND=21,26``).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from skynet.domain import Fan, Mode
from skynet.errors import MAX_ECHO, ConfigError, brief

__all__ = [
    "Settings",
    "ControlConfig",
    "load_settings",
    "masked",
    "ENV_PREFIX",
    "CONFIG_ENV",
    "RESERVED_ENV_PREFIXES",
    "LOG_LEVELS",
    "LOG_FORMATS",
]

ENV_PREFIX = "SKYNET_"
CONFIG_ENV = "SKYNET_CONFIG"

#: ``SKYNET_*`` variables that are not configuration keys. The loader never reads them, nor
#: takes them for a misspelt section. A tool that adds such a variable adds its prefix here.
RESERVED_ENV_PREFIXES: tuple[str, ...] = (
    CONFIG_ENV,  # the configuration file itself
    "SKYNET_TEST_",  # the test suite: its servers, sshd and PEX cache
    "SKYNET_REQUIRE_",  # the test suite: SKYNET_REQUIRE_AIRFLOW
    "SKYNET_PEX_",  # the PEX build and runtime
    "SKYNET_MODEL_SIGNING_KEY",  # the HMAC key of model artifacts (skynet.models), never in a file
    "SKYNET_MOTO_",  # install/servers.sh: the moto server's venv
    "SKYNET_INVENTORY",  # fab: the deployment inventory
    "SKYNET_DEPLOY_",  # fab: SKYNET_DEPLOY_ROOT
    "SKYNET_BUILD_",  # fab: SKYNET_BUILD_STORE; a model's lineage: SKYNET_BUILD_TAG
    "SKYNET_GIT_",  # a model's lineage: SKYNET_GIT_COMMIT (skynet.api._lineage)
)

#: ``general.log_level`` values (any case; stored upper case).
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

#: How alike an unknown ``SKYNET_<X>_`` must be to a section to count as its typo (difflib's
#: ratio: ``storge``/``storage`` 0.92, ``model``/``models`` 0.91; ``staging``/``storage`` 0.57).
_TYPO_CUTOFF = 0.75
#: numpy's seeds are 32-bit unsigned integers.
_MAX_SEED = 2**32 - 1


# -- value checks (run on every value, from the file or the environment) ---------------------
def _no_nul(value: str, where: str) -> str:
    if "\0" in value:
        raise ConfigError(f"{where}: contains a NUL character: {brief(masked(value))}")
    return value


def _path(value: str, where: str) -> str:
    if not value.strip():
        # an empty path would put the store in whatever folder a command happens to run in
        raise ConfigError(f"{where}: must not be empty (a folder; {{data_dir}} and ~ are expanded)")
    return _no_nul(value, where)


def _url(value: str, where: str) -> str:
    if not value.strip():
        raise ConfigError(f"{where}: must not be empty (a store URL, e.g. sqlite:///{{data_dir}}/skynet.db)")
    return _no_nul(value, where)


def _log_level(value: str, where: str) -> str:
    level = value.strip().upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"{where}: log level must be one of {', '.join(LOG_LEVELS)}, not {brief(value)}")
    return level


#: ``general.log_format`` values: ``text`` lines for people, ``json`` lines for log collectors.
LOG_FORMATS = ("text", "json")


def _log_format(value: str, where: str) -> str:
    shown = value.strip().lower()
    if shown not in LOG_FORMATS:
        raise ConfigError(f"{where}: log format must be one of {', '.join(LOG_FORMATS)}, not {brief(value)}")
    return shown


def _seed(value: int, where: str) -> int:
    if not 0 <= value <= _MAX_SEED:
        raise ConfigError(f"{where}: seed must be between 0 and {_MAX_SEED}, not {brief(value)}")
    return value


def _alias(value: str, where: str) -> str:
    # the registry's alias names (skynet.storage.registry.check_alias), checked when loaded
    if not re.fullmatch(r"[a-z][a-z0-9_-]{0,63}", value):
        raise ConfigError(f"{where}: {brief(value)} is not an alias name (a lower-case letter, then letters, "
                          "digits, '_' or '-')")  # fmt: skip
    return value


def _seconds(value: int, where: str) -> int:
    if value < 0:
        raise ConfigError(f"{where}: must be 0 or more seconds, not {brief(value)}")
    return value


def _checked(check: Callable[[Any, str], Any]) -> dict[str, Any]:
    return {"check": check}


@dataclass(frozen=True)
class General:
    """Where skynet keeps its files and how much it says."""

    #: Everything embedded lives here: the SQLite database, models, reports.
    data_dir: str = field(default="~/.skynet", metadata=_checked(_path))
    #: DEBUG, INFO, WARNING, ERROR or CRITICAL (any case).
    log_level: str = field(default="WARNING", metadata=_checked(_log_level))
    #: How services write their logs: ``text`` or ``json`` (one JSON object a line).
    log_format: str = field(default="text", metadata=_checked(_log_format))


@dataclass(frozen=True)
class Storage:
    """Where records live; each URL picks an adapter by its scheme."""

    #: Devices, users, feedback, appliance states, control targets. Default: SQLite in data_dir.
    url: str = field(default="sqlite:///{data_dir}/skynet.db", metadata=_checked(_url))
    #: Sensor readings and weather; empty means the same store as ``url``.
    timeseries_url: str = field(default="", metadata=_checked(_no_nul))
    #: Control decision logs; empty means the same store as ``url``.
    decisions_url: str = field(default="", metadata=_checked(_no_nul))
    #: Live device state and event queues (``redis://``); empty means in-process.
    live_url: str = field(default="", metadata=_checked(_no_nul))
    #: Bring a SQL schema up to date when it is opened (turn off where ops run migrations).
    auto_migrate: bool = True


@dataclass(frozen=True)
class Models:
    """Where trained models, their registry, caches and training data sets are kept."""

    #: The artifact store: a folder, or ``s3://bucket/prefix`` shared by every host.
    store: str = field(default="{data_dir}/models", metadata=_checked(_path))
    reports: str = field(default="{data_dir}/reports", metadata=_checked(_path))
    seed: int = field(default=0, metadata=_checked(_seed))
    #: The model registry (versions, aliases, lineage): empty = ``storage.url``'s SQL database;
    #: any SQL URL, or ``memory://``.
    registry_url: str = field(default="", metadata=_checked(_no_nul))
    #: Artifacts fetched from a remote store, one folder per artifact sha256 (verified on download).
    cache: str = field(default="{data_dir}/cache/models", metadata=_checked(_path))
    #: Training frames materialised as parquet (``<min>-<max>-<dates-hash>-<feature-hash>.parquet``).
    datasets: str = field(default="{data_dir}/data/processed/train", metadata=_checked(_path))
    #: The alias the control worker serves: each model it uses is ``TYPE@worker_alias``.
    worker_alias: str = field(default="production", metadata=_checked(_alias))
    #: Without that alias, the worker serves the newest registered model of the type (false: no
    #: model, so the fallback thermostat decides, and ``control health`` fails).
    worker_newest: bool = True
    #: Seconds between the worker's looks at the registry for a promoted model (0: at start only).
    worker_poll_s: int = field(default=30, metadata=_checked(_seconds))


@dataclass(frozen=True)
class Aws:
    """AWS (S3 model stores, S3/SQS/DynamoDB batch I/O); credentials: boto3's chain (``AWS_*``, ...)."""

    #: Empty = AWS itself; another S3-compatible server's URL otherwise (e.g. moto in tests).
    endpoint_url: str = field(default="", metadata=_checked(_no_nul))
    region: str = field(default="us-east-1", metadata=_checked(_no_nul))


def _port(value: int, where: str) -> int:
    if not 0 <= value <= 65535:
        raise ConfigError(f"{where}: a TCP port is 0 … 65535 (0: any free port), not {brief(value)}")
    return value


def _positive(value: int, where: str) -> int:
    if value < 1:
        raise ConfigError(f"{where}: must be 1 or more, not {brief(value)}")
    return value


def _not_negative(value: int, where: str) -> int:
    if value < 0:
        raise ConfigError(f"{where}: must be 0 or more, not {brief(value)}")
    return value


@dataclass(frozen=True)
class Serve:
    """The REST prediction service (``skynet serve``)."""

    #: The address it listens on (``0.0.0.0``: every interface).
    host: str = field(default="127.0.0.1", metadata=_checked(_no_nul))
    port: int = field(default=8000, metadata=_checked(_port))
    #: The largest request body accepted (bytes); a larger one is answered 413.
    max_body_bytes: int = field(default=1_048_576, metadata=_checked(_positive))
    #: Seconds a request may take before it is answered 504.
    request_timeout: int = field(default=10, metadata=_checked(_positive))
    #: The models served, by reference (``NAME`` or ``TYPE@ALIAS``); empty: ``TYPE@production``
    #: when that alias exists, else the newest model of the type.
    user_model: str = field(default="", metadata=_checked(_no_nul))
    estimation: str = field(default="", metadata=_checked(_no_nul))
    #: Seconds between looks at the registry for a newly promoted model (0: never reload).
    reload_interval: int = field(default=30, metadata=_checked(_not_negative))


def _concurrency(value: int, where: str) -> int:
    if not 0 <= value <= 256:
        raise ConfigError(f"{where}: concurrency must be 0 (one per core) to 256, not {brief(value)}")
    return value


def _queues(value: str, where: str) -> str:
    names = [q.strip() for q in value.split(",") if q.strip()]
    bad = [q for q in names if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", q)]
    if not names or bad:
        raise ConfigError(f"{where}: expected comma-separated queue names (letters, digits, _ . -), not "
                          f"{brief(value)}")  # fmt: skip
    return ",".join(names)


@dataclass(frozen=True)
class Train:
    """Distributed training and hyper-parameter search (Celery workers, ``skynet train worker``)."""

    #: The Celery broker: ``amqp://user:password@host:5672/vhost`` (RabbitMQ) or ``redis://``;
    #: empty = ``storage.live_url`` when that is Redis (else searches ask for this key).
    broker_url: str = field(default="", metadata=_checked(_no_nul))
    #: Worker processes of ``skynet train worker`` (the seed's CELERY_CONCURRENCY); 0 = one per core.
    concurrency: int = field(default=0, metadata=_checked(_concurrency))
    #: The queues a worker consumes, comma-separated (each point: collect_data -> training -> save_result).
    queues: str = field(default="collect_data,training,save_result", metadata=_checked(_queues))
    #: The search metadata (``search``, ``grid_search_parameter``, ``model_performance_metadata``):
    #: empty = ``storage.url``'s SQL database; any SQL URL, or ``memory://`` (one process only).
    experiments_url: str = field(default="", metadata=_checked(_no_nul))


#: The settings that are store URLs (``config check`` validates each).
URL_KEYS = ("url", "timeseries_url", "decisions_url", "live_url")


@dataclass(frozen=True)
class ControlConfig:
    """Knobs of the optimizer, the fallback thermostat and the safety rules (the ``control:`` section).

    Costs are in "comfort units": a predicted feedback of ±1 held over the horizon costs 1.
    """

    # candidates
    #: Modes the plan may choose. Dry and fan only are left out by default: the estimation models
    #: learn them from few hours (people seldom use them), and a plan of hours amplifies their
    #: errors (fan only forecast to cool a warm room).
    modes: tuple[str, ...] = ("cool", "heat")
    #: Set-point grid (K). A 1 K grid made the set point cycle (26 <-> 27 °C every hour or two)
    #: where the room would settle in between; the units take 0.5 K.
    set_temperature_step: float = 0.5
    fans: tuple[str, ...] = ("auto", "low", "medium", "high")
    #: Whether a running unit may get a command that changes only its fan speed (False: the fan
    #: changes with the set point or the mode, in the same command; fan-only changes were half of
    #: skynet's commands in the closed-loop evaluation, and each command beeps).
    fan_alone: bool = False
    # the plan (skynet.control._plan): sequences of commands over the next hours
    plan_step_minutes: int = 30  # a model horizon of at least 30 minutes (the longest lag)
    plan_steps: int = 8  # steps ahead: 8 x 30 minutes = 4 hours
    plan_switch_steps: tuple[int, ...] = (1, 2, 3, 4, 6)  # when two-segment sequences switch
    plan_alternatives: int = 3  # cheapest constant commands the two-segment sequences switch to
    plan_all_fans: bool = False  # every fan speed as a candidate (False: auto and the one running)
    setback_kelvin: float = 2.0  # the set-back sequence's set point, warmer (cooling) or colder
    # cost: comfort units (an hour at a predicted vote of ±1 beyond the dead band costs comfort_weight)
    #: Comfort units per kWh of AC electricity: the trade-off an operator sets.
    energy_weight: float = 20.0
    #: kWh of electricity per kelvin the AC holds a room from where it would drift with the AC off
    #: over a plan step (the heat it moved); calibrated against the simulator and EnergyPlus
    #: (benchmarks/calibrate_energy.py).
    kwh_per_kelvin: float = 0.065
    fan_kw: tuple[float, ...] = (0.02, 0.01, 0.02, 0.03)  # kW while running, by fan: auto, low, medium, high
    switch_penalty: float = 15.0  # any command (it beeps in someone's living room)
    power_switch_penalty: float = 0.15  # more for switching on
    mode_switch_penalty: float = 0.15  # more for another mode of a running unit
    repeat_factor: float = 2.0  # each command of the last hour adds this many switching penalties
    #: A setting younger than ``dwell_minutes`` counts as up to ``dwell_weight`` more recent
    #: commands (falling linearly with its age): sensor readings swing with the compressor.
    dwell_minutes: float = 90.0
    dwell_weight: float = 4.0
    empty_switch_share: float = 0.25  # of the switching penalties, in an empty home
    comfort_weight: float = 20.0  # per hour and (predicted vote beyond the dead band)²
    comfort_deadband: float = 0.2  # |predicted vote - comfort_target| below this costs nothing
    #: The predicted vote a plan aims at. Below 0 keeps the comfort model's predictions on the cool
    #: side: where the model reads rooms cooler than its people feel them (the simulator-trained
    #: model does, by 0.5-0.9 for people awake), personal offsets learned from votes correct it
    #: only as votes come in.
    comfort_target: float = -0.3
    #: Comfort offset added in the night period (local 22:00–07:00) to a device's personal offset
    #: (:class:`skynet.control.Personalizer`): sleepers (0.8 met under bedding) feel cooler than
    #: the awake people whose votes the comfort model and the night offsets learn from, and
    #: hardly ever vote themselves.
    night_offset: float = -0.6
    target_scale: float = 1.0  # kelvin of temperature-target error worth one comfort unit
    humidity_scale: float = 5.0  # %RH of humidity-target error worth one comfort unit
    band_weight: float = 10.0  # per hour and kelvin² outside a band (away, empty home, the comfort guard)
    #: Bounds (°C) for the "away" target and for an empty home under the "comfort" target (an
    #: empty home may drift warmer: cooling it for nobody cost 10 % of the energy in the
    #: closed-loop evaluation, and at a 32 °C top the plan cycled empty homes' ACs; the plan
    #: pre-cools before a predicted arrival instead).
    away_band: tuple[float, float] = (16.0, 30.0)
    empty_band: tuple[float, float] = (16.0, 35.0)
    #: Where the comfort model is trusted while someone is home (°C): forecasts outside cost as
    #: outside a band, however calm the model is about them (it would extrapolate). Empty: the
    #: temperatures the comfort model learned from; always within the safety range below.
    comfort_range: tuple[float, ...] = ()
    # fallback thermostat (also the comfort-band baseline of `skynet control evaluate`)
    comfort_band: tuple[float, float] = (21.0, 26.0)
    hysteresis: float = 0.5
    # model time budgets (seconds, per model call; a plan makes one estimation call per step and
    # one comfort call per round for its whole batch); a slower answer is discarded and the
    # fallback decides
    estimator_budget: float = 0.25
    comfort_budget: float = 0.25
    #: Devices planned together at most: the models are asked once per plan step for all of them
    #: (their decisions wait for the whole batch).
    batch_size: int = 16
    # safety
    min_set_temperature: float = 16.0
    max_set_temperature: float = 30.0
    min_off_seconds: float = 180.0
    min_on_seconds: float = 300.0
    max_commands_per_hour: int = 6

    def __post_init__(self) -> None:
        for name, kind in (("mode", Mode), ("fan", Fan)):
            for value in getattr(self, f"{name}s"):
                if not isinstance(value, str) or value.upper() not in kind.__members__:
                    known = ", ".join(m.label for m in kind)
                    raise ConfigError(f"control: unknown {name} {value!r} (known: {known})")
        if self.set_temperature_step <= 0 or self.max_commands_per_hour < 1 or self.plan_steps < 1:
            raise ConfigError(
                "control: need a positive set-temperature step, >= 1 plan step and >= 1 command per hour"
            )
        if self.plan_step_minutes not in (30, 60):
            raise ConfigError(f"control: plan_step_minutes must be 30 or 60, got {self.plan_step_minutes}")
        if self.comfort_range and (
            len(self.comfort_range) != 2 or self.comfort_range[0] >= self.comfort_range[1]
        ):
            raise ConfigError(
                f"control: comfort_range must be empty or two rising temperatures, got {self.comfort_range}"
            )
        if self.min_set_temperature > self.max_set_temperature:
            raise ConfigError("control: min_set_temperature is above max_set_temperature")
        for name in ("away_band", "empty_band", "comfort_band"):
            low, high = getattr(self, name)
            if low > high:
                raise ConfigError(f"control: {name} {low:g}-{high:g} is upside down")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ControlConfig:
        """Build from a mapping (lists become tuples, values are checked as the settings check them).

        Raises:
            ConfigError: an unknown key or a wrong value.
        """
        hints = get_type_hints(cls)
        unknown = sorted(set(values) - set(hints))
        if unknown:
            raise ConfigError(f"control: unknown setting {unknown[0]!r}")
        return cls(**{k: _coerce(v, hints[k], f"control.{k}") for k, v in values.items()})


@dataclass(frozen=True)
class Settings:
    """The effective configuration."""

    general: General = field(default_factory=General)
    storage: Storage = field(default_factory=Storage)
    models: Models = field(default_factory=Models)
    aws: Aws = field(default_factory=Aws)
    serve: Serve = field(default_factory=Serve)
    train: Train = field(default_factory=Train)
    control: ControlConfig = field(default_factory=ControlConfig)
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


def _cut(text: str) -> str:
    """A name from the input (a key, a variable), cut like :func:`brief` but without quotes
    (escaped where it holds a line break or another unprintable character)."""
    shown = text if text.isprintable() else repr(text)[1:-1]
    return shown if len(shown) <= MAX_ECHO else f"{shown[:MAX_ECHO]}… ({len(shown):,} characters)"


def _coerce(value: Any, kind: Any, where: str) -> Any:
    if get_origin(kind) is tuple:
        return _coerce_tuple(value, kind, where)
    if kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
    elif kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        # the length bound keeps int() away from huge digit strings (Python refuses > 4,300 digits)
        if isinstance(value, str) and len(value) <= 40 and re.fullmatch(r"[+-]?[0-9]+", value.strip()):
            return int(value)
    elif kind is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        if value is None:
            return ""
    type_name = getattr(kind, "__name__", str(kind))
    raise ConfigError(f"{where}: expected {type_name}, got {brief(masked(value))}")


def _coerce_tuple(value: Any, kind: Any, where: str) -> tuple[Any, ...]:
    """A YAML list, or a comma-separated string (environment), as the tuple ``kind`` declares."""
    args = get_args(kind)
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{where}: expected a list, got {brief(value)}")
    if len(args) == 2 and args[1] is Ellipsis:
        items = [args[0]] * len(value)
    elif len(value) != len(args):
        raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)} ({brief(value)})")
    else:
        items = list(args)
    return tuple(_coerce(v, k, where) for v, k in zip(value, items, strict=True))


def _suggest(word: str, known: list[str]) -> list[str]:
    return difflib.get_close_matches(word, known, n=1, cutoff=_TYPO_CUTOFF)


def _unknown_section(section: str, where: str) -> ConfigError:
    guess = _suggest(section, list(_SECTIONS))
    hint = f"; did you mean {guess[0]!r}?" if guess else ""
    return ConfigError(f"{where}: unknown section {brief(section)} (known: {', '.join(_SECTIONS)}){hint}")


def _apply(settings: Settings, section: str, key: str, value: Any, origin: str, where: str) -> Settings:
    """``settings`` with ``section.key`` set to ``value``, coerced and checked.

    ``origin`` (the file, the variable) starts the message of an unknown section or key,
    ``where`` (``FILE: section.key``, the variable) that of a wrong value.
    """
    if section not in _SECTIONS:
        raise _unknown_section(section, origin)
    current = getattr(settings, section)
    hints = get_type_hints(type(current))
    if key not in hints:
        known = [f.name for f in fields(current)]
        guess = _suggest(key, known)
        hint = f"; did you mean {section}.{guess[0]}?" if guess else ""
        raise ConfigError(
            f"{origin}: unknown key {section}.{_cut(key)} (known in {section}: {', '.join(known)}){hint}"
        )
    value = _coerce(value, hints[key], where)
    check = next(f for f in fields(current) if f.name == key).metadata.get("check")
    if check is not None:
        value = check(value, where)
    try:  # a section that checks its values together (ControlConfig) names what is wrong
        changed = replace(current, **{key: value})
    except ConfigError as exc:
        message = str(exc)
        raise ConfigError(message if message.startswith(where) else f"{where}: {message}") from None
    return replace(settings, **{section: changed})


def load_settings(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Load the configuration file (if any) and apply ``SKYNET_<SECTION>_<KEY>`` overrides.

    Args:
        path: the YAML file; ``None`` means ``$SKYNET_CONFIG`` or none at all.
        environ: the environment to read overrides from (default ``os.environ``).

    Returns:
        The validated settings.

    Raises:
        ConfigError: the file is missing or malformed, a key or value is wrong, or an
            environment variable names an unknown key (or a misspelt section).
    """
    env = os.environ if environ is None else environ
    path = path or env.get(CONFIG_ENV) or None
    settings = Settings()
    if path is not None:
        settings = replace(settings, source=str(path))
        settings = _load_file(settings, Path(path))
    for name, value in sorted(env.items()):
        target = _env_target(name)
        if target is not None:
            where = f"environment variable {_cut(name)}"
            settings = _apply(settings, target[0], target[1], value, where, where)
    return settings


def _env_target(name: str) -> tuple[str, str] | None:
    """(section, key) an environment variable sets, or ``None`` when it is no configuration.

    Raises:
        ConfigError: a ``SKYNET_`` variable whose section looks like a typo of a known one.
    """
    if not name.startswith(ENV_PREFIX) or name.startswith(RESERVED_ENV_PREFIXES):
        return None
    rest = name[len(ENV_PREFIX) :].lower()
    for section in _SECTIONS:
        if rest == section or rest.startswith(section + "_"):
            return section, rest[len(section) + 1 :]
    word = rest.partition("_")[0]
    guess = _suggest(word, list(_SECTIONS)) or [s for s in _SECTIONS if rest.startswith(s)]
    if not guess:
        return None  # another tool's variable (SKYNET_STAGING_DB_PASSWORD, ...): not ours
    raise ConfigError(
        f"environment variable {_cut(name)}: no configuration section {brief(word)}; did you mean "
        f"SKYNET_{guess[0].upper()}_...? (sections: {', '.join(_SECTIONS)}; variables of other tools "
        "are listed in skynet.config.RESERVED_ENV_PREFIXES)"
    )


def _load_file(settings: Settings, path: Path) -> Settings:
    import yaml  # imported here: keeps `skynet --help` fast

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ConfigError(f"{where}: not valid YAML ({_cut(str(problem))})") from None
    except Exception as exc:  # noqa: BLE001 - what PyYAML lets through (a 5,000-digit integer,
        # a bad date, deep nesting) also means the file is not a configuration
        raise ConfigError(f"{path}: not valid YAML ({type(exc).__name__}: {_cut(str(exc))})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, got {type(data).__name__}")
    for section, values in data.items():
        section = str(section)
        if section not in _SECTIONS:
            raise _unknown_section(section, str(path))
        if values is None:
            continue  # an empty section (``storage:`` alone) keeps the defaults
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: section {section!r} must be a mapping of keys")
        for key, value in values.items():
            key = str(key)
            settings = _apply(settings, section, key, value, str(path), f"{path}: {section}.{_cut(key)}")
    return settings


# -- masking --------------------------------------------------------------------------------
#: ``scheme://user:password@host``. The password runs to the last ``@`` before the host (the
#: last one before a blank or the next ``://``), so one holding ``@`` (``p@ss``) is hidden
#: whole. Repeats are bounded and stop at the next URL, so a huge value cannot stall it.
_USERINFO = re.compile(
    r"(?P<head>[A-Za-z][A-Za-z0-9+.-]{0,30}://[^:/?#\s]{0,256})"
    r":(?P<password>(?:(?!://)\S){0,1024})@(?!(?:(?!://)\S){0,1024}@)"
)
#: ``?password=...`` / ``&sslpassword=...`` / ``;token=...``: the value runs to ``&``, ``;``, ``#`` or a blank.
_PARAM = re.compile(
    r"(?P<key>(?:^|[?&;\s])[A-Za-z0-9_.-]{0,64}?(?:password|passwd|pwd|secret|token))=(?P<value>[^&#;\s]+)",
    re.IGNORECASE,
)
#: Closing quotes and brackets after a masked query value belong to the text around it.
_TRAILING = "'\"),.:]}>"


def _mask_param(match: re.Match[str]) -> str:
    value = match["value"]
    tail = value[len(value.rstrip(_TRAILING)) :]
    return f"{match['key']}=***{tail}"


def masked(value: Any) -> Any:
    """Hide the passwords in a URL or in any text holding URLs (``user:***@host``,
    ``?password=***``); other values are returned as they are."""
    if not isinstance(value, str):
        return value
    if "://" in value:
        value = _USERINFO.sub(lambda m: f"{m['head']}:***@", value)
    lowered = value.lower()
    if "=" in value and any(w in lowered for w in ("password", "passwd", "pwd", "secret", "token")):
        value = _PARAM.sub(_mask_param, value)
    return value
