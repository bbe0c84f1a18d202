"""Reading parquet and CSV in chunks, from a path or an open binary file (shared by files and S3)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import pandas as pd

from skynet.errors import DataError

__all__ = ["file_format", "is_data_file", "csv_columns", "csv_chunks", "parquet_chunks", "SUFFIXES"]

#: Name endings read as data (anything else in a folder or under a prefix is left alone).
SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".csv.gz": "csv"}


def file_format(name: str) -> str:
    """``parquet`` or ``csv`` from a file or object name.

    Raises:
        DataError: another kind of file.
    """
    lower = name.lower()
    for suffix, kind in SUFFIXES.items():
        if lower.endswith(suffix):
            return kind
    raise DataError(f"{name}: expected a .parquet, .pq, .csv or .csv.gz file")


def is_data_file(name: str) -> bool:
    """A name a folder or prefix listing reads (hidden and ``_``-prefixed files are skipped)."""
    base = name.rsplit("/", 1)[-1]
    return not base.startswith((".", "_")) and any(base.lower().endswith(s) for s in SUFFIXES)


def _compression(name: str) -> str | None:
    return "gzip" if name.lower().endswith(".gz") else None


def csv_columns(handle: str | IO[bytes], name: str) -> list[str]:
    """The header of a CSV file (reads only its beginning)."""
    return [str(c) for c in pd.read_csv(handle, nrows=0, compression=_compression(name)).columns]


def csv_chunks(handle: str | IO[bytes], name: str, size: int) -> Iterator[pd.DataFrame]:
    """A CSV file's rows, ``size`` at a time (streamed: never all in memory)."""
    with pd.read_csv(handle, chunksize=size, compression=_compression(name)) as reader:
        yield from reader


def parquet_chunks(source: Any, size: int) -> Iterator[pd.DataFrame]:
    """A parquet file's rows, at most ``size`` at a time (one row group in memory at once)."""
    import pyarrow.parquet as pq

    with pq.ParquetFile(source) as parquet:
        for batch in parquet.iter_batches(batch_size=size):
            yield batch.to_pandas()
