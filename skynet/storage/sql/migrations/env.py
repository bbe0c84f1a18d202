"""Alembic environment of skynet's SQL schema, configured in code (no alembic.ini needed).

skynet runs it through :mod:`skynet.storage.sql._migrate`, which passes an open connection in
``config.attributes["connection"]``; with only ``sqlalchemy.url`` set it opens its own engine,
and in offline mode it prints the DDL.

A new revision, after changing ``_tables.py`` (write it out in full, like ``0001``; the test
``test_head_migration_matches_the_table_classes`` checks the head against the tables)::

    python -c "from alembic import command; from skynet.storage.sql._migrate import alembic_config as c; \
        u = 'sqlite:////tmp/rev.db'; command.upgrade(c(u), 'head'); \
        command.revision(c(u), 'what changed', autogenerate=True, rev_id='0002')"
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from skynet.storage.sql._tables import Base

config = context.config
target_metadata = Base.metadata


def run_offline() -> None:
    url = config.get_main_option("sqlalchemy.url")
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
