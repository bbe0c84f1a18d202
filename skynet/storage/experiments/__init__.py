"""The experiment store: hyper-parameter searches, their points and metrics, chosen by URL.

``open_experiment_store(url)`` returns an :class:`ExperimentStore` for SQL URLs (the
``search``, ``grid_search_parameter`` and ``model_performance_metadata`` tables of skynet's
schema, revision 0004: the embedded SQLite database by default, PostgreSQL or MariaDB in
production) or ``memory://``. The contract is in :mod:`skynet.storage.experiments._base`.
"""

from __future__ import annotations

from collections.abc import Callable

from skynet.storage._registry import builder_for
from skynet.storage.experiments._base import (
    KINDS,
    OVERALL,
    POINT_STATUSES,
    SEARCH_STATUSES,
    ExperimentStore,
    Metric,
    Point,
    Search,
    check_search_id,
    utc_now,
)

__all__ = [
    "ExperimentStore",
    "Search",
    "Point",
    "Metric",
    "KINDS",
    "OVERALL",
    "POINT_STATUSES",
    "SEARCH_STATUSES",
    "check_search_id",
    "utc_now",
    "open_experiment_store",
    "experiment_schemes",
]


def _sql(url: str, auto_migrate: bool = True, **_: object) -> ExperimentStore:
    from skynet.storage.sql._experiments import SqlExperimentStore

    return SqlExperimentStore(url, auto_migrate=auto_migrate)


def _memory(url: str, **_: object) -> ExperimentStore:
    from skynet.storage.experiments._memory import MemoryExperimentStore

    return MemoryExperimentStore(url)


_BUILDERS: dict[str, Callable[..., ExperimentStore]] = {
    **dict.fromkeys(
        ["sqlite", "mysql", "mysql+pymysql", "mariadb+pymysql", "postgresql", "postgresql+psycopg"], _sql
    ),
    "memory": _memory,
}


def experiment_schemes() -> list[str]:
    """The URL schemes :func:`open_experiment_store` knows."""
    return sorted(_BUILDERS)


def open_experiment_store(url: str, **options: object) -> ExperimentStore:
    """Open the experiment store a URL names.

    Args:
        url: e.g. ``sqlite:///skynet.db``, ``postgresql+psycopg://u:p@host/db``, ``memory://``.
        **options: adapter options (``auto_migrate`` for SQL).

    Raises:
        StorageError: the scheme is unknown (the message lists the known ones), the driver is
            missing, or the database cannot be reached.
    """
    return builder_for(url, _BUILDERS, "experiments")(url, **options)
