"""SQL engines: one per URL, with the driver's timeouts, and driver errors as one line.

Every SQL store and decision log opened on a URL shares its engine (:func:`_engine`). Server
engines get :data:`~skynet.storage._base.TIMEOUTS` through the driver's own connect arguments
unless the URL sets them (:func:`_connect_args`), a pre-ping and an hourly recycle of pooled
connections; SQLite engines get WAL. :func:`_guard` turns SQLAlchemy and driver errors into a
one-line :class:`~skynet.errors.StorageError` naming ``sql[<dialect>]`` (and, for a timeout,
the URL options that set it).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from skynet.config import masked
from skynet.errors import StorageError
from skynet.storage._base import TIMEOUTS

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["dispose_engines"]

_ENGINES: dict[str, Engine] = {}
_LOCK = threading.Lock()
_DRIVER_EXTRAS = {"mysql": "mysql", "mariadb": "mysql", "postgresql": "postgresql"}
#: The URL options that set each server's timeouts (see :class:`~skynet.storage._base.Timeouts`).
_TIMEOUT_OPTIONS = {
    "mysql": "?connect_timeout=S&read_timeout=S&write_timeout=S",
    "mariadb": "?connect_timeout=S&read_timeout=S&write_timeout=S",
    "postgresql": "?connect_timeout=S&options=-c statement_timeout=MS",
}
#: A URL without a driver gets the one skynet installs (SQLAlchemy's defaults are other packages).
_DEFAULT_DRIVERS = {
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
    "postgresql": "postgresql+psycopg",
}


def _create_engine(url: str) -> Engine:
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    scheme = url.split("://", 1)[0]
    try:
        parsed = make_url(url)
        parsed = parsed.set(drivername=_DEFAULT_DRIVERS.get(parsed.drivername, parsed.drivername))
        backend = parsed.get_backend_name()
        options: dict[str, Any] = {}
        if backend != "sqlite":
            options = {"pool_pre_ping": True, "pool_recycle": 3600}
            options["connect_args"] = _connect_args(backend, dict(parsed.query))
        engine = create_engine(parsed, **options)
    except ImportError as exc:
        extra = _DRIVER_EXTRAS.get(scheme.split("+")[0])
        hint = f" (pip install 'skynet[{extra}]')" if extra else ""
        raise StorageError(
            f"sql[{scheme}]", f"cannot open {masked(url)}: driver missing: {exc}{hint}"
        ) from None
    except (ArgumentError, NoSuchModuleError, ValueError, TypeError) as exc:
        raise StorageError(f"sql[{scheme}]", f"cannot open {masked(url)}: {exc}") from None
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _connect_args(backend: str, query: dict[str, Any]) -> dict[str, Any]:
    """The driver's timeouts (:data:`~skynet.storage._base.TIMEOUTS`) the URL does not set itself.

    MySQL/MariaDB (PyMySQL): ``connect_timeout``, and ``read_timeout``/``write_timeout`` for
    every wait on the socket (the server's greeting included). PostgreSQL (psycopg/libpq):
    ``connect_timeout`` (the whole connection, authentication included), a server-side
    ``statement_timeout``, TCP keepalives for idle pooled connections and ``tcp_user_timeout``
    for data the server never acknowledges (a host that went away).
    """
    defaults: dict[str, Any]
    if backend in ("mysql", "mariadb"):
        defaults = {
            "connect_timeout": TIMEOUTS.connect,
            "read_timeout": TIMEOUTS.read,
            "write_timeout": TIMEOUTS.read,
        }
    elif backend == "postgresql":
        defaults = {
            "connect_timeout": max(2, round(TIMEOUTS.connect)),  # libpq: whole seconds, 2 at least
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
            "tcp_user_timeout": round(TIMEOUTS.read * 1000),
        }
        given = str(query.get("options", ""))
        if "statement_timeout" not in given:  # the URL's own options are kept, ours appended
            defaults["options"] = f"{given} -c statement_timeout={round(TIMEOUTS.statement * 1000)}".strip()
    else:
        return {}
    return {key: value for key, value in defaults.items() if key == "options" or key not in query}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL: readers don't block the writer; NORMAL: durable at checkpoints, fast commits.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _engine(url: str) -> Engine:
    with _LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            engine = _ENGINES[url] = _create_engine(url)
        return engine


def dispose_engines() -> None:
    """Close the pooled connections of every engine (tests, shutdown); engines reconnect on use."""
    with _LOCK:
        for engine in _ENGINES.values():
            engine.dispose()


def _adapter(engine: Engine) -> str:
    return f"sql[{engine.dialect.name}]"


def _reason(exc: BaseException) -> str:
    """The driver's own message, on one line."""
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    return lines[0] if lines else type(orig).__name__


@contextmanager
def _guard(engine: Engine, what: str) -> Iterator[None]:
    """Turn SQLAlchemy and driver errors into a one-line StorageError naming the adapter."""
    from sqlalchemy.exc import SQLAlchemyError

    dbapi: Any = getattr(engine.dialect, "loaded_dbapi", None) or engine.dialect.dbapi
    try:
        yield
    except (SQLAlchemyError, dbapi.Error) as exc:
        reason = _reason(exc)
        hint = _TIMEOUT_OPTIONS.get(engine.dialect.name)
        if hint and ("timed out" in reason or "timeout" in reason):
            reason += f" (the URL can set the timeouts: {hint})"
        raise StorageError(_adapter(engine), f"{what} failed: {reason}") from exc
