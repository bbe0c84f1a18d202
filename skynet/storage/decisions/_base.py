"""The decision log contract: control decisions kept as JSON documents, one per decision.

A decision document is a JSON object with three fields every backend indexes:

- ``decision_id``: a string of at most 128 characters that identifies the decision; the control
  worker uses the id of the event that triggered it, so appending a redelivered event's
  decision again stores nothing new (the log is idempotent on ``decision_id``);
- ``device_id``: at most 64 characters;
- ``time``: when the decision was made, a naive UTC :class:`~datetime.datetime` (an aware one is
  converted to UTC, an ISO 8601 string is parsed). Every backend keeps it to the millisecond,
  which is what MongoDB keeps.

Every other field is free, but must be plain JSON (strings, finite numbers, booleans, None,
lists, objects with string keys). Reads return the documents as appended, with ``time`` as a
naive UTC datetime, oldest first.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from skynet.errors import DataError

__all__ = [
    "DecisionLog",
    "Prepared",
    "prepare",
    "prepare_all",
    "restore",
    "check_range",
    "normalize_time",
    "MAX_ID",
    "MAX_DEVICE",
]

MAX_ID = 128
MAX_DEVICE = 64


class Prepared(NamedTuple):
    """A validated document, ready for a backend."""

    decision_id: str
    device_id: str
    time: datetime
    #: The document as compact JSON (``time`` in it as ISO text).
    text: str


def normalize_time(value: Any, what: str = "time") -> datetime:
    """A naive UTC datetime truncated to the millisecond, from a datetime or an ISO 8601 string."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise DataError(f"{what} {value!r} is not an ISO 8601 time") from None
    if not isinstance(value, datetime):
        raise DataError(f"{what} must be a datetime or an ISO 8601 string, got {type(value).__name__}")
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _check_json(value: Any, path: str) -> None:
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DataError(f"decision document field {path} is {value}: only finite numbers are JSON")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise DataError(f"decision document field {path} has a non-string key {key!r}")
            _check_json(item, f"{path}.{key}")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_json(item, f"{path}[{i}]")
        return
    raise DataError(f"decision document field {path} is a {type(value).__name__}, not a JSON value")


def prepare(doc: Mapping[str, Any]) -> Prepared:
    """Validate a decision document and serialize it (``time`` as ISO text inside the JSON).

    Raises:
        DataError: a required field is missing or too long, or a value is not plain JSON.
    """
    if not isinstance(doc, Mapping):
        raise DataError(f"a decision document is a mapping, got {type(doc).__name__}")
    for name, limit in (("decision_id", MAX_ID), ("device_id", MAX_DEVICE)):
        value = doc.get(name)
        if not isinstance(value, str) or not value:
            raise DataError(f"decision document needs a non-empty string {name}, got {value!r}")
        if len(value) > limit:
            raise DataError(f"decision document {name} {value[:20]!r}... is longer than {limit} characters")
    if "time" not in doc:
        raise DataError(f"decision document {doc['decision_id']!r} has no time")
    time = normalize_time(doc["time"], f"decision {doc['decision_id']!r} time")
    body = {key: value for key, value in doc.items() if key != "time"}
    body["time"] = time.isoformat(timespec="milliseconds")
    try:  # the C encoder checks everything at once; the slow walk only says what is wrong
        text = json.dumps(body, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        _check_json(body, "$")
        raise DataError(f"decision document {doc['decision_id']!r} is not JSON: {exc}") from None
    return Prepared(doc["decision_id"], doc["device_id"], time, text)


def restore(text: str, time: datetime) -> dict[str, Any]:
    """A stored document back as a dict, with ``time`` as a naive UTC datetime."""
    doc = json.loads(text)
    doc["time"] = time
    return doc


def prepare_all(docs: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> list[Prepared]:
    """One document or many, validated; duplicates of a ``decision_id`` within them count once."""
    items = [docs] if isinstance(docs, Mapping) else list(docs)
    unique: dict[str, Prepared] = {}
    for doc in items:
        prepared = prepare(doc)
        unique.setdefault(prepared.decision_id, prepared)
    return list(unique.values())


def check_range(start: datetime | None, end: datetime | None, limit: int | None) -> tuple[Any, Any]:
    """Normalize a read's bounds; a negative limit is an error."""
    if limit is not None and int(limit) < 0:
        raise DataError(f"limit must be >= 0, got {limit}")
    lo = None if start is None else normalize_time(start, "start")
    hi = None if end is None else normalize_time(end, "end")
    return lo, hi


class DecisionLog(ABC):
    """An append-only log of control decisions, chosen by URL (see :func:`open_decision_log`).

    Public methods raise :class:`~skynet.errors.StorageError` naming the adapter when the
    backend fails and :class:`~skynet.errors.DataError` for a malformed document.
    """

    #: Short adapter name used in error messages, e.g. ``"decisions[mongodb]"``.
    name: str = "decisions"

    @abstractmethod
    def append(self, docs: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> int:
        """Store one document or many; return how many were new (a known ``decision_id`` is kept)."""

    @abstractmethod
    def read(
        self,
        device_id: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[dict[str, Any]]:
        """Documents of one device (or all), ``start <= time < end``, by time then ``decision_id``."""

    @abstractmethod
    def count(self, device_id: str | None = None) -> int:
        """How many documents the log holds (for one device, or in all)."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """The adapter, its (password-masked) URL and the document count."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> DecisionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
