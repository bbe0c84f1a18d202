"""Pick a batch input or output adapter from a URL (like the record stores' registry)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from skynet.config import masked
from skynet.errors import DataError, StorageError
from skynet.storage.batch._aws import AwsOptions
from skynet.storage.batch._base import BatchInput, BatchOutput

__all__ = ["open_input", "open_output", "OutputSpec", "input_schemes", "output_schemes", "register_output"]

_SQL = ("sqlite", "mysql", "mysql+pymysql", "mariadb+pymysql", "postgresql", "postgresql+psycopg")


def _scheme(url: str) -> str:
    """The URL's scheme; "" for a plain path, ``sql`` for ``sql:...`` (the store)."""
    if "://" in url:
        return url.split("://", 1)[0].lower()
    return "sql" if url.lower().startswith("sql:") else ""


def _need(value: Any, what: str, url: str) -> Any:
    if not value:
        raise StorageError("batch", f"{masked(url)!r} needs {what}")
    return value


# -- inputs ---------------------------------------------------------------------------------
def _file_input(url: str, **_: Any) -> BatchInput:
    from skynet.storage.batch._files import FileInput

    return FileInput(url)


def _store_query_input(url: str, store_url: str | None = None, **_: Any) -> BatchInput:
    from skynet.storage.batch._sql import SqlInput

    return SqlInput(_need(store_url, "the store's URL", url), url[len("sql:") :])


def _sql_input(url: str, query: str | None = None, **_: Any) -> BatchInput:
    from skynet.storage.batch._sql import SqlInput

    if not query:
        raise DataError(f"a SQL input ({masked(url)}) needs a query (--input-query)")
    return SqlInput(url, query)


def _s3_input(url: str, aws: AwsOptions | None = None, **_: Any) -> BatchInput:
    from skynet.storage.batch._s3 import S3Input

    return S3Input(url, aws or AwsOptions())


def _sqs_input(
    url: str, aws: AwsOptions | None = None, sqs: dict[str, Any] | None = None, **_: Any
) -> BatchInput:
    from skynet.storage.batch._sqs import SqsInput

    return SqsInput(url, aws or AwsOptions(), **(sqs or {}))


_INPUTS: dict[str, Callable[..., BatchInput]] = {
    "": _file_input,
    "file": _file_input,
    "sql": _store_query_input,
    **dict.fromkeys(_SQL, _sql_input),
    "s3": _s3_input,
    **dict.fromkeys(("sqs", "http", "https"), _sqs_input),
}


# -- outputs --------------------------------------------------------------------------------
def _parquet_output(url: str, **_: Any) -> BatchOutput:
    from skynet.storage.batch._files import ParquetFolderOutput

    return ParquetFolderOutput(url)


def _store_table_output(url: str, store_url: str | None = None, **_: Any) -> BatchOutput:
    from skynet.storage.batch._sql import SqlTableOutput

    return SqlTableOutput(_need(store_url, "the store's URL", url), url[len("sql:") :])


def _sql_output(url: str, **_: Any) -> BatchOutput:
    from skynet.storage.batch._sql import SqlTableOutput

    database, _hash, table = url.rpartition("#")
    return SqlTableOutput(_need(database, "a table after '#' (URL#TABLE)", url), table)


def _s3_output(url: str, aws: AwsOptions | None = None, **_: Any) -> BatchOutput:
    from skynet.storage.batch._s3 import S3CsvOutput

    return S3CsvOutput(url, aws or AwsOptions())


def _sqs_output(url: str, aws: AwsOptions | None = None, **_: Any) -> BatchOutput:
    from skynet.storage.batch._sqs import SqsOutput

    return SqsOutput(url, aws or AwsOptions())


def _dynamodb_output(url: str, aws: AwsOptions | None = None, **_: Any) -> BatchOutput:
    from skynet.storage.batch._dynamodb import DynamoDbOutput

    return DynamoDbOutput(url, aws or AwsOptions())


_OUTPUTS: dict[str, Callable[..., BatchOutput]] = {
    "": _parquet_output,
    "file": _parquet_output,
    "sql": _store_table_output,
    **dict.fromkeys(_SQL, _sql_output),
    "s3": _s3_output,
    **dict.fromkeys(("sqs", "http", "https"), _sqs_output),
    "dynamodb": _dynamodb_output,
}


def _builder(url: str, builders: dict[str, Callable[..., Any]], what: str) -> Callable[..., Any]:
    scheme = _scheme(url)
    if scheme not in builders:
        known = ", ".join(f"{s}:" if s == "sql" else f"{s}://" for s in sorted(builders) if s)
        raise StorageError(
            "batch", f"unknown {what} URL scheme {scheme!r} in {masked(url)!r}; known: a path, {known}"
        )
    return builders[scheme]


def input_schemes() -> list[str]:
    """The URL schemes :func:`open_input` knows ("" is a path)."""
    return sorted(_INPUTS)


def output_schemes() -> list[str]:
    """The URL schemes :func:`open_output` knows ("" is a path)."""
    return sorted(_OUTPUTS)


def register_output(scheme: str, builder: Callable[..., BatchOutput]) -> None:
    """Register (or replace) the output builder of a URL scheme (``builder(url, **options)``)."""
    _OUTPUTS[scheme] = builder


def open_input(url: str, **options: Any) -> BatchInput:
    """The batch input a URL names.

    Args:
        url: a file or folder path (or ``file://``), ``sql:QUERY`` (a query on the store),
            a SQL URL (with ``query``), ``s3://bucket/prefix``, ``sqs://QUEUE`` or a queue URL.
        **options: ``store_url`` (for ``sql:``), ``query``, ``aws`` (:class:`AwsOptions`),
            ``sqs`` (:class:`~skynet.storage.batch._sqs.SqsInput` options).

    Raises:
        StorageError: an unknown scheme (the known ones are listed); DataError: a bad query.
    """
    builder = _builder(url, _INPUTS, "input")
    if options.get("query") and builder is not _sql_input:
        raise DataError(f"a query (--input-query) reads a SQL URL, not {masked(url)!r}")
    return builder(url, **options)


def open_output(url: str, **options: Any) -> BatchOutput:
    """The batch output a URL names.

    Args:
        url: a folder (parquet parts), ``sql:TABLE`` (a table in the store), ``SQLURL#TABLE``,
            ``s3://bucket/prefix`` (CSV), ``sqs://QUEUE`` or a queue URL,
            ``dynamodb://RESULTS?requests=REQUESTS``.
        **options: ``store_url`` (for ``sql:``), ``aws`` (:class:`AwsOptions`).

    Raises:
        StorageError: an unknown scheme (the known ones are listed); DataError: a bad table name.
    """
    return _builder(url, _OUTPUTS, "output")(url, **options)


@dataclass(frozen=True)
class OutputSpec:
    """An output as plain values, so that each Dask worker opens its own (clients don't travel)."""

    url: str
    options: dict[str, Any] = field(default_factory=dict)

    def open(self) -> BatchOutput:
        return open_output(self.url, **self.options)
