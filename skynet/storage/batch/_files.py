"""Local files: parquet/CSV files or folders in, a folder of parquet parts out."""

from __future__ import annotations

import glob
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from skynet.errors import StorageError
from skynet.storage.batch._base import (
    BatchInput,
    BatchOutput,
    Claim,
    ResultChunk,
    Source,
    overlapped_parts,
    part_name,
    source_digest,
)
from skynet.storage.batch._formats import csv_chunks, csv_columns, file_format, is_data_file, parquet_chunks

__all__ = ["FileSource", "FileInput", "ParquetFolderOutput", "local_path", "atomic_write"]


def local_path(url: str) -> Path:
    """The path of ``/a/path``, ``relative/path``, ``~/path`` or ``file:///a/path``."""
    path = url[len("file://") :] if url.startswith("file://") else url
    return Path(os.path.expanduser(path))


class FileSource(Source):
    """A parquet or CSV file (``.parquet``, ``.pq``, ``.csv``, ``.csv.gz``)."""

    adapter = "batch[file]"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).resolve()
        self.key = str(self.path)
        self.format = file_format(self.path.name)

    def __repr__(self) -> str:
        return f"FileSource({self.key!r})"

    def _columns(self) -> list[str]:
        if self.format == "csv":
            return csv_columns(str(self.path), self.path.name)
        import pyarrow.parquet as pq

        return list(pq.read_schema(self.path).names)

    def _rows(self) -> int | None:
        if self.format == "csv":
            return None
        import pyarrow.parquet as pq

        return int(pq.read_metadata(self.path).num_rows)

    def _chunks(self, size: int) -> Iterator[pd.DataFrame]:
        if self.format == "csv":
            return csv_chunks(str(self.path), self.path.name, size)
        return parquet_chunks(str(self.path), size)

    def _driver_errors(self) -> tuple[type[BaseException], ...]:
        import pyarrow as pa

        return (pa.ArrowException,)


class FileInput(BatchInput):
    """A file, a folder (its data files, recursively, in name order) or a glob pattern."""

    adapter = "batch[file]"

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = local_path(url)

    def _claims(self) -> Iterator[Claim]:
        text = str(self.path)
        if any(ch in text for ch in "*?["):
            paths = sorted(Path(p) for p in glob.glob(text, recursive=True) if is_data_file(p))
            what = f"files matching {text}"
        elif self.path.is_dir():
            paths = sorted(p for p in self.path.rglob("*") if p.is_file() and is_data_file(p.name))
            what = f"files under {text}"
        elif self.path.is_file():
            paths, what = [self.path], text
        else:
            raise StorageError(self.adapter, f"input {text} does not exist")
        if not paths:
            raise StorageError(self.adapter, f"no .parquet or .csv files: no {what}")
        label = str(paths[0]) if len(paths) == 1 else f"{len(paths)} {what}"
        yield Claim([FileSource(p) for p in paths], label=label)


def atomic_write(path: Path, write: Any) -> None:
    """Call ``write(tmp_path)`` then rename the file into place: a reader sees all or nothing."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class ParquetFolderOutput(BatchOutput):
    """One parquet file per chunk, ``part-<source digest>-<first row>-<rows>.parquet``, in a folder.

    A part is written to a hidden temporary file and renamed into place. Writing a chunk again
    replaces its part, and removes the parts of the same source it overlaps (a re-run with
    another chunk size), so a folder never holds a row twice.
    """

    adapter = "batch[parquet]"

    def __init__(self, url: str) -> None:
        self.folder = local_path(url)

    def describe(self) -> str:
        return str(self.folder)

    def _check(self) -> None:
        existing = self.folder
        while not existing.exists():
            existing = existing.parent
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise StorageError(self.adapter, f"cannot write under {existing} (for {self.folder})")

    def _write(self, chunk: ResultChunk) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / part_name(chunk, "parquet")
        atomic_write(path, lambda tmp: chunk.frame.to_parquet(tmp, index=False))
        others = [p.name for p in self.folder.glob(f"part-{source_digest(chunk.source)}-*.parquet")]
        for name in overlapped_parts(others, chunk):
            (self.folder / name).unlink(missing_ok=True)

    def _driver_errors(self) -> tuple[type[BaseException], ...]:
        import pyarrow as pa

        return (pa.ArrowException,)
