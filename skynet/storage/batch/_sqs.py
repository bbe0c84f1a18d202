"""SQS: messages that point at S3 objects in (one request each), result messages out.

Input messages are JSON. Their S3 objects are named by the keys given (``s3_uri`` by default,
the seed's ``REQUEST_S3URI_KEYS``: a URI or a list of them, objects or prefixes) or come as S3
event notifications (``Records[].s3``, also inside an SNS envelope). A message's
``request_id`` (else its message id) is its request id. A message is deleted once its results
are all written; on failure its visibility timeout is set to a few seconds, so it comes back
(a redrive policy on the queue moves it to a dead-letter queue after repeated failures).

Output messages carry one chunk each, or, when the chunk's JSON exceeds what a message
holds, a few parts of it: ``{"id", "request_id", "source", "first_row", "part", "parts",
"records": [...]}``. ``id`` (``<request>/<chunk>/<part>``) is stable, so a consumer drops a
message it has seen (a retried chunk on a standard queue); on a FIFO queue it is also the
deduplication id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import unquote_plus

from skynet.errors import DataError, SkynetError, StorageError, brief
from skynet.storage.batch._aws import AwsOptions, aws_errors
from skynet.storage.batch._base import REQUEST_ID, BatchInput, BatchOutput, Claim, ResultChunk
from skynet.storage.batch._s3 import s3_sources

__all__ = ["SqsInput", "SqsOutput", "queue_url", "MAX_MESSAGE_BYTES"]

#: The most bytes skynet puts in one message body (SQS takes 256 KiB with the attributes).
MAX_MESSAGE_BYTES = 250_000


def queue_url(url: str, aws: AwsOptions) -> str:
    """The queue URL of ``sqs://NAME`` (looked up) or of a queue URL itself."""
    if url.startswith("sqs://"):
        name = url[len("sqs://") :].strip("/")
        if not name:
            raise StorageError("batch[sqs]", f"{url!r} names no queue (expected sqs://QUEUE_NAME)")
        return str(aws.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])
    return url


class SqsInput(BatchInput):
    """Messages of a queue, each naming S3 objects to predict; at most ``max_messages``.

    Args:
        url: ``sqs://NAME`` or the queue URL.
        aws: where AWS is.
        s3_uri_keys: the body keys that hold S3 URIs.
        max_messages: stop after this many messages (the seed's ``MAX_PROCESSING_REQUESTS``).
        processing_timeout: seconds a received message stays hidden while it is processed.
        retry_after: seconds after which a failed message becomes visible again.
        wait_seconds: long-poll time of each receive; an empty receive ends the job.
    """

    adapter = "batch[sqs]"
    continue_after_failure = True

    def __init__(self, url: str, aws: AwsOptions, s3_uri_keys: Sequence[str] = ("s3_uri",),
                 max_messages: int = 50, processing_timeout: int = 600, retry_after: int = 5,
                 wait_seconds: int = 1) -> None:  # fmt: skip
        self.url, self.aws = url, aws
        self.s3_uri_keys = tuple(s3_uri_keys)
        self.max_messages, self.processing_timeout = max_messages, processing_timeout
        self.retry_after, self.wait_seconds = retry_after, wait_seconds

    def _driver_errors(self) -> tuple[type[BaseException], ...]:
        return aws_errors()

    def _claims(self) -> Iterator[Claim]:
        client = self.aws.client("sqs")
        queue = queue_url(self.url, self.aws)
        for _ in range(self.max_messages):
            received = client.receive_message(
                QueueUrl=queue, MaxNumberOfMessages=1, WaitTimeSeconds=self.wait_seconds,
                VisibilityTimeout=self.processing_timeout, MessageAttributeNames=["All"],
            ).get("Messages", [])  # fmt: skip
            if not received:
                return
            yield self._claim(queue, received[0])

    def _claim(self, queue: str, message: dict[str, Any]) -> Claim:
        client, handle = self.aws.client("sqs"), message["ReceiptHandle"]
        message_id = str(message["MessageId"])

        def done() -> None:
            with self._wrap(f"cannot delete message {message_id}"):
                client.delete_message(QueueUrl=queue, ReceiptHandle=handle)

        def failed(_: BaseException) -> None:
            with self._wrap(f"cannot return message {message_id} to the queue"):
                client.change_message_visibility(
                    QueueUrl=queue, ReceiptHandle=handle, VisibilityTimeout=self.retry_after
                )

        claim = Claim([], label=f"message {message_id}", on_done=done, on_failed=failed)
        try:
            body = _body(message.get("Body", ""), message_id)
            claim.request_id = _request_id(body, message_id)
            for uri in self._uris(body, message_id):
                claim.sources += s3_sources(uri, self.aws)
        except SkynetError as exc:
            claim.error = exc
        except aws_errors() as exc:
            claim.error = StorageError(self.adapter, f"message {message_id}: {exc}")
        return claim

    def _uris(self, body: dict[str, Any], message_id: str) -> list[str]:
        uris: list[str] = []
        for key in self.s3_uri_keys:
            value = body.get(key)
            values = value if isinstance(value, list) else [value] if value is not None else []
            uris += [v for v in values if isinstance(v, str) and v.startswith("s3://")]
        for record in body.get("Records") or []:
            s3 = record.get("s3") if isinstance(record, dict) else None
            if isinstance(s3, dict):  # an S3 event notification: keys arrive URL-encoded
                uris.append(f"s3://{s3['bucket']['name']}/{unquote_plus(s3['object']['key'])}")
        if not uris:
            raise DataError(
                f"message {message_id}: no s3:// URI under {', '.join(self.s3_uri_keys)} "
                f"and no S3 event record in {brief(body, 120)}"
            )
        return uris


def _body(text: str, message_id: str) -> dict[str, Any]:
    try:
        body = json.loads(text)
        if isinstance(body, dict) and "TopicArn" in body and isinstance(body.get("Message"), str):
            body = json.loads(body["Message"])  # an SNS envelope
    except json.JSONDecodeError:
        raise DataError(f"message {message_id}: body is not JSON ({brief(text, 80)})") from None
    if not isinstance(body, dict):
        raise DataError(f"message {message_id}: body is not a JSON object ({brief(body, 80)})")
    return body


def _request_id(body: dict[str, Any], message_id: str) -> str:
    request_id = str(body.get("request_id") or message_id)
    if not REQUEST_ID.match(request_id):
        raise DataError(f"message {message_id}: request_id {brief(request_id, 80)} is not a plain id")
    return request_id


class SqsOutput(BatchOutput):
    """One message per chunk (or per part of a big chunk); see the module docstring."""

    adapter = "batch[sqs]"

    def __init__(self, url: str, aws: AwsOptions) -> None:
        self.url, self.aws = url, aws
        self._queue: str | None = None
        self._fifo = False

    def describe(self) -> str:
        return self.url

    def _driver_errors(self) -> tuple[type[BaseException], ...]:
        return aws_errors()

    def _check(self) -> None:
        self._queue = queue_url(self.url, self.aws)
        attributes = self.aws.client("sqs").get_queue_attributes(
            QueueUrl=self._queue, AttributeNames=["FifoQueue"]
        )
        self._fifo = attributes.get("Attributes", {}).get("FifoQueue") == "true"

    def _write(self, chunk: ResultChunk) -> None:
        if self._queue is None:
            self._check()
        rows = chunk.frame.to_json(orient="records", lines=True, date_format="iso").splitlines()
        parts = _pack(rows, chunk.key)
        client = self.aws.client("sqs")
        for number, part in enumerate(parts, 1):
            message_id = f"{chunk.request_id}/{chunk.key}/{number}"
            head = json.dumps({"id": message_id, "request_id": chunk.request_id, "source": chunk.source,
                               "first_row": chunk.first_row, "part": number, "parts": len(parts)})  # fmt: skip
            options: dict[str, Any] = {}
            if self._fifo:
                options = {
                    "MessageGroupId": chunk.request_id,
                    "MessageDeduplicationId": hashlib.sha256(message_id.encode()).hexdigest()[:64],
                }
            client.send_message(
                QueueUrl=self._queue,
                MessageBody=f'{head[:-1]}, "records": [{",".join(part)}]}}',
                MessageAttributes={
                    "request_id": {"DataType": "String", "StringValue": chunk.request_id},
                    "id": {"DataType": "String", "StringValue": message_id},
                },
                **options,
            )


def _pack(rows: list[str], chunk: str) -> list[list[str]]:
    """Rows (JSON texts) in as few parts as keep each message under :data:`MAX_MESSAGE_BYTES`."""
    budget = MAX_MESSAGE_BYTES - 1_000  # the head and the attributes
    parts: list[list[str]] = [[]]
    size = 0
    for row in rows:
        length = len(row.encode()) + 1
        if length > budget:
            raise DataError(f"chunk {chunk}: one result row is {length:,} bytes, more than a message holds")
        if size + length > budget and parts[-1]:
            parts.append([])
            size = 0
        parts[-1].append(row)
        size += length
    return parts
