"""Application functions about the configuration: show it (passwords masked) and check it.

:func:`check_config` is the release gate (``skynet config check``, run by the deployment on
every new release): loading the settings already validated every key and value; it adds what
needs the storage layer: each store URL must name a scheme its store knows, with a driver that
imports, and with ``connect`` each store must open.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from skynet.config import Settings, masked
from skynet.errors import ConfigError, SkynetError, brief

__all__ = ["effective_config", "check_config", "UrlCheck"]

#: The module a URL scheme's driver is (``base+driver`` schemes name it after the ``+``).
_DRIVERS: dict[str, str | None] = {
    "sqlite": "sqlite3",
    "mysql": "pymysql",
    "mariadb": "pymysql",
    "postgresql": "psycopg",
    "redis": "redis",
    "rediss": "redis",
    "mongodb": "pymongo",
    "mongodb+srv": "pymongo",
    "cassandra": "cassandra",
    "memory": None,
}
#: The ``pip install 'skynet[EXTRA]'`` that brings a driver module.
_EXTRAS = {"pymysql": "mysql", "psycopg": "postgresql", "redis": "redis", "pymongo": "mongodb",
           "cassandra": "cassandra"}  # fmt: skip


def effective_config(settings: Settings) -> dict[str, Any]:
    """The effective configuration as a dict, paths expanded and passwords masked."""
    data = settings.as_dict()
    return {
        "source": settings.source,
        **{
            section: {key: masked(settings.path(v) if isinstance(v, str) else v) for key, v in values.items()}
            for section, values in data.items()
        },
    }


@dataclass(frozen=True)
class UrlCheck:
    """What ``config check`` found about one configured store URL."""

    key: str
    #: The expanded URL, password masked.
    url: str
    #: The driver module (``None``: the store needs none, e.g. ``memory://``).
    driver: str | None
    #: Whether the store was opened (``config check --connect``).
    connected: bool


def _stores() -> dict[str, tuple[Callable[[], list[str]], Callable[..., Any], dict[str, Any]]]:
    """Per URL key: the known schemes and the opener of its store (the storage registries)."""
    from skynet.storage import known_schemes, open_decision_log, open_live_store, open_store
    from skynet.storage.decisions import decision_log_schemes
    from skynet.storage.live import live_store_schemes

    return {
        "url": (known_schemes, open_store, {}),
        "timeseries_url": (known_schemes, open_store, {}),
        "decisions_url": (decision_log_schemes, open_decision_log, {}),
        "live_url": (live_store_schemes, open_live_store, {}),
    }


def _cut(text: str, limit: int = 400) -> str:
    """A driver's or SQLAlchemy's message, cut (they may echo the whole URL)."""
    return text if len(text) <= limit else f"{text[:limit]}…"


def _driver(scheme: str) -> str | None:
    if scheme in _DRIVERS:
        return _DRIVERS[scheme]
    base, _, driver = scheme.partition("+")
    return driver or _DRIVERS.get(base)


def _check_url(key: str, url: str, schemes: list[str]) -> str | None:
    """The driver module of a URL whose scheme is known and whose driver imports.

    Raises:
        ConfigError: one of those is not so (the message names the key and the masked URL).
    """
    where = f"storage.{key} {brief(masked(url))}"
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in schemes:
        what = f"unknown scheme {brief(scheme)}" if scheme else "no scheme (expected SCHEME://...)"
        raise ConfigError(f"{where}: {what}; known: {', '.join(schemes)}")
    from skynet.storage.sql import is_sql_url

    if is_sql_url(url):
        from sqlalchemy.engine import make_url

        try:
            host = make_url(url).host or ""
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises ArgumentError or ValueError
            raise ConfigError(f"{where}: not a valid SQL URL ({_cut(masked(str(exc)))})") from None
        if "@" in host:  # SQLAlchemy splits at the first "@": the rest of the password became the host
            raise ConfigError(f"{where}: the password holds '@'; write it as %40 in the URL")
    module = _driver(scheme)
    if module is not None:
        try:
            importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001 - a missing or broken driver, whatever it raises
            extra = _EXTRAS.get(module)
            hint = f" (pip install 'skynet[{extra}]')" if extra else ""
            raise ConfigError(
                f"{where}: driver {module} does not import: {type(exc).__name__}: {_cut(str(exc))}{hint}"
            ) from None
    return module


def check_config(settings: Settings, connect: bool = False) -> list[UrlCheck]:
    """Check every configured store URL: a scheme its store knows, a driver that imports and,
    with ``connect``, a store that opens.

    Opening uses the storage registries (the same builders the commands use, with
    ``storage.auto_migrate``), so a SQL schema that is behind is upgraded as a worker would.

    Args:
        settings: the loaded settings (loading validated every other key).
        connect: also open (connect to) each store, then close it.

    Returns:
        One :class:`UrlCheck` per configured URL (empty optional URLs are left out).

    Raises:
        ConfigError: a URL is wrong or a store does not open; every problem, on one line.
    """
    from skynet.api._context import records_url, timeseries_url

    checks, problems = [], []
    for key, (schemes, opener, options) in _stores().items():
        url = settings.path(getattr(settings.storage, key))
        if not url:
            continue  # an optional store left empty: the record store or in-process stands in
        if connect and key in ("url", "timeseries_url"):
            # as the commands open them: an embedded SQLite file's folder is created
            url = records_url(settings) if key == "url" else timeseries_url(settings) or url
        try:
            driver = _check_url(key, url, schemes())
        except ConfigError as exc:
            problems.append(str(exc))
            continue
        if connect:
            if key in ("url", "timeseries_url", "decisions_url"):
                options = {**options, "auto_migrate": settings.storage.auto_migrate}
            try:
                opener(url, **options).close()
            except Exception as exc:  # noqa: BLE001 - adapters raise StorageError; a check reports anything
                reason = str(exc) if isinstance(exc, SkynetError) else f"{type(exc).__name__}: {exc}"
                problems.append(f"storage.{key}: cannot open: {_cut(masked(reason))}")
                continue
        checks.append(UrlCheck(key, masked(url), driver, connect))
    if problems:
        raise ConfigError(f"{settings.source}: {'; '.join(problems)}")
    return checks
