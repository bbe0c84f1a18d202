"""Alembic glue: the schema's revisions, configured in code from the package's migrations.

No ``alembic.ini`` is needed: the script location is this package's ``migrations`` folder and
the connection is handed to ``env.py`` directly.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection

__all__ = [
    "MIGRATIONS",
    "VERSION_TABLE",
    "HEAD",
    "alembic_config",
    "head_revision",
    "known_revisions",
    "revision_of",
    "upgrade_connection",
]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"
#: The newest revision in ``migrations/versions``, spelled out so that opening a store whose
#: schema is up to date never imports Alembic (a test checks it against the scripts).
HEAD = "0004"


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """An Alembic configuration for skynet's migrations (for a URL or an open connection)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # configparser escaping
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision this version of skynet knows."""
    return HEAD


@lru_cache(maxsize=1)
def known_revisions() -> tuple[str, ...]:
    """Every revision in the migration scripts, newest first (reads them with Alembic)."""
    from alembic.script import ScriptDirectory

    return tuple(s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions())


def revision_of(connection: Connection) -> str | None:
    """The database's schema revision, or None when it has no skynet schema yet (one query)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    versions = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    return ",".join(sorted(versions)) or None


def upgrade_connection(connection: Connection, revision: str = "head") -> None:
    """Run the migrations up to ``revision`` on an open connection (in its transaction)."""
    from alembic import command

    command.upgrade(alembic_config(connection=connection), revision)
