"""The decision log in MongoDB (pymongo), for ``mongodb://`` and ``mongodb+srv://`` URLs.

One document per decision in the ``decisions`` collection of the URL's database (``skynet``
when the URL names none), with ``_id`` = ``decision_id`` so that appending a known decision
is a duplicate-key error the log ignores, and a compound index on ``(device_id, time)`` that
every read uses. Times are BSON dates (milliseconds, UTC), read back as naive UTC datetimes.

The client waits :data:`~skynet.storage._base.TIMEOUTS` (``serverSelectionTimeoutMS`` and
``connectTimeoutMS``: ``connect``; ``socketTimeoutMS``: ``read``) unless the URL sets them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from skynet.config import masked
from skynet.errors import StorageError, brief
from skynet.storage._base import TIMEOUTS
from skynet.storage.decisions._base import DecisionLog, check_range, prepare_all

__all__ = ["MongoDecisionLog", "client_options", "new_client"]

_DUPLICATE_KEY = 11000
_INDEX = "device_id_time"


def client_options(url: str) -> dict[str, int]:
    """The timeouts (ms) a client of ``url`` gets: :data:`TIMEOUTS`, except those the URL sets.

    Raises:
        StorageError: the URL sets one to something other than a number >= 0 (pymongo would
            only warn and drop it: no timeout at all).
    """
    defaults = {
        "serverSelectionTimeoutMS": round(TIMEOUTS.connect * 1000),
        "connectTimeoutMS": round(TIMEOUTS.connect * 1000),
        "socketTimeoutMS": round(TIMEOUTS.read * 1000),
    }
    names = {key.lower(): key for key in defaults}  # URI options are case-insensitive
    for key, value in parse_qsl(url.partition("?")[2], keep_blank_values=True):
        name = names.get(key.lower())
        if name is None:
            continue
        try:
            ok = float(value) >= 0
        except ValueError:
            ok = False
        if not ok:
            raise StorageError(
                MongoDecisionLog.name, f"bad URL {masked(url)!r}: {key}={brief(value)} is not a number >= 0"
            )
        defaults.pop(name, None)
    return defaults


def new_client(url: str) -> Any:
    """A pymongo client of ``url`` with skynet's timeouts (:func:`client_options`); it connects lazily.

    Raises:
        StorageError: the URL is malformed or sets a timeout to something that is not a number.
    """
    import pymongo

    options = client_options(url)
    try:
        return pymongo.MongoClient(url, tz_aware=False, connect=False, **options)
    except pymongo.errors.PyMongoError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StorageError(MongoDecisionLog.name, f"bad URL {masked(url)!r}: {reason}") from None


class MongoDecisionLog(DecisionLog):
    """A decision log in a MongoDB collection.

    Args:
        url: ``mongodb://user:pass@host:27017/dbname`` (or ``mongodb+srv://``); its
            ``?connectTimeoutMS=&serverSelectionTimeoutMS=&socketTimeoutMS=`` win over
            skynet's defaults (:func:`client_options`).
        collection: the collection's name.

    Raises:
        StorageError: pymongo is missing, the URL is wrong or the server cannot be reached.
    """

    name = "decisions[mongodb]"

    def __init__(self, url: str, collection: str = "decisions") -> None:
        try:
            import pymongo
        except ImportError as exc:
            raise StorageError(self.name, f"driver missing: {exc} (pip install 'skynet[mongodb]')") from None
        self.url = url
        self._errors = pymongo.errors
        self._client = new_client(url)
        try:
            with self._guard(f"connecting to {masked(url)}"):
                database = self._client.get_default_database(default="skynet")
                self._collection = database[collection]
                self._collection.create_index(
                    [("device_id", pymongo.ASCENDING), ("time", pymongo.ASCENDING)], name=_INDEX
                )
        except BaseException:
            self._client.close()  # its monitor threads would outlive the failed open
            raise

    def __repr__(self) -> str:
        return f"MongoDecisionLog({masked(self.url)!r})"

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """Turn pymongo errors into a one-line StorageError naming the adapter (the cause is kept)."""
        try:
            yield
        except self._errors.PyMongoError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            reason = reason.split(", Topology Description:")[0]  # the topology's repr is a screenful
            raise StorageError(self.name, f"{what} failed: {reason}") from exc

    def append(self, docs: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> int:
        prepared = prepare_all(docs)
        if not prepared:
            return 0
        rows = []
        for item in prepared:
            body = json.loads(item.text)
            body["time"] = item.time
            rows.append({"_id": item.decision_id, **body})
        try:
            with self._guard("appending decisions"):
                return len(self._collection.insert_many(rows, ordered=False).inserted_ids)
        except StorageError as exc:
            details = getattr(exc.__cause__, "details", None)
            if not details or any(e.get("code") != _DUPLICATE_KEY for e in details.get("writeErrors", [])):
                raise
            if details.get("writeConcernErrors"):
                raise
            return int(details.get("nInserted", 0))

    def _filter(self, device_id: str | None, start: datetime | None, end: datetime | None) -> dict:
        query: dict[str, Any] = {}
        if device_id is not None:
            query["device_id"] = device_id
        if start is not None or end is not None:
            query["time"] = {}
            if start is not None:
                query["time"]["$gte"] = start
            if end is not None:
                query["time"]["$lt"] = end
        return query

    def read(
        self,
        device_id: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[dict[str, Any]]:
        lo, hi = check_range(start, end, limit)
        if limit == 0:
            return []
        direction = -1 if newest_first else 1
        with self._guard("reading decisions"):
            cursor = self._collection.find(self._filter(device_id, lo, hi), {"_id": 0}).sort(
                [("time", direction), ("_id", direction)]
            )
            if limit is not None:
                cursor = cursor.limit(int(limit))
            return list(cursor)

    def count(self, device_id: str | None = None) -> int:
        with self._guard("counting decisions"):
            return int(self._collection.count_documents(self._filter(device_id, None, None)))

    def describe(self) -> dict[str, Any]:
        return {"adapter": self.name, "url": masked(self.url), "count": self.count()}

    def close(self) -> None:
        self._client.close()
