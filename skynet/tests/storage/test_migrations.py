"""The SQL schema's Alembic migrations: upgrade, current revision, auto-migration, drift."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect, text

from skynet.domain import SensorReading
from skynet.errors import StorageError
from skynet.storage import open_store
from skynet.storage.sql import SqlStore, current_revision, head_revision, upgrade
from skynet.storage.sql._tables import Base


def tables_in(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_creates_the_schema_on_an_empty_database(sql_url):
    assert current_revision(sql_url) is None
    assert upgrade(sql_url) == head_revision()
    assert current_revision(sql_url) == head_revision()
    assert tables_in(sql_url) == set(Base.metadata.tables) | {"alembic_version"}
    assert upgrade(sql_url) == head_revision()  # twice is fine


def test_head_migration_matches_the_table_classes(sql_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    upgrade(sql_url)
    engine = create_engine(sql_url)
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], "_tables.py changed without a migration (see migrations/env.py for adding one)"


def test_head_constant_matches_the_scripts():
    from alembic.script import ScriptDirectory

    from skynet.storage.sql._migrate import HEAD, alembic_config

    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD


def test_auto_migrate_off_on_an_empty_database_says_what_to_run(sql_url):
    with pytest.raises(StorageError, match=r"has no skynet schema, skynet needs .*run `skynet db upgrade`"):
        SqlStore(sql_url, auto_migrate=False)
    assert "sensor_readings" not in tables_in(sql_url)  # and changed nothing


def test_auto_migrate_brings_an_empty_database_to_head(sql_url):
    with open_store(sql_url) as store:
        assert store.describe()["schema_revision"] == head_revision()
        assert store.write([SensorReading("a", __import__("datetime").datetime(2024, 1, 1), 21.0)]) == 1
    with SqlStore(sql_url, auto_migrate=False) as store:  # up to date now: opens without migrating
        assert store.revision() == head_revision()


def test_a_revision_from_a_newer_skynet_is_refused(sql_url):
    upgrade(sql_url)
    engine = create_engine(sql_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    finally:
        engine.dispose()
    with pytest.raises(StorageError, match="revision 9999_future, newer than this skynet knows"):
        SqlStore(sql_url)


def test_downgrade_to_base_removes_the_tables(sql_url):
    from alembic import command

    from skynet.storage.sql._migrate import alembic_config

    upgrade(sql_url)
    command.downgrade(alembic_config(sql_url), "base")  # env.py opening its own engine
    assert current_revision(sql_url) is None
    assert tables_in(sql_url) <= {"alembic_version"}


def test_migrations_run_without_an_ini_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no alembic.ini anywhere near
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert upgrade(url) == head_revision()
