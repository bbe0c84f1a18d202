"""The contract every registered model keeps (after scikit-learn's ``estimator_checks``)."""

from __future__ import annotations

import dataclasses
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
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["manifest.json", "model.npz"]


def test_same_seed_gives_the_same_model(fitted, make_model, tmp_path):
    name, _, data = fitted
    first, second = make_model(name, random_state=7).fit(data), make_model(name, random_state=7).fit(data)
    np.testing.assert_array_equal(first.predict(data), second.predict(data))
    assert pickle.dumps(first) == pickle.dumps(second)
    one, two = first.save(tmp_path / "one"), second.save(tmp_path / "two")
    assert (one / "model.npz").read_bytes() == (two / "model.npz").read_bytes()  # the artifact too


def test_round_trip_restores_every_parameter_and_learned_attribute_exactly(fitted, tmp_path):
    """Not only the predictions: every value comes back with its type, dtype, shape and bits."""
    _, model, _ = fitted
    loaded = type(model).load(model.save(tmp_path / "m"))
    assert sorted(vars(loaded)) == sorted(vars(model))
    for name in vars(model):
        assert_same(getattr(loaded, name), getattr(model, name), name)


def test_state_attributes_name_exactly_what_fit_learns(fitted, tmp_path):
    _, model, _ = fitted
    learned = {k for k in vars(model) if k.endswith("_") and not k.startswith("_")}
    assert learned == set(model.state_attributes)
    model.scratch_ = np.zeros(3)  # learned state nobody declared would be lost by a save
    try:
        with pytest.raises(ModelError, match=r"holds learned state \['scratch_'\]"):
            model.save(tmp_path / "m")
    finally:
        del model.scratch_
    assert not (tmp_path / "m").exists() and not list(tmp_path.iterdir())


def test_a_scikit_learn_object_is_not_stored(fitted, tmp_path, monkeypatch):
    """Only plain state and the model's allow-listed dataclasses are stored, never an estimator."""
    from sklearn.linear_model import LinearRegression

    _, model, _ = fitted
    monkeypatch.setattr(model, "training_", {**model.training_, "helper": LinearRegression()})
    with pytest.raises(ModelError, match=r"cannot store state\['training_'\]\['helper'\]: a sklearn\."):
        model.save(tmp_path / "m")
    assert not list(tmp_path.iterdir())  # nothing half-written


def assert_same(a, b, where):
    """Deep equality with types: arrays by dtype, shape, memory order and bits (NaN == NaN)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert a.flags.c_contiguous == b.flags.c_contiguous and a.flags.f_contiguous == b.flags.f_contiguous
        assert a.tobytes() == b.tobytes(), where
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif dataclasses.is_dataclass(a):
        for field in dataclasses.fields(a):
            assert_same(getattr(a, field.name), getattr(b, field.name), f"{where}.{field.name}")
    elif isinstance(a, float):
        assert a == b or (a != a and b != b), where
    else:
        assert a == b, where


def test_corrupt_artifact_is_a_model_error_naming_the_file(fitted, tmp_path):
    _, model, _ = fitted
    path = model.save(tmp_path / "m")
    artifact = path / "model.npz"
    blob = bytearray(artifact.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    artifact.write_bytes(bytes(blob))
    with pytest.raises(ModelError, match=r"model\.npz is corrupt"):
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
