"""The local model store: names, listing newest first, show, newest, clear errors."""

from __future__ import annotations

import json
import os

import pytest

from skynet.errors import StorageError
from skynet.storage import LocalModelStore

TRAINING = {
    "start": "2020-01-01T00:00:00",
    "end": "2020-12-31T00:00:00",
    "data_digest": "abc",
    "feature_digest": "f00dcafe1234",
}


def write_model(store: LocalModelStore, name: str, model_type: str, created: str, **metrics) -> None:
    path = store.path_for(name, must_exist=False)
    path.mkdir(parents=True)
    manifest = {"model_type": model_type, "created": created, "metrics": metrics, "training": {"n_rows": 10}}
    (path / "manifest.json").write_text(json.dumps(manifest))
    (path / "model.npz").write_bytes(b"artifact")


@pytest.fixture
def store(tmp_path) -> LocalModelStore:
    return LocalModelStore(tmp_path / "models")


@pytest.fixture
def store_with_models(store) -> LocalModelStore:
    write_model(store, "user_model-a", "user_model", "2026-01-01T10:00:00Z", mae=0.8, bias=0.01)
    write_model(store, "user_model-b", "user_model", "2026-01-02T10:00:00Z", mae=0.7)
    write_model(store, "other-c", "estimation", "2026-01-03T10:00:00Z")
    return store


def test_model_name_is_deterministic_and_changes_with_data_and_features():
    name = LocalModelStore.model_name("user_model", "gbm300m-lr0.05-s0", TRAINING)
    assert name == LocalModelStore.model_name("user_model", "gbm300m-lr0.05-s0", dict(TRAINING))
    assert name.startswith("user_model-gbm300m-lr0.05-s0-") and name.endswith("-f00dcafe")
    assert name != LocalModelStore.model_name(
        "user_model", "gbm300m-lr0.05-s0", {**TRAINING, "data_digest": "x"}
    )
    assert name != LocalModelStore.model_name(
        "user_model", "gbm300m-lr0.05-s0", {**TRAINING, "end": "2021-01-01"}
    )
    assert name != LocalModelStore.model_name(
        "user_model", "gbm300m-lr0.05-s0", {**TRAINING, "feature_digest": "1"}
    )
    assert "/" not in LocalModelStore.model_name("user_model", "a/b c", TRAINING)


def test_list_is_newest_first_and_filters_by_type(store_with_models):
    rows = store_with_models.list()
    assert [r["name"] for r in rows] == ["other-c", "user_model-b", "user_model-a"]
    assert [r["name"] for r in store_with_models.list("user_model")] == ["user_model-b", "user_model-a"]
    assert rows[2]["metrics"] == {"mae": 0.8, "bias": 0.01}
    assert rows[2]["n_rows"] == 10 and rows[2]["type"] == "user_model"


def test_show_and_newest(store_with_models):
    manifest = store_with_models.show("user_model-a")
    assert manifest["name"] == "user_model-a" and manifest["metrics"]["mae"] == 0.8
    assert manifest["path"].endswith("user_model-a")
    assert store_with_models.newest("user_model") == "user_model-b"


def test_missing_things_are_clear_storage_errors(store):
    assert store.list() == []
    with pytest.raises(StorageError, match="no user_model model in .*skynet user_model train"):
        store.newest("user_model")
    with pytest.raises(StorageError, match="model store: no model named 'ghost'"):
        store.show("ghost")
    with pytest.raises(StorageError, match="is not a model name"):
        store.path_for("../escape")


def test_temporary_folders_are_left_out_and_broken_ones_listed_with_their_problem(store_with_models):
    root = store_with_models.root
    (root / ".user_model-x.tmp123").mkdir()
    (root / ".user_model-x.tmp123" / "manifest.json").write_text("{}")
    (root / "stray.txt").write_text("not a model")
    (root / "broken").mkdir()
    (root / "broken" / "manifest.json").write_text("{not json")
    (root / "empty").mkdir()
    (root / "user_model-typeless").mkdir()
    (root / "user_model-typeless" / "manifest.json").write_text('{"created": "2020-01-01T00:00:00Z"}')
    rows = {r["name"]: r for r in store_with_models.list()}
    assert sorted(rows) == [
        "broken",
        "empty",
        "other-c",
        "user_model-a",
        "user_model-b",
        "user_model-typeless",
    ]
    assert rows["broken"]["problem"].startswith("manifest.json is unreadable (")
    assert rows["empty"]["problem"] == "manifest.json is missing"
    assert rows["user_model-typeless"]["problem"] == "manifest.json names no model_type"
    assert rows["user_model-typeless"]["type"] == "user_model"  # read from the name
    assert rows["user_model-a"]["problem"] is None
    shown = store_with_models.show("broken")
    assert shown["problem"].startswith("manifest.json is unreadable") and shown["path"].endswith("broken")


def test_a_newest_model_with_a_broken_manifest_is_named_not_passed_over(store_with_models):
    """Issue 10, finding 9: a corrupt newest model was left out of listings, so ``newest``
    silently handed out the older one. Now it is the newest (its age: the file's mtime)."""
    root = store_with_models.root
    (root / "user_model-new").mkdir()
    (root / "user_model-new" / "manifest.json").write_text('{"model_type": "user_m')  # cut short
    assert store_with_models.newest("user_model") == "user_model-new"
    assert store_with_models.list("user_model")[0]["problem"].startswith("manifest.json is unreadable")
    (root / "user_model-new" / "manifest.json").unlink()  # or gone altogether
    assert store_with_models.newest("user_model") == "user_model-new"


def test_an_old_broken_folder_does_not_hide_a_newer_sound_model(store_with_models):
    root = store_with_models.root
    (root / "user_model-ancient").mkdir()
    (root / "user_model-ancient" / "manifest.json").write_text("{")
    os.utime(root / "user_model-ancient" / "manifest.json", (0, 0))  # 1970
    assert store_with_models.newest("user_model") == "user_model-b"
    assert store_with_models.list("user_model")[-1]["created"] == "1970-01-01T00:00:00Z"


def test_store_reads_what_a_model_saves(store, tmp_path):
    from skynet.models.user_model import SAMPLE_PARAMS, UserModel, sample_data

    model = UserModel(**SAMPLE_PARAMS).fit(sample_data(200, seed=2))
    name = store.model_name(model.model_type, model.param_desc(), model.training_)
    model.save(store.path_for(name, must_exist=False), metrics={"mae": 0.5})
    assert store.newest("user_model") == name
    shown = store.show(name)
    assert shown["model_type"] == "user_model" and shown["training"]["n_rows"] == 200
    assert store.list()[0]["metrics"] == {"mae": 0.5}
