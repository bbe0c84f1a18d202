"""``skynet predict batch``: parses, runs, prints; bad input is one line, exit 1, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from skynet.api.batch import SEED_ENVIRONMENT
from skynet.tests.cli.test_root import run_main

README = Path(__file__).resolve().parents[3] / "README.md"


def _predictions(data_dir: Path) -> Path:
    return data_dir / "models" / "predictions"


def test_batch_prints_where_the_results_are(runner, cli, saved_user_model, comfort_files, data_dir):
    args = ["predict", "batch", "--predictor", "user_model", "--input", str(comfort_files), "--date", "2027-01-05",
            "--chunk-size", "100", "--no-progress"]  # fmt: skip
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    folder = _predictions(data_dir) / f"{saved_user_model}-2027-01-05"
    assert f"request {saved_user_model}-2027-01-05: 240 rows in 3 chunks -> {folder}" in result.output
    assert len(pd.read_parquet(folder)) == 240
    as_json = runner.invoke(cli, [*args, "--format", "json", "--request-id", "again"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["requests"][0] | {"label": None} == {
        "request_id": "again", "label": None, "rows": 240, "chunks": 3, "sources": 3, "state": "done"}  # fmt: skip


def test_seed_environment_runs_it_without_options(runner, cli, comfort_files, data_dir, monkeypatch):
    monkeypatch.setenv("PREDICTOR_MODULE", "skynet.tests.api.plugin_predictors")
    monkeypatch.setenv("PREDICTOR_CLASS_NAME", "Doubler")
    monkeypatch.setenv("RESULT_RECORD_CHUNK_SIZE", "30")
    result = runner.invoke(
        cli, ["predict", "batch", "--input", str(comfort_files / "a.parquet"), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert "100 rows in 4 chunks" in result.output and "(model doubler," in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--predictor", "nope"], "Error: unknown predictor 'nope' (known: estimation, user_model"),
        (["--predictor", "no.such.module:Thing"], "Error: predictor 'no.such.module:Thing': cannot import"),
        (["--predictor", "user_model", "--input", "{rows}/missing.parquet"], "does not exist"),
        (["--predictor", "user_model", "--input", "{rows}/broken.parquet"], "cannot read the columns of"),
        (["--predictor", "user_model", "--input", "{rows}/no_temperature.parquet"],
         "no_temperature.parquet lacks the column(s) temperature"),
        (["--predictor", "user_model", "--output", "kafka://topic"], "unknown output URL scheme 'kafka'"),
        (["--predictor", "user_model", "--engine", "local", "--scheduler", "tcp://x:1"], "needs --engine dask"),
        (["--predictor", "user_model", "--request-id", "a b"], "is not a plain id"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_writes_nothing(args, message, saved_user_model, comfort_files, comfort_rows,
                                                  data_dir, capsys):  # fmt: skip
    (comfort_files / "broken.parquet").write_bytes(b"PAR1 not really")
    comfort_rows.drop(columns=["temperature"]).to_parquet(comfort_files / "no_temperature.parquet")
    args = [a.replace("{rows}", str(comfort_files)) for a in args]
    if "--input" not in args:
        args += ["--input", str(comfort_files / "a.parquet")]
    code, out, err = run_main(["predict", "batch", *args, "--no-progress"], capsys)
    assert code == 1, (out, err)
    assert err.count("\n") == 1 and message in err, err
    assert not _predictions(data_dir).exists()


def test_readme_maps_every_seed_variable_to_its_option():
    text = README.read_text()
    section = text[text.index("## Batch predictions") :]
    for variable, option, _ in SEED_ENVIRONMENT:
        assert f"| `{variable}` | `{option}`" in section, variable
