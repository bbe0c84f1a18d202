"""The model registry: versions with lineage, aliases with history, chosen by URL.

``open_registry(url)`` returns a :class:`ModelRegistry` for SQL URLs (the ``model_version``,
``model_alias`` and ``model_alias_event`` tables of skynet's schema, revision 0003: the
embedded SQLite database by default, so the registry needs no server) or ``memory://``. The
contract is in :mod:`skynet.storage.registry._base`.
"""

from __future__ import annotations

from collections.abc import Callable

from skynet.storage._registry import builder_for
from skynet.storage.registry._base import (
    ACTIONS,
    DELETED,
    READY,
    Alias,
    AliasEvent,
    ModelRegistry,
    ModelVersion,
    check_alias,
    check_name,
    utc_now,
)

__all__ = [
    "ModelRegistry",
    "ModelVersion",
    "Alias",
    "AliasEvent",
    "READY",
    "DELETED",
    "ACTIONS",
    "open_registry",
    "registry_schemes",
    "check_alias",
    "check_name",
    "utc_now",
]


def _sql(url: str, auto_migrate: bool = True, **_: object) -> ModelRegistry:
    from skynet.storage.sql._model_registry import SqlRegistry

    return SqlRegistry(url, auto_migrate=auto_migrate)


def _memory(url: str, **_: object) -> ModelRegistry:
    from skynet.storage.registry._memory import MemoryRegistry

    return MemoryRegistry(url)


_BUILDERS: dict[str, Callable[..., ModelRegistry]] = {
    **dict.fromkeys(
        ["sqlite", "mysql", "mysql+pymysql", "mariadb+pymysql", "postgresql", "postgresql+psycopg"], _sql
    ),
    "memory": _memory,
}


def registry_schemes() -> list[str]:
    """The URL schemes :func:`open_registry` knows."""
    return sorted(_BUILDERS)


def open_registry(url: str, **options: object) -> ModelRegistry:
    """Open the model registry a URL names.

    Args:
        url: e.g. ``sqlite:///skynet.db``, ``postgresql+psycopg://u:p@host/db``, ``memory://``.
        **options: adapter options (``auto_migrate`` for SQL).

    Raises:
        StorageError: the scheme is unknown (the message lists the known ones), the driver is
            missing, or the database cannot be reached.
    """
    return builder_for(url, _BUILDERS, "registry")(url, **options)
