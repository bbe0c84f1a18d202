"""The contract every registered model keeps (after scikit-learn's ``estimator_checks``)."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from skynet.errors import ModelError, NotFittedError
from skynet.models import MODELS, ModelVersionWarning, load_model, model_class, model_types


def test_registry_lists_and_imports_every_model():
    assert model_types() == list(MODELS)
    for name in MODELS:
        assert model_class(name).model_type == name
    with pytest.raises(ModelError, match="unknown model type 'nope'"):
        model_class("nope")


def test_init_only_stores_parameters(fitted, make_model):
    name, _, _ = fitted
    model = make_model(name)
    assert not model.is_fitted()
    assert not [k for k in vars(model) if k.endswith("_")]
    clone = type(model)(**model.get_params())
    assert clone.get_params() == model.get_params()


def test_fit_returns_self(fitted, make_model):
    name, _, data = fitted
    model = make_model(name)
    assert model.fit(data) is model
    assert model.is_fitted()


def test_unfitted_use_raises_not_fitted(fitted, make_model):
    name, _, data = fitted
    model = make_model(name)
    with pytest.raises(NotFittedError, match="not fitted"):
        model.predict(data)
    with pytest.raises(NotFittedError):
        model.save("never-written")


def test_save_load_round_trip_predicts_identically(fitted, tmp_path):
    name, model, data = fitted
    path = model.save(tmp_path / "m", metrics={"mae": 0.5})
    loaded = type(model).load(path)
    np.testing.assert_array_equal(loaded.predict(data), model.predict(data))
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["model_type"] == name
    assert manifest["params"] == json.loads(json.dumps(model.get_params(), default=str))
    assert manifest["metrics"] == {"mae": 0.5}
    assert {"skynet", "numpy", "scikit-learn"} <= set(manifest["versions"])
    assert len(manifest["artifact"]["sha256"]) == 64
    assert manifest["training"]["n_rows"] == len(data)
    assert manifest["training"]["data_digest"] and manifest["training"]["feature_digest"]
    assert type(load_model(path)) is type(model)


def test_save_replaces_an_older_model_whole(fitted, tmp_path):
    _, model, _ = fitted
    model.save(tmp_path / "m")
    (tmp_path / "m" / "stray.txt").write_text("from an older save")
    model.save(tmp_path / "m")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temporary folders left
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["manifest.json", "model.joblib"]


def test_same_seed_gives_the_same_model(fitted, make_model):
    name, _, data = fitted
    first, second = make_model(name, random_state=7).fit(data), make_model(name, random_state=7).fit(data)
    np.testing.assert_array_equal(first.predict(data), second.predict(data))
    assert pickle.dumps(first) == pickle.dumps(second)


def test_corrupt_artifact_is_a_model_error_naming_the_file(fitted, tmp_path):
    _, model, _ = fitted
    path = model.save(tmp_path / "m")
    artifact = path / "model.joblib"
    blob = bytearray(artifact.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    artifact.write_bytes(bytes(blob))
    with pytest.raises(ModelError, match=r"model\.joblib is corrupt"):
        type(model).load(path)


def test_missing_manifest_is_a_model_error(fitted, tmp_path):
    _, model, _ = fitted
    with pytest.raises(ModelError, match="manifest.json is missing"):
        type(model).load(tmp_path)


def test_version_drift_warns(fitted, tmp_path):
    _, model, data = fitted
    path = model.save(tmp_path / "m")
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["versions"]["scikit-learn"] = "0.0.1"
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.warns(ModelVersionWarning, match=r"scikit-learn 0\.0\.1 -> "):
        loaded = type(model).load(path)
    np.testing.assert_array_equal(loaded.predict(data), model.predict(data))


def test_other_sample_seed_changes_the_data_digest(fitted, make_model, sample):
    name, model, _ = fitted
    other = make_model(name).fit(sample(name, seed=5))
    assert other.training_["data_digest"] != model.training_["data_digest"]
    assert other.training_["feature_digest"] == model.training_["feature_digest"]
