"""The model registry in a SQL database: tables ``model_version``, ``model_alias`` and
``model_alias_event`` of skynet's schema (revision 0003).

It shares the record store's engine and migrations: opening it brings the schema up to date
like :class:`~skynet.storage.sql.SqlStore`. Params, metrics and lineage are JSON text. Moving
an alias locks its row (``SELECT ... FOR UPDATE`` where the database has it), updates it and
appends the event in one transaction, so two promotions at once cannot lose an event (on
SQLite a no-op write takes the database's write lock first).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, func, insert, select, update

from skynet.config import masked
from skynet.errors import StorageError
from skynet.storage.registry._base import DELETED, Alias, AliasEvent, ModelRegistry, ModelVersion
from skynet.storage.sql._store import SqlAdapter
from skynet.storage.sql._tables import ModelAliasEventRow, ModelAliasRow, ModelVersionRow

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Row

__all__ = ["SqlRegistry"]

# Core tables of the ORM classes (typed as Table: insert()/update() take them).
VERSIONS: Table = ModelVersionRow.__table__  # type: ignore[assignment]
ALIASES: Table = ModelAliasRow.__table__  # type: ignore[assignment]
EVENTS: Table = ModelAliasEventRow.__table__  # type: ignore[assignment]


def _version(row: Row) -> ModelVersion:
    return ModelVersion(
        name=row.name,
        model_type=row.model_type,
        artifact_uri=row.artifact_uri,
        sha256=row.sha256,
        params=json.loads(row.params),
        metrics=json.loads(row.metrics),
        lineage=json.loads(row.lineage),
        registered_by=row.registered_by,
        registered_at=row.registered_at,
        status=row.status,
    )


def _event(row: Row) -> AliasEvent:
    return AliasEvent(row.model_type, row.alias, row.old_name, row.new_name, row.who, row.time, row.reason,
                      row.action)  # fmt: skip


class SqlRegistry(SqlAdapter, ModelRegistry):
    """A model registry in a SQL database (SQLite, MySQL/MariaDB, PostgreSQL); opened as
    :class:`~skynet.storage.sql._store.SqlAdapter` says."""

    kind = "registry"

    def _register(self, version: ModelVersion) -> None:
        values = {
            "model_type": version.model_type,
            "params": json.dumps(version.params, allow_nan=False),
            "metrics": json.dumps(version.metrics, allow_nan=False),
            "artifact_uri": version.artifact_uri,
            "sha256": version.sha256,
            "lineage": json.dumps(version.lineage, allow_nan=False),
            "registered_by": version.registered_by,
            "registered_at": version.registered_at,
            "status": version.status,
        }
        with self._guard(f"registering {version.name}"), self._engine.begin() as connection:
            found = connection.execute(
                select(VERSIONS.c.name).where(VERSIONS.c.name == version.name).with_for_update()
            ).first()
            if found is None:
                connection.execute(insert(VERSIONS).values(name=version.name, **values))
            else:
                connection.execute(update(VERSIONS).where(VERSIONS.c.name == version.name).values(**values))

    def _get(self, name: str) -> ModelVersion | None:
        with self._guard(f"reading model {name}"), self._engine.connect() as connection:
            row = connection.execute(select(VERSIONS).where(VERSIONS.c.name == name)).first()
        return None if row is None else _version(row)

    def _versions(self, model_type: str | None) -> list[ModelVersion]:
        query = select(VERSIONS)
        if model_type is not None:
            query = query.where(VERSIONS.c.model_type == model_type)
        with self._guard("listing models"), self._engine.connect() as connection:
            return [_version(row) for row in connection.execute(query)]

    def _delete(self, name: str) -> ModelVersion:
        with self._guard(f"deleting {name}"), self._engine.begin() as connection:
            row = connection.execute(
                select(VERSIONS).where(VERSIONS.c.name == name).with_for_update()
            ).first()
            if row is None:
                raise StorageError(self.name, f"no model named {name!r} is registered")
            self._refuse_aliased(name, self._alias_rows(connection, None))
            connection.execute(update(VERSIONS).where(VERSIONS.c.name == name).values(status=DELETED))
        return _version(row)

    def _set_alias(self, event: AliasEvent) -> AliasEvent:
        key = (ALIASES.c.model_type == event.model_type) & (ALIASES.c.alias == event.alias)
        with self._guard(f"moving {event.model_type}@{event.alias}"), self._engine.begin() as connection:
            if self._engine.dialect.name == "sqlite":
                # SQLite has no FOR UPDATE and its driver starts the transaction lazily: a write
                # first takes the database's write lock, so the alias read below cannot go stale
                connection.execute(update(ALIASES).where(key).values(name=ALIASES.c.name))
            row = connection.execute(select(VERSIONS).where(VERSIONS.c.name == event.new_name)).first()
            self._target(None if row is None else _version(row), event)
            old = connection.execute(select(ALIASES.c.name).where(key).with_for_update()).scalar()
            if old is None:
                connection.execute(insert(ALIASES).values(model_type=event.model_type, alias=event.alias,
                                                          name=event.new_name))  # fmt: skip
            else:
                connection.execute(update(ALIASES).where(key).values(name=event.new_name))
            event = AliasEvent(event.model_type, event.alias, old, event.new_name, event.who, event.time,
                               event.reason, event.action)  # fmt: skip
            connection.execute(
                insert(EVENTS).values(**{k: getattr(event, k) for k in event.__dataclass_fields__})
            )
        return event

    def _alias_rows(self, connection: Connection, model_type: str | None) -> list[Alias]:
        query = select(ALIASES)
        if model_type is not None:
            query = query.where(ALIASES.c.model_type == model_type)
        return [Alias(r.model_type, r.alias, r.name) for r in connection.execute(query)]

    def _aliases(self, model_type: str | None) -> list[Alias]:
        with self._guard("listing aliases"), self._engine.connect() as connection:
            return self._alias_rows(connection, model_type)

    def _history(self, model_type: str | None, alias: str | None) -> list[AliasEvent]:
        query = select(EVENTS).order_by(EVENTS.c.id)
        if model_type is not None:
            query = query.where(EVENTS.c.model_type == model_type)
        if alias is not None:
            query = query.where(EVENTS.c.alias == alias)
        with self._guard("reading alias history"), self._engine.connect() as connection:
            return [_event(row) for row in connection.execute(query)]

    def describe(self) -> dict[str, Any]:
        with self._guard("counting models"), self._engine.connect() as connection:
            versions = connection.execute(select(func.count()).select_from(VERSIONS)).scalar_one()
            aliases = connection.execute(select(func.count()).select_from(ALIASES)).scalar_one()
        return {"adapter": self.name, "url": masked(self.url), "versions": versions, "aliases": aliases}
