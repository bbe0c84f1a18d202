"""run_batch on AWS, against moto's standalone server: SQS messages pointing at S3 objects in,
DynamoDB request state and results out; S3 in, S3 CSV out. A failed message comes back."""

from __future__ import annotations

import io
import json
import time
import uuid
from datetime import date

import pandas as pd
import pytest

from skynet.api.batch import BatchRequest, run_batch
from skynet.config import load_settings
from skynet.errors import StorageError
from skynet.tests.conftest import aws_endpoint

pytestmark = pytest.mark.integration


@pytest.fixture
def aws_settings(monkeypatch, data_dir):
    """Settings pointing skynet's AWS clients at moto (``aws.endpoint_url``), dummy credentials."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("SKYNET_AWS_ENDPOINT_URL", aws_endpoint())
    return load_settings(None)


@pytest.fixture
def world(aws_settings):
    """A bucket, a queue and the two DynamoDB tables, all of this test's own; removed afterwards."""
    from skynet.storage.batch import AwsOptions

    aws = AwsOptions(aws_settings.aws.endpoint_url, aws_settings.aws.region)
    name = f"skynet-run-{uuid.uuid4().hex[:10]}"
    s3, sqs, ddb = aws.client("s3"), aws.client("sqs"), aws.client("dynamodb")
    s3.create_bucket(Bucket=name)
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    for table, keys in ((f"{name}-req", ["request_id"]), (f"{name}-res", ["request_id", "row_id"])):
        ddb.create_table(
            TableName=table,
            KeySchema=[
                {"AttributeName": k, "KeyType": t} for k, t in zip(keys, ["HASH", "RANGE"], strict=False)
            ],
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
            BillingMode="PAY_PER_REQUEST",
        )
    yield {"aws": aws, "bucket": name, "queue": queue, "requests": f"{name}-req", "results": f"{name}-res"}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)
    sqs.delete_queue(QueueUrl=queue)
    for table in (f"{name}-req", f"{name}-res"):
        ddb.delete_table(TableName=table)


def _upload(world, key, frame):
    body = io.BytesIO()
    frame.to_parquet(body) if key.endswith(".parquet") else body.write(frame.to_csv(index=False).encode())
    world["aws"].client("s3").put_object(Bucket=world["bucket"], Key=key, Body=body.getvalue())


def _scan(world, table):
    return world["aws"].client("dynamodb").scan(TableName=world[table], ConsistentRead=True)["Items"]


def test_sqs_to_dynamodb_with_a_failed_message_coming_back(
    aws_settings, world, saved_user_model, comfort_rows
):
    bucket, queue = world["bucket"], world["queue"]
    _upload(world, "in/a.csv", comfort_rows.iloc[:150])
    _upload(world, "in/b.parquet", comfort_rows.iloc[150:])
    sqs = world["aws"].client("sqs")
    for rid, uri in (("job-1", "in/a.csv"), ("job-2", "in/b.parquet"), ("job-3", "in/missing.csv")):
        sqs.send_message(
            QueueUrl=queue, MessageBody=json.dumps({"request_id": rid, "s3_uri": f"s3://{bucket}/{uri}"})
        )
    request = BatchRequest("user_model", queue, output=f"dynamodb://{world['results']}?requests={world['requests']}",
                           chunk_size=500, retry_after=1, date=date(2027, 1, 5))  # fmt: skip
    with pytest.raises(
        StorageError,
        match=r"1 of 3 requests failed \(each returns to the queue\); first, "
        r"message .*: no .parquet or .csv objects at s3://.*/in/missing.csv",
    ):
        run_batch(aws_settings, request, progress=False)  # fmt: skip
    states = {i["request_id"]["S"]: i for i in _scan(world, "requests")}
    assert sorted(states) == ["job-1", "job-2"]  # job-3 never started: nothing written for it
    assert [states[j]["state"]["S"] for j in ("job-1", "job-2")] == ["done", "done"]
    assert [states[j]["rows_done"]["N"] for j in ("job-1", "job-2")] == ["150", "90"]
    assert states["job-1"]["chunks_done"]["N"] == "2"  # 150 rows in chunks of at most 99: state per chunk
    results = _scan(world, "results")
    assert len(results) == 240 and {r["request_id"]["S"] for r in results} == {"job-1", "job-2"}
    # the two done messages are deleted; the failed one is back after its timeout, alone
    deadline, back = time.monotonic() + 15, []
    while not back and time.monotonic() < deadline:
        back = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", [])
    assert [json.loads(m["Body"])["request_id"] for m in back] == ["job-3"]


def test_s3_prefix_to_s3_csv(aws_settings, world, saved_user_model, comfort_rows):
    _upload(world, "in/a.parquet", comfort_rows.iloc[:100])
    _upload(world, "in/b.csv", comfort_rows.iloc[100:])
    bucket = world["bucket"]
    request = BatchRequest("user_model", f"s3://{bucket}/in/", output=f"s3://{bucket}/out", chunk_size=64,
                           request_id="nightly-1")  # fmt: skip
    summary = run_batch(aws_settings, request, progress=False)
    assert (summary["rows"], summary["chunks"]) == (240, 2 + 3)
    s3 = world["aws"].client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="out/nightly-1/")["Contents"]]
    frame = pd.concat(pd.read_csv(s3.get_object(Bucket=bucket, Key=k)["Body"]) for k in keys)
    assert len(keys) == 5 and len(frame) == 240 and frame["row_id"].is_unique
    assert {"expected", "median", "p_-3", "p_3", "device_id"} <= set(frame.columns)
