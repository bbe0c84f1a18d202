"""The model registry through the CLI (issue 12 items 2, 4, 5, 7): training registers a version
with its lineage and materialised data set; aliases with history; promote, rollback, delete, gc;
compare and the promotion gate; models re-trained from exactly their data set. Each test checks
the output and what was stored (registry rows, artifacts, data set files)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from skynet.config import load_settings
from skynet.storage.registry import open_registry
from skynet.tests.cli.test_root import run_main
from skynet.tests.cli.test_user_model import imported  # noqa: F401 - the store every test here uses

pytestmark = pytest.mark.usefixtures("imported")

BEFORE_WINDOW = ["--end", "2024-11-01"]
WINDOW = ["--start", "2024-11-01", "--end", "2025-01-01"]


def registry():
    settings = load_settings(None)
    return open_registry(f"sqlite:///{settings.data_dir / 'skynet.db'}")


def train(runner, cli, *args) -> str:
    result = runner.invoke(cli, ["user_model", "train", "--no-progress", "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["model"]


def invoke_json(runner, cli, *args):
    result = runner.invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_training_registers_the_version_with_its_lineage_and_data_set(data_dir, runner, cli, monkeypatch):
    monkeypatch.setenv("SKYNET_BUILD_TAG", "0.1.0-b42")
    monkeypatch.setenv("SKYNET_GIT_COMMIT", "c0ffee" * 6 + "abcd")
    monkeypatch.setenv("AIRFLOW_CTX_DAG_RUN_ID", "scheduled__2024-11-01T02:00:00+00:00")
    monkeypatch.setenv("AIRFLOW_CTX_DAG_ID", "user_model_training")
    name = train(runner, cli, *BEFORE_WINDOW, "--alias", "candidate")

    with registry() as reg:
        version = reg.get(name)
        history = reg.history("user_model")
    info = version.lineage
    assert version.model_type == "user_model" and version.status == "ready"
    assert version.artifact_uri == (data_dir / "models" / name).resolve().as_uri()
    assert re.fullmatch(r"[^@]+@[^@]+", version.registered_by)
    assert info["selection"] == {"devices": None, "start": None, "end": "2024-11-01T00:00:00",
                                 "holdout_days": None, "frame": None}  # fmt: skip
    assert (info["build_tag"], info["git_commit"]) == ("0.1.0-b42", "c0ffee" * 6 + "abcd")
    assert info["airflow"]["run_id"] == "scheduled__2024-11-01T02:00:00+00:00" and info["parent"] is None
    assert info["train_end"] < "2024-11-01" and len(info["data_digest"]) == 64
    # the data set: seed 002's naming, the model's own hashes, the rows it learned from
    dataset = Path(info["dataset"]["path"])
    assert dataset.parent == data_dir / "data" / "processed" / "train"
    assert re.fullmatch(r"2024\d{4}-2024\d{4}-[0-9a-f]{8}-[0-9a-f]{8}\.parquet", dataset.name)
    assert name.endswith(dataset.stem[-17:])  # <dates-hash>-<feature-hash> shared with the model's name
    assert (
        len(pd.read_parquet(dataset))
        == info["dataset"]["rows"]
        == info["n_rows"]
        == version.metrics["n_rows"]
    )
    # the manifest carries the same lineage (signed with it when a key is set)
    manifest = json.loads((data_dir / "models" / name / "manifest.json").read_text())
    assert manifest["lineage"] == info and manifest["artifact"]["sha256"] == version.sha256
    assert [(e.alias, e.old_name, e.new_name, e.reason) for e in history] == [
        ("candidate", None, name, "trained")
    ]

    shown = runner.invoke(cli, ["models", "lineage", name])
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert (
        lines[0].startswith(f"data set  {dataset} ({info['n_rows']} rows") and "here, unchanged" in lines[0]
    )
    assert f"model     {name} (user_model, ready)" in shown.stdout
    assert "build 0.1.0-b42" in shown.stdout and "Airflow run scheduled__2024-11-01" in shown.stdout
    assert "aliases   user_model@candidate" in shown.stdout
    listed = invoke_json(runner, cli, "models", "list")
    assert [(r["name"], r["status"], r["aliases"]) for r in listed] == [(name, "ok", "candidate")]


def test_a_model_is_retrained_from_exactly_its_data_set(data_dir, runner, cli):
    name = train(runner, cli, *BEFORE_WINDOW)
    with registry() as reg:
        first = reg.get(name)
    path = first.lineage["dataset"]["path"]
    again = train(runner, cli, "--dataset", path)
    assert again == name  # same rows, same dtypes: same data digest, same parameters: same name
    with registry() as reg:
        second = reg.get(name)
    assert second.lineage["selection"] == {"dataset": path}
    assert second.lineage["data_digest"] == first.lineage["data_digest"]
    assert second.lineage["dataset"]["sha256"] == first.lineage["dataset"]["sha256"]
    assert second.registered_at > first.registered_at

    mixed = runner.invoke(cli, ["user_model", "train", "--dataset", path, "--device", "ashrae-1"])
    assert mixed.exit_code != 0 and "--dataset is the whole selection" in str(mixed.exception)
    missing = runner.invoke(cli, ["user_model", "train", "--dataset", str(data_dir / "nope.parquet")])
    assert missing.exit_code != 0 and "nope.parquet does not exist" in str(missing.exception)


def test_aliases_promote_rollback_and_the_default_model(data_dir, runner, cli, capsys):
    older = train(runner, cli, "--end", "2024-10-01")
    newer = train(runner, cli, *BEFORE_WINDOW)
    newest = train(runner, cli, "--end", "2024-12-01")

    def predicted(*args):
        return invoke_json(runner, cli, "user_model", "predict", "--temperature", "25", *args)["model"]

    assert predicted() == newest  # no production alias yet: the newest
    promoted = runner.invoke(cli, ["models", "promote", older, "--alias", "production", "--reason", "first"])
    assert promoted.exit_code == 0 and promoted.stdout.strip() == f"user_model@production: (new) -> {older}"
    run_main(["models", "promote", newer, "--reason", "better mae on the window"], capsys)
    assert predicted() == newer  # production wins over the newest
    assert predicted("--model", "user_model@production") == newer
    assert predicted("--model", older) == older

    shown = invoke_json(runner, cli, "models", "aliases", "--type", "user_model")
    assert [(a["alias"], a["name"], a["reason"]) for a in shown["aliases"]] == [
        ("user_model@production", newer, "better mae on the window")]  # fmt: skip
    assert [(e["old_name"], e["new_name"], e["action"]) for e in shown["history"]] == [
        (None, older, "promote"), (older, newer, "promote")]  # fmt: skip
    assert all(re.fullmatch(r"[^@]+@[^@]+", e["who"]) and e["time"] for e in shown["history"])
    table = runner.invoke(cli, ["models", "aliases"])
    assert "better mae on the window" in table.stdout and "history" in table.stdout

    back = runner.invoke(cli, ["models", "rollback", "--alias", "production"])
    assert back.exit_code == 0, back.output
    assert back.stdout.strip() == f"user_model@production: {newer} -> {older} (rolled back)"
    assert predicted() == older
    code, _, err = run_main(["models", "rollback", "--alias", "production"], capsys)
    assert code == 1 and "has no earlier model to roll back to" in err and err.count("\n") == 1
    with registry() as reg:
        assert reg.alias("user_model", "production").name == older
        assert [e.action for e in reg.history("user_model")] == ["promote", "promote", "rollback"]

    code, _, err = run_main(
        ["user_model", "predict", "--temperature", "25", "--model", "user_model@staging"], capsys
    )
    assert code == 1 and "no user_model@staging (aliases of user_model: user_model@production" in err
    code, _, err = run_main(["user_model", "predict", "--temperature", "25", "--model", "estimation@production"],
                            capsys)  # fmt: skip
    assert code == 1 and "names a estimation model; a user_model model is needed here" in err


def test_delete_refuses_an_aliased_model_and_gc_keeps_the_newest(data_dir, runner, cli, capsys):
    names = [
        train(runner, cli, "--end", end) for end in ("2024-09-01", "2024-10-01", "2024-11-01", "2024-12-01")
    ]
    run_main(["models", "promote", names[0]], capsys)
    code, _, err = run_main(["models", "delete", names[0]], capsys)
    assert code == 1 and f"{names[0]} is user_model@production: promote another model" in err
    assert (data_dir / "models" / names[0]).is_dir()

    deleted = runner.invoke(cli, ["models", "delete", names[1]])
    assert deleted.exit_code == 0 and deleted.stdout.startswith(f"deleted {names[1]} (file://")
    assert not (data_dir / "models" / names[1]).exists()
    with registry() as reg:
        assert reg.get(names[1]).status == "deleted"
    assert invoke_json(runner, cli, "models", "show", names[1])["status"] == "deleted"
    code, _, err = run_main(["user_model", "predict", "--temperature", "25", "--model", names[1]], capsys)
    assert code == 1 and f"model {names[1]} was deleted" in err

    dry = invoke_json(runner, cli, "models", "gc", "--keep", "1", "--dry-run")
    assert dry["deleted"] == [names[2]] and sorted(dry["kept"]) == sorted([names[3], names[0]])
    assert (data_dir / "models" / names[2]).is_dir()
    done = runner.invoke(cli, ["models", "gc", "--keep", "1"])
    assert done.exit_code == 0 and "deleted 1 models, kept 2" in done.stdout
    assert sorted(p.name for p in (data_dir / "models").iterdir()) == sorted([names[0], names[3]])
    assert [r["name"] for r in invoke_json(runner, cli, "models", "list")] == [names[3], names[0]]


def test_compare_and_the_promotion_gate(data_dir, runner, cli, capsys):
    wide = train(runner, cli, *BEFORE_WINDOW)
    narrow = train(runner, cli, *BEFORE_WINDOW, "--device", "ashrae-1", "--device", "ashrae-2")
    result = invoke_json(runner, cli, "models", "compare", wide, narrow, *WINDOW)
    assert result["window"]["rows"] > 20 and result["window"]["start"] == "2024-11-01T00:00:00"
    assert [m["trained_on_window"] for m in result["models"]] == [False, False]
    mae = {m["name"]: m["metrics"]["mae"] for m in result["models"]}
    better, worse = sorted(mae, key=mae.get)
    row = next(r for r in result["table"] if r["metric"] == "mae")
    assert row["best"] == better and row[wide] == mae[wide]
    text = runner.invoke(cli, ["models", "compare", wide, narrow, *WINDOW])
    assert "held-out window" in text.stdout and re.search(r"^mae\s", text.stdout, re.M)

    # no production yet: the first candidate is promoted
    first = invoke_json(runner, cli, "models", "promote-if-better", worse, *WINDOW)
    assert first["promoted"] is True and first["reason"] == "no user_model@production yet"
    # a better candidate by less than the margin: the alias stays, exit 0, the reason says why
    margin = abs(mae[worse] - mae[better]) + 0.5
    kept = runner.invoke(cli, ["models", "promote-if-better", better, "--margin", str(margin), *WINDOW])
    assert kept.exit_code == 0, kept.output
    assert kept.stdout.startswith(f"not promoted: {better} -> user_model@production (was {worse}): mae ")
    assert "not better by the margin" in kept.stdout
    with registry() as reg:
        assert reg.alias("user_model", "production").name == worse
    # better by more than the margin: promoted, with the comparison as the reason
    won = invoke_json(runner, cli, "models", "promote-if-better", better, "--margin", "0", *WINDOW)
    assert won["promoted"] is True and won["current"] == worse and "better by the margin 0" in won["reason"]
    with registry() as reg:
        event = reg.history("user_model", "production")[-1]
    assert (event.old_name, event.new_name) == (worse, better) and event.reason == won["reason"]
    # the worse one does not win it back
    lost = invoke_json(runner, cli, "models", "promote-if-better", worse, "--margin", "0", *WINDOW)
    assert lost["promoted"] is False and "not better" in lost["reason"]
    # a window without data leaves the alias alone, still exit 0
    empty = invoke_json(runner, cli, "models", "promote-if-better", worse, "--start", "2030-01-01", "--end",
                        "2030-02-01")  # fmt: skip
    assert empty["promoted"] is False and empty["reason"].startswith(
        "no comparison, alias left alone: no feedback"
    )
    code, _, err = run_main(["models", "promote-if-better", worse, "--metric", "auc", *WINDOW], capsys)
    assert code == 1 and "not 'auc'" in err

    backtest = invoke_json(runner, cli, "user_model", "evaluate", "--model", "user_model@production", *WINDOW)
    assert backtest["models"][0]["name"] == better and backtest["models"][0]["metrics"]["mae"] == mae[better]


def test_a_corrupt_or_swapped_model_is_never_promoted_and_is_listed_corrupt(data_dir, runner, cli, capsys):
    good = train(runner, cli, *BEFORE_WINDOW)
    other = train(runner, cli, "--end", "2024-10-01")
    # swap in another sound model's files: every model check passes, the registry's sha256 does not
    folder = data_dir / "models" / good
    shutil.rmtree(folder)
    shutil.copytree(data_dir / "models" / other, folder)
    listed = {r["name"]: r for r in invoke_json(runner, cli, "models", "list")}
    assert listed[good]["status"] == "corrupt" and "does not match the registry's" in listed[good]["problem"]
    assert listed[other]["status"] == "ok"
    code, _, err = run_main(["models", "promote", good], capsys)
    assert code == 1 and "does not match the registry's" in err and err.count("\n") == 1
    with registry() as reg:
        assert reg.aliases() == []


def test_unregistered_folders_are_listed_and_can_be_registered(data_dir, runner, cli, tmp_path):
    name = train(runner, cli, *BEFORE_WINDOW)
    legacy = data_dir / "models" / "user_model-legacy-00000000-00000000"
    shutil.copytree(data_dir / "models" / name, legacy)
    rows = {r["name"]: r for r in invoke_json(runner, cli, "models", "list")}
    assert rows[legacy.name]["status"] == "unregistered"
    assert f"skynet models register {legacy.name}" in rows[legacy.name]["problem"]
    missing = runner.invoke(cli, ["user_model", "predict", "--temperature", "25", "--model", legacy.name])
    assert "is in the model store but not registered" in str(missing.exception)

    done = runner.invoke(cli, ["models", "register", legacy.name, "--alias", "staging"])
    assert done.exit_code == 0 and done.stdout.startswith(f"registered {legacy.name} (ok)")
    assert invoke_json(runner, cli, "user_model", "predict", "--temperature", "25", "--model",
                       "user_model@staging")["model"] == legacy.name  # fmt: skip
    with registry() as reg:
        assert reg.get(legacy.name).lineage == reg.get(name).lineage  # the manifest's lineage came along


def test_a_model_trained_from_another_ones_data_set_names_it_as_parent(data_dir, runner, cli):
    from skynet.api.user_model import train as train_api
    from skynet.models.user_model import SAMPLE_PARAMS

    name = train(runner, cli, *BEFORE_WINDOW)
    with registry() as reg:
        path = reg.get(name).lineage["dataset"]["path"]
    child, _ = train_api(load_settings(None), params=SAMPLE_PARAMS, dataset=path, progress=False)
    assert child != name  # other parameters, same data
    with registry() as reg:
        info = reg.get(child).lineage
    assert info["parent"] == name and info["dataset"]["path"] == path
    assert "parent " + name in runner.invoke(cli, ["models", "lineage", child]).stdout

    held = runner.invoke(cli, ["user_model", "train", "--holdout-days", "7"])
    assert held.exit_code != 0 and "--holdout-days needs --end" in str(held.exception)
