"""run_batch end to end: predictors by reference, inputs and outputs by URL, engines, retries,
re-runs, bad input (nothing written), the seed's environment variables."""

from __future__ import annotations

import logging
from datetime import date

import numpy as np
import pandas as pd
import pytest

from skynet.api.batch import BatchRequest, batch_request, load_predictor, run_batch
from skynet.errors import ConfigError, DataError, ModelError, SkynetError, StorageError
from skynet.models.predictors import UserModelPredictor
from skynet.storage.batch import register_output
from skynet.storage.batch._files import ParquetFolderOutput

PLUGIN = "skynet.tests.api.plugin_predictors"
DAY = date(2027, 1, 5)


def _folder(settings, model: str):
    return settings.data_dir / "models" / "predictions" / f"{model}-{DAY.isoformat()}"


def _read(path) -> pd.DataFrame:
    return pd.read_parquet(path).sort_values(["source", "source_row"], ignore_index=True)


def test_files_to_the_predictions_folder(settings, saved_user_model, comfort_files, comfort_rows,
                                         fitted_user_model):  # fmt: skip
    summary = run_batch(settings, BatchRequest("user_model", str(comfort_files), chunk_size=64, date=DAY),
                        progress=False)  # fmt: skip
    folder = _folder(settings, saved_user_model)
    assert summary["output"] == str(folder) and summary["model"] == saved_user_model
    assert (summary["rows"], summary["chunks"]) == (240, 2 + 2 + 1)  # 100, 80 and 60 rows by 64
    assert summary["requests"][0]["request_id"] == f"{saved_user_model}-2027-01-05"
    result = _read(folder)
    assert len(result) == 240 and result["row_id"].is_unique
    # the numbers are the model's own, row for row (sources in name order: a, b, c)
    expected = UserModelPredictor(fitted_user_model).predict_frame(comfort_rows)
    np.testing.assert_allclose(result["expected"], expected["expected"])
    assert result["device_id"].tolist() == comfort_rows["device_id"].tolist()
    # a re-run of the same request replaces its parts, even with another chunk size
    run_batch(
        settings, BatchRequest("user_model", str(comfort_files), chunk_size=50, date=DAY), progress=False
    )
    again = _read(folder)
    assert len(again) == 240 and again["row_id"].is_unique


def test_model_by_name_and_reference_passed_through(settings, saved_user_model):
    predictor = load_predictor(settings, saved_user_model)
    assert isinstance(predictor, UserModelPredictor) and predictor.model_id == saved_user_model
    assert load_predictor(settings, "user_model", model=saved_user_model).model_id == saved_user_model
    # TYPE@ALIAS goes to the model resolver as given (the registry resolves aliases)
    with pytest.raises(SkynetError, match="user_model@production"):
        load_predictor(settings, "user_model@production")


def test_third_party_predictor_by_module_and_class(settings, comfort_files):
    summary = run_batch(settings, BatchRequest(f"{PLUGIN}:Doubler", str(comfort_files / "a.parquet"), date=DAY),
                        progress=False)  # fmt: skip
    result = _read(_folder(settings, "doubler"))
    source = pd.read_parquet(comfort_files / "a.parquet")
    assert summary["rows"] == 100 and result["prediction"].tolist() == (source["temperature"] * 2).tolist()
    with pytest.raises(DataError, match="loads its own model: --model does not apply"):
        load_predictor(settings, f"{PLUGIN}:Doubler", model="user_model-x")
    with pytest.raises(ModelError, match="cannot be built: FileNotFoundError: weights.bin"):
        load_predictor(settings, f"{PLUGIN}:Unbuildable")


def test_bad_input_writes_nothing(settings, saved_user_model, comfort_files, comfort_rows):
    """One file of three lacks a column: one error naming it, and no result of the good ones."""
    comfort_rows.drop(columns=["temperature"]).to_parquet(comfort_files / "d.parquet")
    with pytest.raises(DataError, match=r"d\.parquet lacks the column\(s\) temperature"):
        run_batch(settings, BatchRequest("user_model", str(comfort_files), date=DAY), progress=False)
    assert not (settings.data_dir / "models" / "predictions").exists()
    with pytest.raises(ModelError, match="unknown predictor 'nope'"):
        run_batch(settings, BatchRequest("nope", str(comfort_files), date=DAY), progress=False)
    with pytest.raises(StorageError, match="does not exist"):
        run_batch(settings, BatchRequest("user_model", str(comfort_files / "zz"), date=DAY), progress=False)
    assert not (settings.data_dir / "models" / "predictions").exists()


class FlakyFolder(ParquetFolderOutput):
    """A parquet folder whose first write of every chunk fails, as over a bad network."""

    adapter = "batch[flaky]"
    seen: set[str] = set()
    fail_always: bool = False

    def _write(self, chunk):
        if self.fail_always and chunk.first_row >= 64:
            raise OSError("connection reset by peer")
        if chunk.key not in self.seen:
            self.seen.add(chunk.key)
            raise OSError("connection reset by peer")
        super()._write(chunk)


@pytest.fixture
def flaky(tmp_path):
    FlakyFolder.seen, FlakyFolder.fail_always = set(), False
    register_output("flaky", lambda url, **_: FlakyFolder(url.split("://", 1)[1]))
    return f"flaky://{tmp_path}/flaky"


def test_a_failed_chunk_write_is_retried(settings, comfort_files, flaky, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    request = BatchRequest(f"{PLUGIN}:Doubler", str(comfort_files), output=flaky, chunk_size=64, date=DAY)
    summary = run_batch(settings, request, progress=False)
    assert summary["rows"] == 240 and len(FlakyFolder.seen) == summary["chunks"] == 5
    assert caplog.text.count("attempt 1 of 3 failed") == 5
    assert len(_read(tmp_path / "flaky")) == 240


def test_a_chunk_that_keeps_failing_stops_the_job_and_a_rerun_completes(
    settings, comfort_files, flaky, tmp_path
):
    FlakyFolder.fail_always = True
    request = BatchRequest(f"{PLUGIN}:Doubler", str(comfort_files / "a.parquet"), output=flaky, chunk_size=64,
                           date=DAY, attempts=2)  # fmt: skip
    with pytest.raises(
        StorageError, match=r"batch\[flaky\]: .*connection reset by peer \(gave up after 2 attempts\)"
    ):
        run_batch(settings, request, progress=False)
    assert len(_read(tmp_path / "flaky")) == 64  # the first chunk, whole; nothing of the second
    FlakyFolder.fail_always = False
    run_batch(settings, request, progress=False)
    result = _read(tmp_path / "flaky")
    assert len(result) == 100 and result["row_id"].is_unique


def test_store_query_in_store_table_out(settings, saved_user_model, comfort_rows):
    from skynet.api._context import records_url
    from skynet.storage.batch._sql import _engine

    engine = _engine(records_url(settings))
    with engine.begin() as connection:
        comfort_rows.to_sql("comfort_rows", connection, index=False)
    request = batch_request({"predictor": "user_model", "input_query": "SELECT * FROM comfort_rows ORDER BY "
                             "device_id, timestamp", "output": "sql:user_model_predictions", "date": DAY,
                             "chunk_size": 100})  # fmt: skip
    assert request.input.startswith("sql:SELECT")
    summary = run_batch(settings, request, progress=False)
    assert summary["rows"] == 240 and summary["output"].startswith("table user_model_predictions in sqlite:")
    table = pd.read_sql("SELECT * FROM user_model_predictions", engine)
    assert len(table) == 240 and table["row_id"].is_unique


def test_dask_engine_gives_the_local_engines_results(settings, saved_user_model, comfort_files, tmp_path):
    """A LocalCluster of two in-process workers, one task per file; then the same job on a
    scheduler given by address."""
    from dask.distributed import LocalCluster

    local = run_batch(settings, BatchRequest("user_model", str(comfort_files), output=str(tmp_path / "local"),
                                             chunk_size=64, date=DAY), progress=False)  # fmt: skip
    on_dask = run_batch(settings, BatchRequest("user_model", str(comfort_files), output=str(tmp_path / "dask"),
                                               chunk_size=64, date=DAY, engine="dask", workers=2,
                                               processes=False), progress=False)  # fmt: skip
    assert (on_dask["rows"], on_dask["chunks"]) == (local["rows"], local["chunks"]) == (240, 5)
    pd.testing.assert_frame_equal(_read(tmp_path / "dask"), _read(tmp_path / "local"))
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        remote = run_batch(settings, BatchRequest("user_model", str(comfort_files / "c.csv"), engine="dask",
                                                  scheduler=cluster.scheduler_address, output=str(tmp_path / "r"),
                                                  date=DAY), progress=False)  # fmt: skip
    assert remote["rows"] == 60


def test_dask_worker_errors_come_back_as_one_line(settings, comfort_files, comfort_rows):
    poisoned = comfort_rows.iloc[:10].assign(temperature=99.0)
    poisoned.to_parquet(comfort_files / "z.parquet")
    request = BatchRequest(f"{PLUGIN}:Doubler", str(comfort_files), engine="dask", processes=False, date=DAY)
    with pytest.raises(DataError, match=r"^temperature 99.0 is not a room's$"):
        run_batch(settings, request, progress=False)


def test_bad_engine_options():
    with pytest.raises(ConfigError, match="needs --engine dask"):
        run_batch(None, BatchRequest("x", "y", scheduler="tcp://h:8786"))


# -- the seed's environment variables ------------------------------------------------------------
def test_seed_environment_fills_what_the_command_line_leaves_out():
    env = {
        "PREDICTOR_MODULE": "acme.predictors", "PREDICTOR_CLASS_NAME": "Mine",
        "INPUT_CTXMGR_SQS_QUEUE_URL": "http://127.0.0.1:5000/1/in",
        "OUTPUT_CTXMGR_OUTPUT_S3_BUCKET": "results", "OUTPUT_CTXMGR_OUTPUT_S3_PREFIX": "/daily/",
        "RESULT_RECORD_CHUNK_SIZE": "15", "MAX_PROCESSING_REQUESTS": "7",
        "SQS_VISIBILITYTIMEOUT_SECONDS_ON_EXCEPTION": "0", "REQUEST_S3URI_KEYS": "s3_uri, image_uri",
        "SQS_ENDPOINT": "http://127.0.0.1:5000",
    }  # fmt: skip
    request = batch_request({"predictor": None, "chunk_size": None}, env)
    assert (request.predictor, request.input, request.output) == (
        "acme.predictors:Mine", "http://127.0.0.1:5000/1/in", "s3://results/daily")  # fmt: skip
    assert (request.chunk_size, request.max_messages, request.retry_after) == (15, 7, 0)
    assert request.s3_uri_keys == ("s3_uri", "image_uri")
    assert request.endpoints == (("sqs", "http://127.0.0.1:5000"),)
    # the command line wins; a class name defaults to the seed's "Predictor"
    given = batch_request({"chunk_size": 500, "input": "rows.parquet"}, {"PREDICTOR_MODULE": "acme"})
    assert (given.chunk_size, given.input, given.predictor) == (500, "rows.parquet", "acme:Predictor")
    tables = batch_request({"predictor": "p", "input": "i"}, {"OUTPUT_CTXMGR_RESULTS_TABLENAME": "res",
                                                               "OUTPUT_CTXMGR_REQUESTS_TABLENAME": "req"})  # fmt: skip
    assert tables.output == "dynamodb://res?requests=req"


@pytest.mark.parametrize(
    ("options", "env", "message"),
    [
        ({"input": "x"}, {}, r"no predictor given: pass --predictor \(or set PREDICTOR_MODULE\)"),
        ({"predictor": "p"}, {}, "no input given"),
        ({"predictor": "p", "input": "i"}, {"RESULT_RECORD_CHUNK_SIZE": "lots"}, "expected a positive integer"),
        ({"predictor": "p", "input": "i"}, {"OUTPUT_CTXMGR_SQS_QUEUE_URL": "q", "OUTPUT_CTXMGR_OUTPUT_S3_BUCKET": "b"},
         "both name an output"),
    ],
)  # fmt: skip
def test_seed_environment_mistakes_are_one_line(options, env, message):
    with pytest.raises(ConfigError, match=message):
        batch_request(options, env)
