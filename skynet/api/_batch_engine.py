"""How a batch job runs its sources: here, one after the other, or on a Dask cluster, one task per source.

Both engines run the same function on each source, :func:`predict_source`: read a chunk,
``predictor.predict_frame`` it, write it (retried), next chunk. On Dask the predictor is sent
to every worker once, and each task opens its own output from an
:class:`~skynet.storage.batch.OutputSpec` (clients don't travel between processes).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from skynet.errors import ConfigError, DataError, ModelError, SkynetError, StorageError
from skynet.models.predictors import Predictor
from skynet.storage.batch import RESULT_KEYS, BatchOutput, OutputSpec, ResultChunk, Source, row_ids

__all__ = ["predict_source", "write_chunk", "LocalEngine", "DaskEngine", "open_engine", "Totals"]

log = logging.getLogger(__name__)

#: (rows, chunks) a source produced.
Totals = tuple[int, int]
#: Called with the rows of each chunk (local) or source (Dask) as they are written.
Progress = Callable[[int], None]


def write_chunk(output: BatchOutput, chunk: ResultChunk, attempts: int = 3, delay: float = 0.2) -> None:
    """Write a chunk, retrying a failed write (a :class:`StorageError`) up to ``attempts`` times.

    A write is atomic and idempotent, so a retry after a write that failed half-way, or that
    succeeded but whose answer was lost, stores the chunk once.

    Raises:
        StorageError: the last attempt failed (the message says how many were made).
    """
    for attempt in range(1, attempts + 1):
        try:
            output.write(chunk)
            return
        except StorageError as exc:
            if attempt == attempts:
                raise StorageError(exc.adapter, f"{str(exc).removeprefix(exc.adapter + ': ')} "
                                                f"(gave up after {attempts} attempts)") from None  # fmt: skip
            log.warning("chunk %s: attempt %d of %d failed: %s", chunk.key, attempt, attempts, exc)
            time.sleep(delay * 2 ** (attempt - 1))


def _keyed(result: pd.DataFrame, request_id: str, source: str, first: int) -> pd.DataFrame:
    """The result frame behind the bookkeeping columns (:data:`~skynet.storage.batch.RESULT_KEYS`)."""
    clash = [k for k in RESULT_KEYS if k in result.columns]
    if clash:
        raise ModelError(f"the predictor's results have the column(s) {', '.join(clash)}, which skynet adds")
    positions = np.arange(first, first + len(result))
    keys = pd.DataFrame({"request_id": request_id, "row_id": row_ids(source, first, len(result)),
                         "source": source, "source_row": positions})  # fmt: skip
    return pd.concat([keys, result.reset_index(drop=True)], axis=1)


def predict_source(source: Source, predictor: Predictor, output: BatchOutput | OutputSpec, request_id: str,
                   chunk_size: int, attempts: int = 3, progress: Progress | None = None) -> Totals:  # fmt: skip
    """Predict every row of a source, chunk by chunk, and write each chunk (retried).

    Returns:
        (rows, chunks) written.
    """
    opened = output.open() if isinstance(output, OutputSpec) else output
    rows = chunks = 0
    try:
        for frame in source.chunks(chunk_size):
            result = _keyed(predictor.predict_frame(frame), request_id, source.key, rows)
            write_chunk(opened, ResultChunk(request_id, source.key, rows, result), attempts)
            rows += len(frame)
            chunks += 1
            if progress is not None:
                progress(len(frame))
    finally:
        if opened is not output:
            opened.close()
    return rows, chunks


class LocalEngine:
    """Sources one after the other, in this process."""

    name = "local"

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def run(self, sources: Sequence[Source], predictor: Predictor, output: BatchOutput, spec: OutputSpec,
            request_id: str, chunk_size: int, attempts: int, progress: Progress | None = None) -> Totals:  # fmt: skip
        rows = chunks = 0
        for source in sources:
            r, c = predict_source(source, predictor, output, request_id, chunk_size, attempts, progress)
            rows, chunks = rows + r, chunks + c
        return rows, chunks


def _remote(source: Source, predictor: Predictor, spec: OutputSpec, request_id: str, chunk_size: int,
            attempts: int) -> tuple[Any, ...]:  # fmt: skip
    """:func:`predict_source` on a worker; skynet's errors come back as values (StorageError
    does not survive pickling, and the client re-raises them whole)."""
    try:
        return ("ok", *predict_source(source, predictor, spec, request_id, chunk_size, attempts))
    except SkynetError as exc:
        adapter = getattr(exc, "adapter", None)
        text = str(exc).removeprefix(f"{adapter}: ") if adapter else str(exc)
        return ("error", type(exc).__name__, adapter, text)


def _rebuild(kind: str, adapter: str | None, text: str) -> SkynetError:
    if adapter is not None:
        return StorageError(adapter, text)
    return {"DataError": DataError, "ModelError": ModelError, "ConfigError": ConfigError}.get(
        kind, SkynetError
    )(text)


class DaskEngine:
    """One task per source on a Dask cluster: a LocalCluster of ``workers`` processes (threads
    with ``processes=False``), or the scheduler at ``scheduler``."""

    name = "dask"

    def __init__(self, scheduler: str | None = None, workers: int = 2, processes: bool = True) -> None:
        self.scheduler, self.workers, self.processes = scheduler, workers, processes
        self._client: Any = None
        self._cluster: Any = None

    def __enter__(self) -> DaskEngine:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise ConfigError(
                "--engine dask needs dask and distributed (pip install 'skynet[dask]')"
            ) from None
        if self.scheduler:
            try:
                self._client = Client(self.scheduler, timeout="10s")
            except (OSError, TimeoutError) as exc:
                raise ConfigError(f"cannot reach the Dask scheduler at {self.scheduler}: {exc}") from None
            return self
        self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=self.processes,
                                     dashboard_address=None, silence_logs=logging.ERROR)  # fmt: skip
        self._client = Client(self._cluster)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def run(self, sources: Sequence[Source], predictor: Predictor, output: BatchOutput, spec: OutputSpec,
            request_id: str, chunk_size: int, attempts: int, progress: Progress | None = None) -> Totals:  # fmt: skip
        from dask.distributed import as_completed

        shipped = self._client.scatter(predictor, broadcast=True)
        futures = [self._client.submit(_remote, source, shipped, spec, request_id, chunk_size, attempts,
                                       pure=False) for source in sources]  # fmt: skip
        rows = chunks = 0
        try:
            for future in as_completed(futures):
                outcome = future.result()
                if outcome[0] == "error":
                    raise _rebuild(*outcome[1:])
                rows, chunks = rows + outcome[1], chunks + outcome[2]
                if progress is not None:
                    progress(outcome[1])
        except BaseException:
            self._client.cancel(futures)
            raise
        return rows, chunks


def open_engine(name: str, scheduler: str | None = None, workers: int = 2, processes: bool = True) -> Any:
    """The engine ``name`` (``local`` or ``dask``), to be entered as a context manager.

    Raises:
        ConfigError: another name.
    """
    if name == "local":
        if scheduler:
            raise ConfigError("--scheduler is a Dask scheduler's address: it needs --engine dask")
        return LocalEngine()
    if name == "dask":
        return DaskEngine(scheduler, workers, processes)
    raise ConfigError(f"unknown engine {name!r} (known: local, dask)")
