"""Application functions for the SQL schema of the record store (``skynet db``).

They act on ``storage.url``. Another SQL store (``storage.timeseries_url``, ...) is migrated
the same way by pointing ``SKYNET_STORAGE_URL`` at it for the command.
"""

from __future__ import annotations

from typing import Any

from skynet.api._context import open_records, records_url
from skynet.config import Settings, masked
from skynet.errors import ConfigError

__all__ = ["upgrade", "current", "describe"]


def _sql_url(settings: Settings) -> str:
    from skynet.storage.sql import is_sql_url

    url = records_url(settings)
    if not is_sql_url(url):
        raise ConfigError(
            f"storage.url {masked(url)} is not a SQL database: `skynet db` manages SQL schemas only"
        )
    return url


def upgrade(settings: Settings) -> str:
    """Create or migrate the schema at ``storage.url`` to the newest revision.

    Returns:
        The schema revision now in the database (the head).

    Raises:
        ConfigError: ``storage.url`` is not a SQL database.
        StorageError: the database cannot be reached or the migration failed.
    """
    from skynet.storage.sql import upgrade as upgrade_url

    return upgrade_url(_sql_url(settings))


def current(settings: Settings) -> dict[str, Any]:
    """The schema state of ``storage.url``, without changing it.

    Returns:
        ``url`` (password masked), ``revision`` (None: no schema yet), ``head`` (what this skynet
        needs), ``up_to_date``, and ``counts`` (records per kind; None unless up to date).

    Raises:
        ConfigError: ``storage.url`` is not a SQL database.
        StorageError: the database cannot be reached.
    """
    from skynet.storage.sql import SqlStore, current_revision, head_revision

    url = _sql_url(settings)
    revision, head = current_revision(url), head_revision()
    counts = None
    if revision == head:
        with SqlStore(url, auto_migrate=False) as store:
            counts = store.describe()["counts"]
    up_to_date = revision == head
    return {
        "url": masked(url),
        "revision": revision,
        "head": head,
        "up_to_date": up_to_date,
        "counts": counts,
    }


def describe(settings: Settings) -> dict[str, Any]:
    """What the record store at ``storage.url`` holds: adapter, masked URL, records per kind, revision."""
    with open_records(settings) as store:
        return store.describe()
