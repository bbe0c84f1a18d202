"""The SQL tables: one declarative class per record kind of :mod:`skynet.domain`.

Each table's primary key is its record kind's ``key``; for time-stamped kinds that key,
``(device_id, timestamp)``, is also the index every range read uses ("one device's rows from
``start`` to ``end``"), so no other index is needed. On SQLite those tables are ``WITHOUT
ROWID``: rows are kept in key order, which makes a device's range a contiguous scan.

The classes describe the schema (for Alembic and the naive benchmark baseline); the store
itself reads and writes through Core and the DBAPI cursor and returns domain dataclasses.
The ``decisions`` table is not a record kind: it keeps the control decision log's JSON
documents (:mod:`skynet.storage.sql._decisions`), indexed by device and time. The model
registry's three tables (``model_version``, ``model_alias``, ``model_alias_event``; revision
0003) back :mod:`skynet.storage.sql._model_registry`; the hyper-parameter searches' three
(``search``, ``grid_search_parameter``, ``model_performance_metadata``, the seed's names;
revision 0004) back :mod:`skynet.storage.sql._experiments`.

Keep ``migrations/versions`` in step with this module (a test compares them).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Double, Index, Integer, MetaData, String, Table, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from skynet.domain import (
    RECORD_KINDS,
    ApplianceState,
    ControlTarget,
    Device,
    Feedback,
    Record,
    SensorReading,
    User,
    Weather,
)

__all__ = [
    "Base",
    "TABLES",
    "ID",
    "TIMESTAMP",
    "table_of",
    "DecisionRow",
    "DECISIONS",
    "ModelVersionRow",
    "ModelAliasRow",
    "ModelAliasEventRow",
    "SearchRow",
    "GridSearchParameterRow",
    "ModelPerformanceRow",
    "JSON_TEXT",
]

#: Identifiers (device, user): sized so composite keys stay within MySQL's index limits.
ID = String(64)
#: Naive UTC timestamps with microseconds everywhere (MySQL/MariaDB default to whole seconds).
TIMESTAMP = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
_CHOICE = String(16)
#: JSON kept as text (see ``DecisionRow.document``); MEDIUMTEXT on MySQL, whose TEXT stops at 64 kB.
JSON_TEXT = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
#: A model version's name (``<type>-<params>-<dates-hash>-<feature-hash>``).
_MODEL = String(255)
_NAME = String(255)
_SHORT = String(64)


class Base(DeclarativeBase):
    """Declarative base of skynet's tables."""

    metadata = MetaData(naming_convention={"pk": "pk_%(table_name)s"})
    #: The domain record kind a table stores.
    __record__: type[Record]


class _Timed:
    """Columns and key of a time-stamped record kind."""

    __table_args__ = {"sqlite_with_rowid": False}

    # sort_order: the key columns come first, as in the domain records
    device_id: Mapped[str] = mapped_column(ID, primary_key=True, sort_order=-2)
    timestamp: Mapped[datetime] = mapped_column(TIMESTAMP, primary_key=True, sort_order=-1)


class DeviceRow(Base):
    __tablename__ = "devices"
    __record__ = Device

    device_id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str | None] = mapped_column(_NAME)
    timezone: Mapped[str | None] = mapped_column(_SHORT)
    latitude: Mapped[float | None] = mapped_column(Double)
    longitude: Mapped[float | None] = mapped_column(Double)
    country: Mapped[str | None] = mapped_column(_SHORT)
    city: Mapped[str | None] = mapped_column(_SHORT)
    climate: Mapped[str | None] = mapped_column(_SHORT)
    building_type: Mapped[str | None] = mapped_column(_SHORT)
    cooling_type: Mapped[str | None] = mapped_column(_SHORT)
    min_set_temperature: Mapped[float] = mapped_column(Double)
    max_set_temperature: Mapped[float] = mapped_column(Double)


class UserRow(Base):
    __tablename__ = "users"
    __record__ = User

    user_id: Mapped[str] = mapped_column(ID, primary_key=True)
    device_id: Mapped[str | None] = mapped_column(ID)
    name: Mapped[str | None] = mapped_column(_NAME)


class SensorReadingRow(_Timed, Base):
    __tablename__ = "sensor_readings"
    __record__ = SensorReading

    temperature: Mapped[float] = mapped_column(Double)
    humidity: Mapped[float | None] = mapped_column(Double)
    luminosity: Mapped[float | None] = mapped_column(Double)
    air_speed: Mapped[float | None] = mapped_column(Double)


class WeatherRow(_Timed, Base):
    __tablename__ = "weather"
    __record__ = Weather

    temperature: Mapped[float] = mapped_column(Double)
    humidity: Mapped[float | None] = mapped_column(Double)
    running_mean_temperature: Mapped[float | None] = mapped_column(Double)


class FeedbackRow(_Timed, Base):
    __tablename__ = "feedback"
    __record__ = Feedback

    value: Mapped[float] = mapped_column(Double)
    user_id: Mapped[str | None] = mapped_column(ID)
    clothing: Mapped[float | None] = mapped_column(Double)
    metabolic_rate: Mapped[float | None] = mapped_column(Double)


class ApplianceStateRow(_Timed, Base):
    __tablename__ = "appliance_states"
    __record__ = ApplianceState

    power: Mapped[bool] = mapped_column(Boolean)
    mode: Mapped[str | None] = mapped_column(_CHOICE)
    set_temperature: Mapped[float | None] = mapped_column(Double)
    fan: Mapped[str | None] = mapped_column(_CHOICE)
    origin: Mapped[str] = mapped_column(_CHOICE)


class ControlTargetRow(_Timed, Base):
    __tablename__ = "control_targets"
    __record__ = ControlTarget

    mode: Mapped[str] = mapped_column(_CHOICE)
    value: Mapped[float | None] = mapped_column(Double)
    origin: Mapped[str] = mapped_column(_CHOICE)


class DecisionRow(Base):
    """A control decision: its indexed fields and the whole document as JSON text."""

    __tablename__ = "decisions"
    __table_args__ = (Index("ix_decisions_device_time", "device_id", "time"),)

    decision_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    device_id: Mapped[str] = mapped_column(ID)
    time: Mapped[datetime] = mapped_column(TIMESTAMP)
    # JSON as text, not a JSON column: MariaDB's JSON is LONGTEXT underneath and every backend
    # then round-trips the document exactly as written. MEDIUMTEXT: MySQL's TEXT stops at 64 kB.
    document: Mapped[str] = mapped_column(JSON_TEXT)


class ModelVersionRow(Base):
    """A registered model version: what it is, where its artifact lives, where it came from."""

    __tablename__ = "model_version"
    __table_args__ = (Index("ix_model_version_type_time", "model_type", "registered_at"),)

    name: Mapped[str] = mapped_column(_MODEL, primary_key=True)
    model_type: Mapped[str] = mapped_column(_SHORT)
    params: Mapped[str] = mapped_column(JSON_TEXT)
    metrics: Mapped[str] = mapped_column(JSON_TEXT)
    artifact_uri: Mapped[str] = mapped_column(String(1024))
    #: sha256 of the model file (``model.npz``), as its manifest records it.
    sha256: Mapped[str] = mapped_column(String(64))
    lineage: Mapped[str] = mapped_column(JSON_TEXT)
    registered_by: Mapped[str] = mapped_column(_NAME)
    registered_at: Mapped[datetime] = mapped_column(TIMESTAMP)
    #: ``ready`` or ``deleted`` (a deleted version's row stays: alias history and lineage name it).
    status: Mapped[str] = mapped_column(_CHOICE)


class ModelAliasRow(Base):
    """An alias (``production``) of a model type, pointing at one version."""

    __tablename__ = "model_alias"

    model_type: Mapped[str] = mapped_column(_SHORT, primary_key=True)
    alias: Mapped[str] = mapped_column(_SHORT, primary_key=True)
    name: Mapped[str] = mapped_column(_MODEL)


class ModelAliasEventRow(Base):
    """One change of an alias: who moved it from which version to which, when and why."""

    __tablename__ = "model_alias_event"
    __table_args__ = (Index("ix_model_alias_event_alias", "model_type", "alias"),)

    # INTEGER on SQLite: only that type is its auto-incrementing rowid
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    model_type: Mapped[str] = mapped_column(_SHORT)
    alias: Mapped[str] = mapped_column(_SHORT)
    old_name: Mapped[str | None] = mapped_column(_MODEL)
    new_name: Mapped[str | None] = mapped_column(_MODEL)
    who: Mapped[str] = mapped_column(_NAME)
    time: Mapped[datetime] = mapped_column(TIMESTAMP)
    reason: Mapped[str | None] = mapped_column(Text)
    #: ``promote`` or ``rollback``.
    action: Mapped[str] = mapped_column(_CHOICE)


class SearchRow(Base):
    """A hyper-parameter search: what it searches, on which data slice, how it ended."""

    __tablename__ = "search"
    __table_args__ = (Index("ix_search_type_created", "model_type", "created"),)

    id: Mapped[str] = mapped_column(_SHORT, primary_key=True)
    model_type: Mapped[str] = mapped_column(_SHORT)
    #: ``grid`` or ``random``.
    kind: Mapped[str] = mapped_column(_CHOICE)
    #: The content digest (sha256) of the data slice every point is cross-validated on.
    dataset_hash: Mapped[str] = mapped_column(String(64))
    metric: Mapped[str] = mapped_column(_SHORT)
    #: The parameter space, fixed parameters, folds, data set path and selection (JSON).
    spec: Mapped[str] = mapped_column(JSON_TEXT)
    #: ``running``, ``finishing``, ``done`` or ``failed``.
    status: Mapped[str] = mapped_column(_CHOICE)
    created: Mapped[datetime] = mapped_column(TIMESTAMP)
    created_by: Mapped[str] = mapped_column(_NAME)
    finished: Mapped[datetime | None] = mapped_column(TIMESTAMP)
    best_point: Mapped[int | None] = mapped_column(Integer)
    model_name: Mapped[str | None] = mapped_column(_MODEL)
    error: Mapped[str | None] = mapped_column(Text)


class GridSearchParameterRow(Base):
    """One point of a search (the seed's ``grid_search_parameter``): its parameters and its task."""

    __tablename__ = "grid_search_parameter"

    search_id: Mapped[str] = mapped_column(_SHORT, primary_key=True)
    point_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    params: Mapped[str] = mapped_column(JSON_TEXT)
    #: ``pending``, ``running``, ``done`` or ``failed``.
    status: Mapped[str] = mapped_column(_CHOICE)
    #: The Celery worker (``name@host``) of the last attempt.
    worker: Mapped[str | None] = mapped_column(_NAME)
    attempts: Mapped[int] = mapped_column(Integer)
    #: When the last attempt's training began, and when the point's result was stored (or it failed).
    started: Mapped[datetime | None] = mapped_column(TIMESTAMP)
    finished: Mapped[datetime | None] = mapped_column(TIMESTAMP)
    error: Mapped[str | None] = mapped_column(Text)


class ModelPerformanceRow(Base):
    """One figure of one point (the seed's ``model_performance_metadata``): per fold, -1 overall."""

    __tablename__ = "model_performance_metadata"

    search_id: Mapped[str] = mapped_column(_SHORT, primary_key=True)
    point_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    fold: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    metric: Mapped[str] = mapped_column(_SHORT, primary_key=True)
    value: Mapped[float | None] = mapped_column(Double)
    dataset_hash: Mapped[str] = mapped_column(String(64))
    model_name: Mapped[str] = mapped_column(_MODEL)


#: The decision log's table.
DECISIONS: Table = DecisionRow.__table__  # type: ignore[assignment]

_BY_KIND = {
    mapper.class_.__record__.kind: mapper.local_table
    for mapper in Base.registry.mappers
    if hasattr(mapper.class_, "__record__")
}
#: Record kind name -> its table, in :data:`skynet.domain.RECORD_KINDS` order.
TABLES: dict[str, Table] = {kind: _BY_KIND[kind] for kind in RECORD_KINDS}


def table_of(kind: type[Record]) -> Table:
    """The table of a record kind (KeyError names unknown kinds)."""
    return TABLES[kind.kind]
