"""S3: parquet/CSV objects under a prefix in, one CSV object per chunk out."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import pandas as pd

from skynet.errors import DataError, StorageError
from skynet.storage.batch._aws import AwsOptions, aws_errors, split_s3
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

__all__ = ["S3Source", "S3Input", "S3CsvOutput", "s3_sources"]

_MAGIC = b"PAR1"


class S3Source(Source):
    """One parquet or CSV object. CSV is streamed; parquet is fetched to a temporary file
    (its footer alone, two ranged GETs, gives its columns and rows)."""

    adapter = "batch[s3]"

    def __init__(self, bucket: str, key: str, aws: AwsOptions) -> None:
        self.bucket, self.object_key, self.aws = bucket, key, aws
        self.key = f"s3://{bucket}/{key}"
        self.format = file_format(key)

    def __repr__(self) -> str:
        return f"S3Source({self.key!r})"

    def _driver_errors(self) -> tuple[type[BaseException], ...]:
        import pyarrow as pa

        return (*aws_errors(), pa.ArrowException)

    def _get(self, **options: Any) -> Any:
        return self.aws.client("s3").get_object(Bucket=self.bucket, Key=self.object_key, **options)["Body"]

    def _metadata(self) -> Any:
        """The parquet footer's metadata, read with two ranged GETs (not the whole object)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        tail = self._get(Range="bytes=-8").read()
        if len(tail) < 8 or tail[4:] != _MAGIC:
            raise DataError(f"{self.key}: not a parquet file (no PAR1 footer)")
        footer = self._get(Range=f"bytes=-{int.from_bytes(tail[:4], 'little') + 8}").read()
        # the footer alone, behind a magic number, reads as a file with no row data
        return pq.read_metadata(pa.BufferReader(_MAGIC + footer))

    def _columns(self) -> list[str]:
        if self.format == "parquet":
            return list(self._metadata().schema.to_arrow_schema().names)
        body = self._get()
        try:
            return csv_columns(body, self.object_key)
        finally:
            body.close()

    def _rows(self) -> int | None:
        return int(self._metadata().num_rows) if self.format == "parquet" else None

    def _chunks(self, size: int) -> Iterator[pd.DataFrame]:
        body = self._get()
        try:
            if self.format == "csv":
                yield from csv_chunks(body, self.object_key, size)
                return
            with tempfile.TemporaryFile() as local:
                shutil.copyfileobj(body, local, 1 << 20)
                local.seek(0)
                yield from parquet_chunks(local, size)
        finally:
            body.close()


def s3_sources(url: str, aws: AwsOptions) -> list[S3Source]:
    """The data objects a ``s3://bucket/key`` or ``s3://bucket/prefix`` URL names, in key order.

    Raises:
        StorageError: none there (or the bucket cannot be listed).
    """
    bucket, prefix = split_s3(url)
    client = aws.client("s3")
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    if prefix in keys and not prefix.endswith("/"):
        keys = [prefix]  # the URL names one object
    elif prefix and not prefix.endswith("/"):
        keys = [k for k in keys if k.startswith(prefix + "/")]  # a "folder", not every key starting so
    keys = sorted(k for k in keys if is_data_file(k))
    if not keys:
        raise StorageError("batch[s3]", f"no .parquet or .csv objects at {url}")
    return [S3Source(bucket, key, aws) for key in keys]


class S3Input(BatchInput):
    """The parquet/CSV objects under ``s3://bucket/prefix`` (or one object), one request."""

    adapter = "batch[s3]"

    def __init__(self, url: str, aws: AwsOptions) -> None:
        self.url, self.aws = url, aws

    def _driver_errors(self) -> tuple[type[BaseException], ...]:
        return aws_errors()

    def _claims(self) -> Iterator[Claim]:
        sources = s3_sources(self.url, self.aws)
        label = sources[0].key if len(sources) == 1 else f"{len(sources)} objects under {self.url}"
        yield Claim(list(sources), label=label)


class S3CsvOutput(BatchOutput):
    """One CSV object per chunk: ``s3://bucket/prefix/<request id>/part-<digest>-<first>-<rows>.csv``.

    A PUT is atomic (an object is there whole or not at all); writing a chunk again replaces
    its object and removes the same source's overlapping parts (a run with another chunk size).
    """

    adapter = "batch[s3]"

    def __init__(self, url: str, aws: AwsOptions) -> None:
        self.bucket, prefix = split_s3(url)
        self.prefix = prefix.strip("/")
        self.aws = aws

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def _driver_errors(self) -> tuple[type[BaseException], ...]:
        return aws_errors()

    def _folder(self, request_id: str) -> str:
        return f"{self.prefix}/{request_id}/" if self.prefix else f"{request_id}/"

    def _check(self) -> None:
        self.aws.client("s3").head_bucket(Bucket=self.bucket)

    def _write(self, chunk: ResultChunk) -> None:
        client = self.aws.client("s3")
        folder = self._folder(chunk.request_id)
        body = chunk.frame.to_csv(index=False).encode()
        client.put_object(
            Bucket=self.bucket, Key=folder + part_name(chunk, "csv"), Body=body, ContentType="text/csv"
        )
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{folder}part-{source_digest(chunk.source)}-"
        )
        names = [item["Key"][len(folder) :] for page in pages for item in page.get("Contents", [])]
        for name in overlapped_parts(names, chunk):
            client.delete_object(Bucket=self.bucket, Key=folder + name)
