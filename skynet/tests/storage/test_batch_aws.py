"""Batch I/O on AWS, against moto's standalone server on loopback (real HTTP, no patched client):
S3 objects in and CSV out, SQS messages in (with visibility on failure) and out, DynamoDB
request state and results (one transaction per chunk)."""

from __future__ import annotations

import gzip
import io
import json
import time
import uuid

import numpy as np
import pandas as pd
import pytest

from skynet.errors import DataError, StorageError
from skynet.storage.batch import AwsOptions, open_input, open_output
from skynet.tests.conftest import aws_endpoint
from skynet.tests.storage.test_batch_io import results

pytestmark = pytest.mark.integration


@pytest.fixture
def aws(monkeypatch):
    """AwsOptions pointing at moto, with dummy credentials in the environment."""
    endpoint = aws_endpoint()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return AwsOptions(endpoint, "us-east-1")


@pytest.fixture
def name():
    """A name of this test's own on the shared moto server."""
    return f"skynet-batch-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def bucket(aws, name):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=name)
    yield name
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


@pytest.fixture
def queue(aws, name):
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    yield url
    sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def tables(aws, name):
    """(requests, results) DynamoDB tables shaped like the seed's."""
    ddb = aws.client("dynamodb")
    requests, results_table = f"{name}-requests", f"{name}-results"
    ddb.create_table(TableName=requests, KeySchema=[{"AttributeName": "request_id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "request_id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")  # fmt: skip
    ddb.create_table(TableName=results_table,
                     KeySchema=[{"AttributeName": "request", "KeyType": "HASH"},
                                {"AttributeName": "row", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "request", "AttributeType": "S"},
                                           {"AttributeName": "row", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")  # fmt: skip
    yield requests, results_table
    for table in (requests, results_table):
        ddb.delete_table(TableName=table)


def _put_frame(aws, bucket, key, frame):
    body = io.BytesIO()
    if key.endswith(".parquet"):
        frame.to_parquet(body)
    elif key.endswith(".gz"):
        body.write(gzip.compress(frame.to_csv(index=False).encode()))
    else:
        body.write(frame.to_csv(index=False).encode())
    aws.client("s3").put_object(Bucket=bucket, Key=key, Body=body.getvalue())


FRAME = pd.DataFrame({"temperature": np.arange(12.0), "device_id": [f"d{i}" for i in range(12)]})


# -- S3 ------------------------------------------------------------------------------------------
def test_s3_prefix_input_reads_parquet_and_csv_objects(aws, bucket):
    _put_frame(aws, bucket, "in/a.parquet", FRAME.iloc[:7])
    _put_frame(aws, bucket, "in/b.csv.gz", FRAME.iloc[7:])
    _put_frame(aws, bucket, "in/notes.txt", FRAME)  # not data: skipped
    _put_frame(aws, bucket, "inbox/other.csv", FRAME)  # another "folder" starting with "in"
    (claim,) = list(open_input(f"s3://{bucket}/in", aws=aws).claims())
    assert [s.key for s in claim.sources] == [f"s3://{bucket}/in/a.parquet", f"s3://{bucket}/in/b.csv.gz"]
    assert [s.rows() for s in claim.sources] == [7, None]  # parquet: from its footer alone
    assert all(s.columns() == ["temperature", "device_id"] for s in claim.sources)
    frames = [f for s in claim.sources for f in s.chunks(3)]
    assert [len(f) for f in frames] == [3, 3, 1, 3, 2]
    pd.testing.assert_frame_equal(pd.concat(frames, ignore_index=True), FRAME)
    (one,) = list(open_input(f"s3://{bucket}/in/b.csv.gz", aws=aws).claims())
    assert len(one.sources) == 1


def test_s3_input_problems_are_one_line(aws, bucket):
    with pytest.raises(StorageError, match=r"batch\[s3\]: no .parquet or .csv objects at"):
        list(open_input(f"s3://{bucket}/nothing-here", aws=aws).claims())
    with pytest.raises(StorageError, match=r"batch\[s3\]: cannot list the input: NoSuchBucket"):
        list(open_input(f"s3://{bucket}-missing/x", aws=aws).claims())
    aws.client("s3").put_object(Bucket=bucket, Key="bad.parquet", Body=b"not a parquet file at all")
    (claim,) = list(open_input(f"s3://{bucket}/bad.parquet", aws=aws).claims())
    with pytest.raises(DataError, match="not a parquet file"):
        claim.sources[0].columns()


def test_s3_csv_output_one_object_per_chunk_rerun_replaces(aws, bucket):
    out = open_output(f"s3://{bucket}/results/", aws=aws)
    out.check()
    for first in (0, 4):
        out.write(results("r1", "src", first, 4))
    for first in (0, 3, 6):  # a re-run with another chunk size
        out.write(results("r1", "src", first, 3 if first < 6 else 2, value=10.0))
    s3 = aws.client("s3")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="results/r1/")["Contents"])
    assert len(keys) == 3 and all(k.endswith(".csv") for k in keys)
    frame = pd.concat(pd.read_csv(s3.get_object(Bucket=bucket, Key=k)["Body"]) for k in keys)
    assert sorted(frame["p"]) == [10.0 + r for r in range(8)] and frame["row_id"].is_unique
    with pytest.raises(StorageError, match="NoSuchBucket|404|Not Found"):
        open_output(f"s3://{bucket}-missing/x", aws=aws).check()


# -- SQS -----------------------------------------------------------------------------------------
def _send(aws, queue, body):
    aws.client("sqs").send_message(
        QueueUrl=queue, MessageBody=body if isinstance(body, str) else json.dumps(body)
    )


def test_sqs_input_claims_messages_pointing_at_s3(aws, bucket, queue):
    _put_frame(aws, bucket, "a.csv", FRAME.iloc[:5])
    _put_frame(aws, bucket, "b/c.parquet", FRAME.iloc[5:])
    _send(aws, queue, {"request_id": "req-1", "s3_uri": [f"s3://{bucket}/a.csv", f"s3://{bucket}/b/"]})
    event = {"Records": [{"s3": {"bucket": {"name": bucket}, "object": {"key": "b/c.parquet"}}}]}
    _send(aws, queue, {"TopicArn": "arn:aws:sns:x", "Message": json.dumps(event)})  # S3 -> SNS -> SQS
    _send(aws, queue, "not json")
    claims = list(open_input(queue, aws=aws, sqs={"retry_after": 0, "max_messages": 10}).claims())
    assert len(claims) == 3
    first, second, bad = sorted(claims, key=lambda c: (c.error is not None, c.request_id != "req-1"))
    assert first.request_id == "req-1" and [s.key for s in first.sources] == [
        f"s3://{bucket}/a.csv", f"s3://{bucket}/b/c.parquet"]  # fmt: skip
    assert [s.key for s in second.sources] == [f"s3://{bucket}/b/c.parquet"] and second.request_id
    assert isinstance(bad.error, DataError) and "body is not JSON" in str(bad.error)


def test_sqs_message_is_deleted_when_done_and_comes_back_after_failure(aws, bucket, queue):
    _put_frame(aws, bucket, "a.csv", FRAME)
    _send(aws, queue, {"s3_uri": f"s3://{bucket}/a.csv"})
    _send(aws, queue, {"s3_uri": f"s3://{bucket}/a.csv", "request_id": "fails"})
    source = open_input(f"sqs://{queue.rsplit('/', 1)[1]}", aws=aws,
                        sqs={"retry_after": 1, "max_messages": 2, "processing_timeout": 60})  # fmt: skip
    for claim in source.claims():
        if claim.request_id == "fails":
            claim.failed(RuntimeError("predicting failed"))
        else:
            claim.done()
    sqs = aws.client("sqs")
    # hidden for the processing timeout no more: after ~1 s the failed one is back, alone
    deadline, back = time.monotonic() + 10, []
    while not back and time.monotonic() < deadline:
        back = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", [])
    assert [json.loads(m["Body"])["request_id"] for m in back] == ["fails"]
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=back[0]["ReceiptHandle"])
    assert not sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages")


def test_sqs_message_without_an_s3_uri_is_a_claim_error(aws, queue):
    _send(aws, queue, {"something": "else"})
    _send(aws, queue, {"s3_uri": "s3://x/y.csv", "request_id": "has spaces"})
    claims = list(open_input(queue, aws=aws, sqs={"max_messages": 5}).claims())
    errors = " | ".join(str(c.error) for c in claims)
    assert len(claims) == 2 and all(isinstance(c.error, DataError) and not c.sources for c in claims)
    assert "no s3:// URI under s3_uri" in errors and "request_id 'has spaces' is not a plain id" in errors


def test_sqs_output_sends_chunks_and_splits_big_ones(aws, queue):
    out = open_output(queue, aws=aws)
    out.check()
    out.write(results("r1", "src", 0, 3))
    big = results("r1", "src", 3, 40)
    big.frame["blob"] = "x" * 20_000  # ~800 KB of JSON: more than one message holds
    out.write(big)
    sqs, bodies = aws.client("sqs"), []
    while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
        "Messages"
    ):
        bodies += [json.loads(m["Body"]) for m in batch]
    assert len({b["id"] for b in bodies}) == len(bodies) >= 5
    rows = [r for b in bodies for r in b["records"]]
    assert sorted(r["source_row"] for r in rows) == list(range(43))
    assert {b["parts"] for b in bodies if b["first_row"] == 3} == {len(bodies) - 1}


def test_fifo_output_deduplicates_a_resent_chunk(aws, name):
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=f"{name}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    try:
        out = open_output(url, aws=aws)
        chunk = results("r1", "src", 0, 3)
        out.write(chunk)
        out.write(chunk)  # a retry: the same deduplication id
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        assert len(got) == 1
    finally:
        sqs.delete_queue(QueueUrl=url)


# -- DynamoDB ------------------------------------------------------------------------------------
def _items(aws, table):
    ddb = aws.client("dynamodb")
    return ddb.scan(TableName=table, ConsistentRead=True)["Items"]


def test_dynamodb_request_state_and_results_per_chunk(aws, tables):
    requests, results_table = tables
    out = open_output(f"dynamodb://{results_table}?requests={requests}", aws=aws)
    assert out.max_rows == 99
    out.check()
    out.start("r1", {"model_id": "m1", "input": "in", "output": "out"})
    out.write(results("r1", "src", 0, 4))
    (state,) = _items(aws, requests)
    assert (
        state["state"]["S"] == "running" and state["rows_done"]["N"] == "4" and state["model_id"]["S"] == "m1"
    )
    out.write(results("r1", "src", 0, 4))  # written again (a lost answer, a re-run): nothing changes
    out.write(results("r1", "src", 4, 3))
    out.finish("r1", {"rows": 7})
    (state,) = _items(aws, requests)
    assert (state["state"]["S"], state["rows_done"]["N"], state["chunks_done"]["N"]) == ("done", "7", "2")
    items = sorted(_items(aws, results_table), key=lambda i: i["row"]["S"])
    assert len(items) == 7 and items[0]["request"]["S"] == "r1" and items[0]["p"]["N"] == "1.0"
    assert items[0]["device_id"]["S"] == "d0" and items[0]["timestamp"]["S"].startswith("2025-01-01T00:00")


def test_dynamodb_chunk_is_all_or_nothing(aws, tables):
    requests, results_table = tables
    out = open_output(f"dynamodb://{results_table}?requests={requests}", aws=aws)
    out.start("r1", {})
    bad = results("r1", "src", 0, 5)
    bad.frame["blob"] = ["small"] * 4 + ["x" * 500_000]  # the 5th item is over DynamoDB's 400 KB
    with pytest.raises(StorageError, match=r"batch\[dynamodb\]: cannot write chunk"):
        out.write(bad)
    assert _items(aws, results_table) == []
    (state,) = _items(aws, requests)
    assert "rows_done" not in state
    out.fail("r1", "chunk too big")
    (state,) = _items(aws, requests)
    assert state["state"]["S"] == "error" and state["error"]["S"] == "chunk too big"


def test_dynamodb_tables_of_the_wrong_shape_are_refused(aws, tables):
    requests, results_table = tables
    with pytest.raises(
        StorageError, match=r"needs a string partition key \(request id\) and a string sort key"
    ):
        open_output(f"dynamodb://{requests}", aws=aws).check()
    with pytest.raises(StorageError, match="needs exactly one key"):
        open_output(f"dynamodb://{results_table}?requests={results_table}", aws=aws).check()
    with pytest.raises(StorageError, match="ResourceNotFoundException"):
        open_output(f"dynamodb://{results_table}-nope", aws=aws).check()


def test_per_service_endpoints_come_before_the_common_one(aws, bucket):
    """The seed's S3_ENDPOINT & co.: one service elsewhere, the others on aws.endpoint_url."""
    split = AwsOptions("http://127.0.0.1:9", "us-east-1", endpoints=(("s3", aws.endpoint_url),))
    assert (split.endpoint("s3"), split.endpoint("sqs")) == (aws.endpoint_url, "http://127.0.0.1:9")
    _put_frame(aws, bucket, "x.csv", FRAME)
    (claim,) = list(open_input(f"s3://{bucket}/x.csv", aws=split).claims())  # reached through moto
    assert claim.sources[0].columns() == ["temperature", "device_id"]
