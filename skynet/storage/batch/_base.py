"""The batch I/O contract: inputs hand out sources of rows, outputs take chunks of results.

- A :class:`Source` is one partition of an input (a file, an S3 object, a query): it knows
  its columns cheaply (checked before anything is written), maybe its row count, and reads
  its rows in chunks. Sources are plain picklable values (no open client), so a Dask worker
  can read one.
- A :class:`BatchInput` hands out :class:`Claim` s: the sources of one request and what to do
  once it succeeded or failed (an SQS message is deleted, or made visible again after a set
  timeout). Files, S3 prefixes and queries are one claim.
- A :class:`BatchOutput` writes :class:`ResultChunk` s. A write is atomic (the chunk is
  stored whole or not at all) and idempotent (writing a chunk again replaces it: a retried
  chunk or a re-run request never duplicates rows); :attr:`BatchOutput.max_rows` caps the
  chunk size where the backend's atomic unit is small (a DynamoDB transaction).

The public methods wrap driver errors once, here, into one-line
:class:`~skynet.errors.StorageError` s naming the adapter and what it was doing.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from skynet.errors import SkynetError, StorageError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Source",
    "Claim",
    "BatchInput",
    "BatchOutput",
    "ResultChunk",
    "row_id",
    "row_ids",
    "source_digest",
    "reason",
    "part_name",
    "overlapped_parts",
    "RESULT_KEYS",
    "REQUEST_ID",
]

#: Bookkeeping columns every result frame starts with (see :func:`row_id`).
RESULT_KEYS = ("request_id", "row_id", "source", "source_row")


def source_digest(source: str) -> str:
    """A short stable digest of a source's key (file names and object keys can be long)."""
    return hashlib.sha256(source.encode()).hexdigest()[:12]


def row_id(source: str, row: int) -> str:
    """A result row's key within its request: ``<source digest>:<row in the source, 9 digits>``.

    Zero-padded so that the keys of one source sort by row (a chunk is a key range).
    """
    return f"{source_digest(source)}:{row:09d}"


#: What a request id may look like (it becomes part of object keys, file names and table keys).
REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@+=-]{0,127}$")
_PART = re.compile(r"^part-(?P<digest>[0-9a-f]{12})-(?P<first>\d{9})-(?P<rows>\d+)\.\w+$")


def part_name(chunk: ResultChunk, suffix: str) -> str:
    """The file or object name of a chunk: ``part-<source digest>-<first row>-<rows>.<suffix>``."""
    return f"part-{chunk.key}.{suffix}"


def overlapped_parts(names: Iterable[str], chunk: ResultChunk) -> list[str]:
    """The names among ``names`` (base names) of other parts of the chunk's source whose rows
    overlap the chunk's: left by a run with another chunk size, removed once the chunk is in."""
    digest, end = source_digest(chunk.source), chunk.first_row + chunk.rows
    found = []
    for name in names:
        match = _PART.match(name)
        if match is None or match["digest"] != digest or name.startswith(f"part-{chunk.key}."):
            continue
        first = int(match["first"])
        if first < end and chunk.first_row < first + int(match["rows"]):
            found.append(name)
    return found


def row_ids(source: str, first: int, count: int) -> list[str]:
    """:func:`row_id` of ``count`` rows of ``source`` from row ``first`` (one digest for all)."""
    digest = source_digest(source)
    return [f"{digest}:{row:09d}" for row in range(first, first + count)]


def reason(exc: BaseException) -> str:
    """A driver exception's message on one line."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:  # botocore's ClientError
        error = response["Error"]
        return f"{error.get('Code', type(exc).__name__)}: {error.get('Message', '')}".rstrip(": ")
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    return lines[0] if lines else type(orig).__name__


class _Wrapped:
    """Mixin: run driver calls so that their errors become one :class:`StorageError`."""

    #: Short adapter name for messages, e.g. ``"batch[s3]"``.
    adapter: ClassVar[str] = "batch"

    def _driver_errors(self) -> tuple[type[BaseException], ...]:
        """The exception types of this adapter's driver (OSError and ValueError are always caught)."""
        return ()

    @contextmanager
    def _wrap(self, doing: str) -> Iterator[None]:
        caught: tuple[type[BaseException], ...] = (OSError, ValueError, *self._driver_errors())
        try:
            yield
        except SkynetError:
            raise
        except caught as exc:
            raise StorageError(self.adapter, f"{doing}: {reason(exc)}") from None


class Source(_Wrapped, ABC):
    """One partition of an input; :attr:`key` names it stably (a path, an ``s3://`` URI)."""

    key: str

    def columns(self) -> list[str]:
        """The source's column names, read cheaply (a header, a parquet footer, ``LIMIT 0``)."""
        with self._wrap(f"cannot read the columns of {self.key}"):
            return list(self._columns())

    def rows(self) -> int | None:
        """How many rows it holds, when that is cheap to know (else None)."""
        with self._wrap(f"cannot count the rows of {self.key}"):
            return self._rows()

    def chunks(self, size: int) -> Iterator[pd.DataFrame]:
        """The rows in order, at most ``size`` at a time."""
        iterator = self._chunks(size)
        while True:
            with self._wrap(f"cannot read {self.key}"):
                try:
                    frame = next(iterator)
                except StopIteration:
                    return
            yield frame

    @abstractmethod
    def _columns(self) -> list[str]: ...

    def _rows(self) -> int | None:
        return None

    @abstractmethod
    def _chunks(self, size: int) -> Iterator[pd.DataFrame]: ...


def _nothing(*_: Any) -> None:
    """A claim's default outcome handler."""


@dataclass
class Claim:
    """The sources of one request and what to do once it is finished.

    Attributes:
        sources: what to read.
        label: the request for messages (``"3 files under data/"``, ``"message 5f1c…"``).
        request_id: the id the input carries for it (an SQS message's), else None.
        error: why the request cannot be read at all (a malformed message), else None.
    """

    sources: list[Source]
    label: str
    request_id: str | None = None
    error: SkynetError | None = None
    on_done: Callable[[], None] = field(default=_nothing, repr=False)
    on_failed: Callable[[BaseException], None] = field(default=_nothing, repr=False)

    def done(self) -> None:
        """The request's results are all written (an SQS message is deleted)."""
        self.on_done()

    def failed(self, error: BaseException) -> None:
        """The request failed (an SQS message becomes visible again after the set timeout)."""
        self.on_failed(error)


class BatchInput(_Wrapped, ABC):
    """Where a batch job's rows come from, chosen by URL (see :func:`open_input`)."""

    #: After a failed claim, go on with the next one (a queue) or stop (one request).
    continue_after_failure: ClassVar[bool] = False

    def claims(self) -> Iterator[Claim]:
        """The requests to run, one claim each."""
        iterator = self._claims()
        while True:
            with self._wrap("cannot list the input"):
                try:
                    claim = next(iterator)
                except StopIteration:
                    return
            yield claim

    @abstractmethod
    def _claims(self) -> Iterator[Claim]: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients."""

    def __enter__(self) -> BatchInput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class ResultChunk:
    """Results of consecutive rows of one source, for one request.

    ``frame`` starts with the columns ``request_id``, ``row_id``, ``source``, ``source_row``,
    then the predictor's results, one row per input row.
    """

    request_id: str
    source: str
    first_row: int
    frame: pd.DataFrame

    @property
    def rows(self) -> int:
        return len(self.frame)

    @property
    def key(self) -> str:
        """The chunk's name within its request: ``<source digest>-<first row>-<rows>``."""
        return f"{source_digest(self.source)}-{self.first_row:09d}-{self.rows}"

    @property
    def row_ids(self) -> tuple[str, str]:
        """``[first, end)`` of the chunk's row ids (a key range: ids sort by row)."""
        return row_id(self.source, self.first_row), row_id(self.source, self.first_row + self.rows)


class BatchOutput(_Wrapped, ABC):
    """Where a batch job's results go, chosen by URL (see :func:`open_output`)."""

    #: The most rows one atomic write can hold (None: no limit); the job's chunks are cut to it.
    max_rows: ClassVar[int | None] = None

    def check(self) -> None:
        """Raise a one-line error unless results can be written there (run before any write)."""
        with self._wrap("not usable"):
            self._check()

    def start(self, request_id: str, meta: dict[str, Any]) -> None:
        """A request begins (a DynamoDB request item turns ``running``)."""
        with self._wrap(f"cannot start request {request_id}"):
            self._start(request_id, meta)

    def write(self, chunk: ResultChunk) -> None:
        """Store a chunk atomically; writing it again replaces it (never duplicates)."""
        with self._wrap(f"cannot write chunk {chunk.key} of request {chunk.request_id}"):
            self._write(chunk)

    def finish(self, request_id: str, summary: dict[str, Any]) -> None:
        """A request's results are all written."""
        with self._wrap(f"cannot finish request {request_id}"):
            self._finish(request_id, summary)

    def fail(self, request_id: str, error: str) -> None:
        """A request failed (its state says so where the output keeps one)."""
        with self._wrap(f"cannot mark request {request_id} failed"):
            self._fail(request_id, error)

    def describe(self) -> str:
        """Where the results are, for people (a folder, a table, a queue)."""
        return self.adapter

    def _check(self) -> None:  # noqa: B027 - optional hook
        pass

    def _start(self, request_id: str, meta: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        pass

    @abstractmethod
    def _write(self, chunk: ResultChunk) -> None: ...

    def _finish(self, request_id: str, summary: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        pass

    def _fail(self, request_id: str, error: str) -> None:  # noqa: B027 - optional hook
        pass

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients."""

    def __enter__(self) -> BatchOutput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
