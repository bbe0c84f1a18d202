"""The SQL record store (SQLite, MySQL/MariaDB, PostgreSQL) and its Alembic migrations.

``SqlStore(url)`` opens a database and brings its schema up to date (unless
``auto_migrate=False``, where a schema that is behind is an error); :func:`upgrade` and
:func:`current_revision` are what ``skynet db`` runs. The migrations live in ``migrations/``
inside this package and need no ``alembic.ini``.
"""

from skynet.storage.sql._engine import dispose_engines
from skynet.storage.sql._migrate import head_revision
from skynet.storage.sql._store import SqlStore, current_revision, upgrade

__all__ = ["SqlStore", "upgrade", "current_revision", "head_revision", "dispose_engines", "is_sql_url"]

#: URL schemes (before any ``+driver``) this store serves.
SQL_BACKENDS = ("sqlite", "mysql", "mariadb", "postgresql")


def is_sql_url(url: str) -> bool:
    """Whether a store URL names a SQL database this package manages."""
    return url.split("://", 1)[0].split("+", 1)[0] in SQL_BACKENDS
