"""Models across hosts (issue 12 item 3): trained on one host (one data directory) and loaded on
another that shares only the registry (PostgreSQL) and the artifact store (S3 on moto's
standalone server); the estimation model through the same registry, data sets and gate."""

from __future__ import annotations

import json

import pytest

from skynet.storage.artifacts import sha256_of
from skynet.storage.registry import open_registry
from skynet.tests.cli.test_registry import BEFORE_WINDOW, invoke_json, train
from skynet.tests.cli.test_root import run_main
from skynet.tests.cli.test_user_model import imported  # noqa: F401 - host A's store
from skynet.tests.storage.conftest import drop_schema, server_url
from skynet.tests.storage.test_artifacts import empty_bucket, s3_bucket


@pytest.fixture
def shared(monkeypatch):
    """(registry URL, endpoint, bucket): a PostgreSQL registry and an S3 store every host is configured with."""
    url = server_url("postgresql")
    drop_schema(url)
    endpoint, bucket = s3_bucket(monkeypatch)
    monkeypatch.setenv("SKYNET_MODELS_REGISTRY_URL", url)
    monkeypatch.setenv("SKYNET_MODELS_STORE", f"s3://{bucket}/models")
    monkeypatch.setenv("SKYNET_AWS_ENDPOINT_URL", endpoint)
    yield url, endpoint, bucket
    empty_bucket(endpoint, bucket)
    drop_schema(url)


@pytest.mark.integration
@pytest.mark.usefixtures("imported")
def test_a_model_trained_on_one_host_loads_on_another(
    data_dir, shared, runner, cli, tmp_path, monkeypatch, capsys
):
    url, endpoint, bucket = shared
    name = train(runner, cli, *BEFORE_WINDOW, "--alias", "production")  # on train-1
    assert not (data_dir / "models").exists()  # nothing went to a local folder
    with open_registry(url) as registry:
        version = registry.get(name)
    assert version.artifact_uri == f"s3://{bucket}/models/{name}"
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == [f"models/{name}/manifest.json", f"models/{name}/model.npz"]

    pred = tmp_path / "pred-1"  # another host: its own data directory, no records, no models
    monkeypatch.setenv("SKYNET_GENERAL_DATA_DIR", str(pred))
    out = invoke_json(runner, cli, "user_model", "predict", "--temperature", "25")
    assert out["model"] == name  # user_model@production, fetched from S3
    cached = pred / "cache" / "models" / version.sha256
    assert sha256_of(cached / "model.npz") == version.sha256
    rows = invoke_json(runner, cli, "models", "list")
    assert [(r["name"], r["status"], r["aliases"]) for r in rows] == [(name, "ok", "production")]

    (cached / "model.npz").write_bytes(b"tampered on the host")  # a damaged cache entry is fetched anew
    assert invoke_json(runner, cli, "user_model", "predict", "--temperature", "25")["model"] == name
    assert sha256_of(cached / "model.npz") == version.sha256

    # an artifact changed in the store is refused on download, and nothing unverified is cached
    s3.put_object(Bucket=bucket, Key=f"models/{name}/model.npz", Body=b"not the registered model")
    monkeypatch.setenv("SKYNET_GENERAL_DATA_DIR", str(tmp_path / "pred-2"))
    code, _, err = run_main(["user_model", "predict", "--temperature", "25"], capsys)
    assert code == 1 and err.count("\n") == 1
    assert (
        f"user_model@production ({name}) cannot be used: " in err and "does not match the registry's" in err
    )
    assert list((tmp_path / "pred-2" / "cache" / "models").iterdir()) == []


FLEET = ["sim", "generate", "--devices", "3", "--days", "2", "--seed", "4", "--climate", "hot-humid",
         "--no-progress"]  # fmt: skip


def test_estimation_registers_retrains_from_its_data_set_and_passes_the_gate(data_dir, runner, cli):
    assert runner.invoke(cli, FLEET).exit_code == 0

    def train_estimation(*args):
        result = runner.invoke(cli, ["estimation", "train", "--epochs", "3", "--no-progress", "--format", "json",
                                     *args])  # fmt: skip
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)["model"]

    first = train_estimation("--end", "2025-07-02T12:00", "--holdout-days", "0.25")
    other = train_estimation("--end", "2025-07-02T12:00", "--holdout-days", "0.25", "--device", "sim-4-0000",
                             "--alias", "candidate")  # fmt: skip
    shown = invoke_json(runner, cli, "models", "show", first)
    lineage = shown["registry"]["lineage"]
    assert (
        lineage["selection"]["end"] == "2025-07-02T06:00:00" and lineage["selection"]["holdout_days"] == 0.25
    )
    assert lineage["train_end"] < "2025-07-02T06:00:00" and shown["lineage"] == lineage
    assert train_estimation("--dataset", lineage["dataset"]["path"]) == first

    window = ["--start", "2025-07-02T06:00", "--end", "2025-07-03"]
    result = invoke_json(runner, cli, "models", "compare", first, "estimation@candidate", *window)
    assert [m["name"] for m in result["models"]] == [first, other] and result["window"]["rows"] > 100
    assert {r["metric"] for r in result["table"]} == {"mae", "rmse", "mae_humidity", "rmse_humidity"}
    assert all(0 < m["metrics"]["mae"] < 10 for m in result["models"])
    gate = invoke_json(runner, cli, "models", "promote-if-better", "estimation@candidate", *window)
    assert gate["promoted"] is True and gate["current"] is None  # the first production model
    again = invoke_json(runner, cli, "models", "promote-if-better", first, "--margin", "100", *window)
    assert (
        again["promoted"] is False
        and again["current"] == other
        and "not better by the margin 100" in again["reason"]
    )
