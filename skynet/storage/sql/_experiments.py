"""The experiment store in a SQL database: tables ``search``, ``grid_search_parameter`` and
``model_performance_metadata`` of skynet's schema (revision 0004).

It shares the record store's engine and migrations (opening it brings the schema up to date).
Every change of a point locks the point's row first (``SELECT ... FOR UPDATE``; on SQLite a
no-op write, which takes the database's write lock: a transaction that starts by reading and
then writes could fail instead of waiting while another worker writes), so two workers
finishing the same point (a redelivered task) store its metrics once. Moving a search to
``finishing`` is one conditional ``UPDATE``: exactly one caller sees it change.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, and_, exists, func, insert, select, update

from skynet.config import masked
from skynet.errors import StorageError
from skynet.storage.experiments._base import ExperimentStore, Metric, Point, Search
from skynet.storage.sql._store import SqlAdapter
from skynet.storage.sql._tables import GridSearchParameterRow, ModelPerformanceRow, SearchRow

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Row

__all__ = ["SqlExperimentStore"]

# Core tables of the ORM classes (typed as Table: insert()/update() take them).
SEARCHES: Table = SearchRow.__table__  # type: ignore[assignment]
POINTS: Table = GridSearchParameterRow.__table__  # type: ignore[assignment]
METRICS: Table = ModelPerformanceRow.__table__  # type: ignore[assignment]
_ENDED = ("done", "failed")


def _search(row: Row) -> Search:
    return Search(id=row.id, model_type=row.model_type, kind=row.kind, dataset_hash=row.dataset_hash,
                  metric=row.metric, spec=json.loads(row.spec), status=row.status, created=row.created,
                  created_by=row.created_by, finished=row.finished, best_point=row.best_point,
                  model_name=row.model_name, error=row.error)  # fmt: skip


def _point(row: Row) -> Point:
    return Point(search_id=row.search_id, point_id=row.point_id, params=json.loads(row.params), status=row.status,
                 worker=row.worker, attempts=row.attempts, started=row.started, finished=row.finished,
                 error=row.error)  # fmt: skip


def _metric(row: Row) -> Metric:
    return Metric(
        row.search_id, row.point_id, row.fold, row.metric, row.value, row.dataset_hash, row.model_name
    )


class SqlExperimentStore(SqlAdapter, ExperimentStore):
    """An experiment store in a SQL database (SQLite, MySQL/MariaDB, PostgreSQL); opened as
    :class:`~skynet.storage.sql._store.SqlAdapter` says."""

    kind = "experiments"

    def _locked_point(self, connection: Connection, search_id: str, point_id: int) -> Row:
        key = and_(POINTS.c.search_id == search_id, POINTS.c.point_id == point_id)
        if self._engine.dialect.name == "sqlite":
            connection.execute(update(POINTS).where(key).values(status=POINTS.c.status))
        row = connection.execute(select(POINTS).where(key).with_for_update()).first()
        if row is None:
            raise StorageError(self.name, f"no point {point_id} in search {search_id!r}")
        return row

    # -- searches --------------------------------------------------------------------------
    def _create(self, search: Search, points: list[Point]) -> None:
        with self._guard(f"creating search {search.id}"), self._engine.begin() as connection:
            if (
                connection.execute(select(SEARCHES.c.id).where(SEARCHES.c.id == search.id)).first()
                is not None
            ):
                raise StorageError(self.name, f"a search {search.id!r} exists already")
            connection.execute(insert(SEARCHES).values(
                id=search.id, model_type=search.model_type, kind=search.kind, dataset_hash=search.dataset_hash,
                metric=search.metric, spec=json.dumps(search.spec, allow_nan=False), status=search.status,
                created=search.created, created_by=search.created_by[:255], finished=search.finished,
                best_point=search.best_point, model_name=search.model_name, error=search.error,
            ))  # fmt: skip
            connection.execute(insert(POINTS), [
                {"search_id": p.search_id, "point_id": p.point_id, "params": json.dumps(p.params, allow_nan=False),
                 "status": p.status, "worker": None, "attempts": 0, "started": None, "finished": None, "error": None}
                for p in points
            ])  # fmt: skip

    def _search(self, search_id: str) -> Search | None:
        with self._guard(f"reading search {search_id}"), self._engine.connect() as connection:
            row = connection.execute(select(SEARCHES).where(SEARCHES.c.id == search_id)).first()
        return None if row is None else _search(row)

    def _searches(self, model_type: str | None) -> list[Search]:
        query = select(SEARCHES)
        if model_type is not None:
            query = query.where(SEARCHES.c.model_type == model_type)
        with self._guard("listing searches"), self._engine.connect() as connection:
            return [_search(row) for row in connection.execute(query)]

    def _claim_finish(self, search_id: str) -> bool:
        left = exists().where(POINTS.c.search_id == search_id, POINTS.c.status.not_in(_ENDED))
        claim = (
            update(SEARCHES)
            .where(SEARCHES.c.id == search_id, SEARCHES.c.status == "running", ~left)
            .values(status="finishing")
        )
        with self._guard(f"finishing search {search_id}"), self._engine.begin() as connection:
            return connection.execute(claim).rowcount == 1

    def _end_search(self, search_id: str, status: str, best_point: int | None, model_name: str | None,
                    error: str | None, now: datetime) -> None:  # fmt: skip
        with self._guard(f"ending search {search_id}"), self._engine.begin() as connection:
            done = connection.execute(update(SEARCHES).where(SEARCHES.c.id == search_id).values(
                status=status, best_point=best_point, model_name=model_name, error=error, finished=now,
            ))  # fmt: skip
            if done.rowcount != 1:
                raise StorageError(self.name, f"no search {search_id!r}")

    # -- points ----------------------------------------------------------------------------
    def _points(self, search_id: str) -> list[Point]:
        with self._guard(f"reading the points of {search_id}"), self._engine.connect() as connection:
            return [
                _point(row)
                for row in connection.execute(select(POINTS).where(POINTS.c.search_id == search_id))
            ]

    def _start_point(self, search_id: str, point_id: int, worker: str, now: datetime) -> Point:
        with self._guard(f"starting point {search_id}/{point_id}"), self._engine.begin() as connection:
            row = self._locked_point(connection, search_id, point_id)
            if row.status == "done":
                return _point(row)
            key = and_(POINTS.c.search_id == search_id, POINTS.c.point_id == point_id)
            connection.execute(update(POINTS).where(key).values(
                status="running", worker=worker, attempts=row.attempts + 1, started=now, finished=None,
            ))  # fmt: skip
            return _point(connection.execute(select(POINTS).where(key)).one())

    def _finish_point(self, search_id: str, point_id: int, metrics: list[Metric], now: datetime) -> bool:
        with self._guard(f"storing point {search_id}/{point_id}"), self._engine.begin() as connection:
            if self._locked_point(connection, search_id, point_id).status == "done":
                return False
            if metrics:
                connection.execute(insert(METRICS), [
                    {"search_id": m.search_id, "point_id": m.point_id, "fold": m.fold, "metric": m.name,
                     "value": m.value, "dataset_hash": m.dataset_hash, "model_name": m.model_name}
                    for m in metrics
                ])  # fmt: skip
            key = and_(POINTS.c.search_id == search_id, POINTS.c.point_id == point_id)
            connection.execute(update(POINTS).where(key).values(status="done", finished=now, error=None))
        return True

    def _append_point(self, search_id: str, params: dict[str, Any], limit: int) -> Point | None:
        key = SEARCHES.c.id == search_id
        with self._guard(f"adding a point to {search_id}"), self._engine.begin() as connection:
            if self._engine.dialect.name == "sqlite":  # the write lock first (see the module docstring)
                connection.execute(update(SEARCHES).where(key).values(status=SEARCHES.c.status))
            if connection.execute(select(SEARCHES.c.id).where(key).with_for_update()).first() is None:
                raise StorageError(self.name, f"no search {search_id!r}")
            count = connection.execute(
                select(func.count()).select_from(POINTS).where(POINTS.c.search_id == search_id)
            ).scalar_one()
            if count >= limit:
                return None
            connection.execute(insert(POINTS).values(
                search_id=search_id, point_id=count, params=json.dumps(params, allow_nan=False), status="pending",
                worker=None, attempts=0, started=None, finished=None, error=None,
            ))  # fmt: skip
        return Point(search_id, count, params)

    def _fail_point(self, search_id: str, point_id: int, error: str, now: datetime) -> bool:
        with self._guard(f"failing point {search_id}/{point_id}"), self._engine.begin() as connection:
            if self._locked_point(connection, search_id, point_id).status == "done":
                return False
            key = and_(POINTS.c.search_id == search_id, POINTS.c.point_id == point_id)
            connection.execute(update(POINTS).where(key).values(status="failed", finished=now, error=error))
        return True

    def _metrics(self, search_id: str, point_id: int | None) -> list[Metric]:
        query = select(METRICS).where(METRICS.c.search_id == search_id)
        if point_id is not None:
            query = query.where(METRICS.c.point_id == point_id)
        with self._guard(f"reading the metrics of {search_id}"), self._engine.connect() as connection:
            return [_metric(row) for row in connection.execute(query)]

    def _name_model(self, search_id: str, point_id: int, model_name: str) -> None:
        key = and_(METRICS.c.search_id == search_id, METRICS.c.point_id == point_id)
        with self._guard(f"naming the model of {search_id}/{point_id}"), self._engine.begin() as connection:
            connection.execute(update(METRICS).where(key).values(model_name=model_name))

    def describe(self) -> dict[str, Any]:
        with self._guard("counting searches"), self._engine.connect() as connection:
            count = connection.execute(select(func.count()).select_from(SEARCHES)).scalar_one()
        return {"adapter": self.name, "url": masked(self.url), "searches": count}
