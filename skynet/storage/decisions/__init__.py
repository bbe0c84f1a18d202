"""The control decision log: one JSON document per decision, chosen by URL.

``open_decision_log(url)`` returns a :class:`DecisionLog` for SQL URLs (the ``decisions`` table
of skynet's schema: the embedded default), ``mongodb://`` / ``mongodb+srv://`` (a MongoDB
collection, for fleets) or ``memory://`` (in-process). The document contract is in
:mod:`skynet.storage.decisions._base`.
"""

from __future__ import annotations

from collections.abc import Callable

from skynet.storage._registry import builder_for
from skynet.storage.decisions._base import DecisionLog, normalize_time

__all__ = ["DecisionLog", "open_decision_log", "decision_log_schemes", "normalize_time"]


def _sql(url: str, auto_migrate: bool = True, **_: object) -> DecisionLog:
    from skynet.storage.sql._decisions import SqlDecisionLog

    return SqlDecisionLog(url, auto_migrate=auto_migrate)


def _mongodb(url: str, **options: object) -> DecisionLog:
    from skynet.storage.decisions._mongodb import MongoDecisionLog

    collection = str(options.get("collection", "decisions"))
    return MongoDecisionLog(url, collection=collection)


def _memory(url: str, **_: object) -> DecisionLog:
    from skynet.storage.decisions._memory import MemoryDecisionLog

    return MemoryDecisionLog(url)


_BUILDERS: dict[str, Callable[..., DecisionLog]] = {
    **dict.fromkeys(
        ["sqlite", "mysql", "mysql+pymysql", "mariadb+pymysql", "postgresql", "postgresql+psycopg"], _sql
    ),
    "mongodb": _mongodb,
    "mongodb+srv": _mongodb,
    "memory": _memory,
}


def decision_log_schemes() -> list[str]:
    """The URL schemes :func:`open_decision_log` knows."""
    return sorted(_BUILDERS)


def open_decision_log(url: str, **options: object) -> DecisionLog:
    """Open the decision log a URL names.

    Args:
        url: e.g. ``sqlite:///skynet.db``, ``mongodb://host:27017/skynet``, ``memory://``.
        **options: adapter options (``auto_migrate`` for SQL, ``collection`` for MongoDB).

    Raises:
        StorageError: the scheme is unknown (the message lists the known ones), the driver is
            missing or the backend cannot be reached.
    """
    return builder_for(url, _BUILDERS, "decisions")(url, **options)
