"""DynamoDB: a result table, and a request-state table updated with every chunk.

``dynamodb://RESULTS?requests=REQUESTS``. Both tables exist beforehand (like the seed's); their
key names are read from their key schemas:

- RESULTS: a string partition key (the request id) and a string sort key (the row id,
  ``<source digest>:<row>``); one item per result row, floats as numbers (NaN left out).
- REQUESTS: a string partition key (the request id); skynet sets ``state`` (``running``,
  ``done``, ``error``), ``updated_at``, ``started_at``/``finished_at``, ``model_id``,
  ``input_url``, ``output_url``, ``rows_done``, ``chunks_done``, ``done_chunks`` (a string set
  of chunk keys) and ``error``.

A chunk is one ``TransactWriteItems``: its result items and the request's update, all or
nothing. So a chunk holds at most 99 rows (a transaction takes 100 items; :attr:`max_rows`).
The update is conditional on the chunk's key not being in ``done_chunks`` yet: writing a chunk
again (a retry after a lost answer, or a re-run of the request) changes nothing. Item keys are
row ids, so a run with another chunk size overwrites the same items; ``done_chunks`` holds
one short key per chunk, which keeps a request under DynamoDB's 400 KB item limit up to about
15,000 chunks (1.5 million rows).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd

from skynet.errors import StorageError
from skynet.storage.batch._aws import AwsOptions, aws_errors
from skynet.storage.batch._base import BatchOutput, ResultChunk

__all__ = ["DynamoDbOutput"]

#: Items in one TransactWriteItems.
_TRANSACTION_ITEMS = 100


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _value(value: Any) -> Any:
    """A DynamoDB attribute value for the serializer, or None to leave the attribute out."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | str | Decimal):
        return value
    if isinstance(value, float | int):
        return None if isinstance(value, float) and not math.isfinite(value) else Decimal(repr(value))
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


class DynamoDbOutput(BatchOutput):
    """Result items and per-chunk request state (see the module docstring)."""

    adapter = "batch[dynamodb]"

    def __init__(self, url: str, aws: AwsOptions) -> None:
        parts = urlsplit(url)
        self.results = parts.netloc + parts.path.rstrip("/")
        self.requests = (parse_qs(parts.query).get("requests") or [""])[0]
        if not self.results:
            raise StorageError(self.adapter, f"{url!r} names no table (dynamodb://RESULTS?requests=REQUESTS)")
        self.aws = aws
        self._keys: tuple[str, str] | None = None
        self._request_key: str | None = None

    @property
    def max_rows(self) -> int:  # type: ignore[override]
        return _TRANSACTION_ITEMS - 1 if self.requests else _TRANSACTION_ITEMS

    def describe(self) -> str:
        return f"DynamoDB table {self.results}" + (f" (state in {self.requests})" if self.requests else "")

    def _driver_errors(self) -> tuple[type[BaseException], ...]:
        return aws_errors()

    def _key_schema(self, table: str) -> dict[str, tuple[str, str]]:
        """``{"HASH": (name, type), "RANGE": (name, type)}`` of a table."""
        described = self.aws.client("dynamodb").describe_table(TableName=table)["Table"]
        types = {a["AttributeName"]: a["AttributeType"] for a in described["AttributeDefinitions"]}
        return {k["KeyType"]: (k["AttributeName"], types[k["AttributeName"]]) for k in described["KeySchema"]}

    def _check(self) -> None:
        keys = self._key_schema(self.results)
        if set(keys) != {"HASH", "RANGE"} or {t for _, t in keys.values()} != {"S"}:
            raise StorageError(
                self.adapter,
                f"table {self.results} needs a string partition key (request id) and a string sort key "
                f"(row id); it has {', '.join(f'{n} ({t}, {k})' for k, (n, t) in keys.items())}",
            )
        self._keys = (keys["HASH"][0], keys["RANGE"][0])
        if self.requests:
            schema = self._key_schema(self.requests)
            if set(schema) != {"HASH"} or schema["HASH"][1] != "S":
                raise StorageError(
                    self.adapter, f"table {self.requests} needs exactly one key: a string partition key"
                )
            self._request_key = schema["HASH"][0]

    def _update(self, request_id: str, expression: str, values: dict[str, Any]) -> None:
        if not self.requests:
            return
        if self._request_key is None:
            self._check()
        names = {f"#{k}": k for k in ("state", "updated_at", "error") if f"#{k}" in expression}
        self.aws.client("dynamodb").update_item(
            TableName=self.requests,
            Key={self._request_key: {"S": request_id}},
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=_serialize(values),
        )

    def _start(self, request_id: str, meta: dict[str, Any]) -> None:
        now = _now()
        self._update(
            request_id,
            "SET #state = :running, #updated_at = :now, started_at = :now, model_id = :model, "
            "input_url = :input, output_url = :output REMOVE #error",
            {":running": "running", ":now": now, ":model": str(meta.get("model_id", "")),
             ":input": str(meta.get("input", "")), ":output": str(meta.get("output", ""))},
        )  # fmt: skip

    def _finish(self, request_id: str, summary: dict[str, Any]) -> None:
        now = _now()
        self._update(
            request_id,
            "SET #state = :done, #updated_at = :now, finished_at = :now, rows_written = :rows",
            {":done": "done", ":now": now, ":rows": int(summary.get("rows", 0))},
        )

    def _fail(self, request_id: str, error: str) -> None:
        self._update(
            request_id,
            "SET #state = :error, #updated_at = :now, #error = :message",
            {":error": "error", ":now": _now(), ":message": error[:2000]},
        )

    def _write(self, chunk: ResultChunk) -> None:
        if self._keys is None:
            self._check()
        assert self._keys is not None
        hash_key, range_key = self._keys
        records = chunk.frame.drop(columns=["request_id", "row_id"]).to_dict("records")
        items = []
        for row_key, record in zip(chunk.frame["row_id"], records, strict=True):
            item = {k: v for k, v in ((str(k), _value(v)) for k, v in record.items()) if v is not None}
            item.update({hash_key: chunk.request_id, range_key: str(row_key)})
            items.append({"Put": {"TableName": self.results, "Item": _serialize(item)}})
        if self.requests:
            items.append({"Update": self._chunk_update(chunk)})
        try:
            self.aws.client("dynamodb").transact_write_items(TransactItems=items)
        except aws_errors() as exc:
            if not self._already_written(exc, len(items)):
                raise

    def _chunk_update(self, chunk: ResultChunk) -> dict[str, Any]:
        assert self._request_key is not None
        return {
            "TableName": self.requests,
            "Key": {self._request_key: {"S": chunk.request_id}},
            "ConditionExpression": "attribute_not_exists(done_chunks) OR NOT contains(done_chunks, :key)",
            "UpdateExpression": "SET #state = :running, #updated_at = :now "
            "ADD done_chunks :keys, rows_done :rows, chunks_done :one",
            "ExpressionAttributeNames": {"#state": "state", "#updated_at": "updated_at"},
            "ExpressionAttributeValues": _serialize(
                {":running": "running", ":now": _now(), ":key": chunk.key, ":keys": {chunk.key},
                 ":rows": chunk.rows, ":one": 1}
            ),  # fmt: skip
        }

    def _already_written(self, exc: BaseException, count: int) -> bool:
        """The transaction was cancelled only because the request already records the chunk."""
        response = getattr(exc, "response", {}) or {}
        reasons = [r.get("Code") for r in response.get("CancellationReasons", [])]
        return (
            bool(self.requests)
            and len(reasons) == count
            and reasons[-1] == "ConditionalCheckFailed"
            and all(code in (None, "None") for code in reasons[:-1])
        )


def _serialize(values: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {k: serializer.serialize(_value(v) if not isinstance(v, set) else v) for k, v in values.items()}
