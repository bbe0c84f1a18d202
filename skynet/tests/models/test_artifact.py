"""Saved models cannot run code (issue 10, finding 4): the pickle-free artifact, the signature,
the refusal of old pickles and their explicit conversion."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import joblib
import numpy as np
import pytest

from skynet.errors import ModelError
from skynet.models import (
    SIGNING_KEY_ENV,
    LegacyModelError,
    convert_model,
    load_model,
    read_manifest,
    verify_model,
)
from skynet.models._artifact import STATE_ENTRY
from skynet.models._base import sha256_file

KEY = "k" * 40


class Payload:
    """What an attacker pickles: unpickling it calls ``open(marker, "w")``, creating the file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def rewrite_manifest(path, **changes):
    manifest = {**read_manifest(path), **changes}
    (path / "manifest.json").write_text(json.dumps(manifest))


def legacy_folder(path, obj, model_type):
    """A model folder as skynet before 2027 wrote it: joblib pickle + a manifest with its sha256."""
    path.mkdir()
    joblib.dump(obj, path / "model.joblib", compress=3)
    manifest = {
        "format": 1, "model_type": model_type, "created": "2026-01-01T00:00:00Z", "metrics": {"mae": 0.5},
        "training": {"n_rows": 400}, "versions": {},
        "artifact": {"file": "model.joblib", "sha256": sha256_file(path / "model.joblib")},
    }  # fmt: skip
    (path / "manifest.json").write_text(json.dumps(manifest))
    return path


def npz_with(path, state: dict, **arrays):
    """Replace a saved model's artifact with this tree and these arrays, and re-sign its sha256
    in the manifest, as someone who can write the store can."""
    kind = read_manifest(path)["model_type"]
    text = json.dumps(
        {"format": "skynet-state", "version": 1, "model_type": kind, "params": {"$dict": []}, **state}
    )
    buffer = io.BytesIO()
    entries: dict[str, Any] = {STATE_ENTRY: np.frombuffer(text.encode(), np.uint8), **arrays}
    np.savez(buffer, **entries)
    (path / "model.npz").write_bytes(buffer.getvalue())
    artifact = read_manifest(path)["artifact"]
    rewrite_manifest(path, artifact={**artifact, "sha256": sha256_file(path / "model.npz")})


def test_a_tampered_pickle_with_a_matching_manifest_runs_nothing(fitted, tmp_path):
    """The issue's proof: replace the artifact with a ``__reduce__`` payload and its manifest's
    sha256 to match. The old loader unpickled it (the marker file appeared); now nothing runs."""
    name, model, _ = fitted
    marker = tmp_path / "pwned"
    path = model.save(tmp_path / "m")
    (path / "model.npz").unlink()
    joblib.dump(Payload(marker), path / "model.joblib")
    rewrite_manifest(
        path, format=1, artifact={"file": "model.joblib", "sha256": sha256_file(path / "model.joblib")}
    )
    with pytest.raises(
        LegacyModelError, match=r"old pickle format .* `skynet models convert m --trust-pickle`"
    ):
        type(model).load(path)
    with pytest.raises(ModelError):
        load_model(path)
    with pytest.raises(ModelError):
        verify_model(path)
    assert not marker.exists()


def test_a_pickle_named_as_the_new_artifact_runs_nothing(fitted, tmp_path):
    _, model, _ = fitted
    marker = tmp_path / "pwned"
    path = model.save(tmp_path / "m")
    joblib.dump(Payload(marker), path / "model.npz")
    rewrite_manifest(path, artifact={"file": "model.npz", "sha256": sha256_file(path / "model.npz")})
    with pytest.raises(ModelError, match=r"model\.npz is unreadable"):
        type(model).load(path)
    assert not marker.exists()


def test_a_pickled_object_array_inside_the_archive_runs_nothing(fitted, tmp_path):
    _, model, _ = fitted
    marker = tmp_path / "pwned"
    path = model.save(tmp_path / "m")
    payload = np.array([Payload(marker)], dtype=object)  # np.savez pickles it into the .npy entry
    npz_with(path, {"state": {"$dict": [["training_", {"$array": "a0"}]]}}, a0=payload)
    with pytest.raises(
        ModelError, match=r"unreadable .*Object arrays cannot be loaded when allow_pickle=False"
    ):
        type(model).load(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "node, message",
    [
        ({"$object": "Popen", "fields": {}}, r"asks for a 'Popen', which this model does not allow"),
        ({"$object": "os:system", "fields": {}}, r"does not allow"),
        ({"$import": "os.system"}, r"unexpected node"),
        ({"$array": "a9"}, r"missing array 'a9'"),
        ({"$float": "1e999"}, r"unexpected node"),
    ],
)
def test_a_forged_tree_only_builds_allowed_plain_values(fitted, tmp_path, node, message):
    _, model, _ = fitted
    path = model.save(tmp_path / "m")
    npz_with(path, {"state": {"$dict": [["training_", node]]}})
    with pytest.raises(ModelError, match=message):
        type(model).load(path)


def test_forged_trees_out_of_range_are_refused_before_the_walk_reads_them(user_model, tmp_path):
    """The jitted tree walk does not check bounds: a forged node index must not reach it."""
    path = user_model.save(tmp_path / "m")
    with np.load(path / "model.npz", allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files if k != STATE_ENTRY}
        tree = json.loads(archive[STATE_ENTRY].tobytes())
    forest = next(v for k, v in tree["state"]["$dict"] if k == "forest_")["fields"]
    left = forest["left"]["$array"]
    arrays[left] = arrays[left].copy()
    arrays[left][0] = 10**9
    npz_with(path, {"state": tree["state"], "params": tree["params"]}, **arrays)
    with pytest.raises(ModelError, match="out of range or not in depth-first order"):
        type(user_model).load(path)


def test_an_archive_whose_zip_is_damaged_is_one_model_error(fitted, tmp_path):
    _, model, _ = fitted
    path = model.save(tmp_path / "m")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("other.txt", "not a model")
    (path / "model.npz").write_bytes(buffer.getvalue()[:-10])
    rewrite_manifest(path, artifact={"file": "model.npz", "sha256": sha256_file(path / "model.npz")})
    with pytest.raises(ModelError, match=r"model\.npz is unreadable"):
        type(model).load(path)


def test_the_manifest_cannot_point_the_loader_at_another_file(fitted, tmp_path):
    _, model, _ = fitted
    path = model.save(tmp_path / "m")
    rewrite_manifest(path, artifact={"file": "../../etc/passwd", "sha256": "0" * 64})
    with pytest.raises(ModelError, match=r"does not describe a model\.npz artifact"):
        type(model).load(path)


def test_the_manifest_type_decides_before_anything_is_read(fitted, tmp_path):
    name, model, _ = fitted
    path = model.save(tmp_path / "m")
    other = "estimation" if name == "user_model" else "user_model"
    rewrite_manifest(path, model_type=other)
    with pytest.raises(ModelError, match=f"holds a '{other}' model, not a {name}"):
        type(model).load(path)


# -- signature -------------------------------------------------------------------------------
def test_a_signing_key_signs_and_verifies(fitted, tmp_path, monkeypatch):
    _, model, data = fitted
    monkeypatch.setenv(SIGNING_KEY_ENV, KEY)
    path = model.save(tmp_path / "m", metrics={"mae": 0.5})
    signature = read_manifest(path)["signature"]
    assert signature["algorithm"] == "hmac-sha256" and len(signature["value"]) == 64
    np.testing.assert_array_equal(
        np.asarray(type(model).load(path).predict(data)), np.asarray(model.predict(data))
    )
    monkeypatch.delenv(SIGNING_KEY_ENV)
    type(model).load(path)  # without a key there is nothing to check against


def test_with_a_key_a_changed_manifest_or_artifact_is_refused(fitted, tmp_path, monkeypatch):
    """Whoever writes the store can keep the sha256 consistent, but cannot sign without the key."""
    _, model, _ = fitted
    monkeypatch.setenv(SIGNING_KEY_ENV, KEY)
    path = model.save(tmp_path / "m", metrics={"mae": 0.5})
    rewrite_manifest(path, metrics={"mae": 0.1})
    with pytest.raises(ModelError, match=r"signature does not match SKYNET_MODEL_SIGNING_KEY"):
        type(model).load(path)

    path = model.save(tmp_path / "m2")
    npz_with(path, {"state": {"$dict": []}})  # a consistent sha256, an invalid signature
    with pytest.raises(ModelError, match="signature does not match"):
        type(model).load(path)

    path = model.save(tmp_path / "m3")
    monkeypatch.setenv(SIGNING_KEY_ENV, "o" * 40)  # signed with another key
    with pytest.raises(ModelError, match="signature does not match"):
        verify_model(path)


def test_with_a_key_an_unsigned_model_is_refused_and_a_short_key_is_an_error(fitted, tmp_path, monkeypatch):
    _, model, _ = fitted
    path = model.save(tmp_path / "m")
    monkeypatch.setenv(SIGNING_KEY_ENV, KEY)
    with pytest.raises(ModelError, match=r"m is not signed, and SKYNET_MODEL_SIGNING_KEY is set"):
        type(model).load(path)
    monkeypatch.setenv(SIGNING_KEY_ENV, "short")
    with pytest.raises(ModelError, match=r"SKYNET_MODEL_SIGNING_KEY is 5 characters long; use at least 32"):
        model.save(tmp_path / "m2")
    assert not (tmp_path / "m2").exists()


# -- old pickles -----------------------------------------------------------------------------
def test_an_old_pickle_is_refused_and_converts_once_on_request(fitted, tmp_path):
    name, model, data = fitted
    path = legacy_folder(tmp_path / "old", model, name)
    with pytest.raises(LegacyModelError, match="train a new one, or if you trust where it came from"):
        type(model).load(path)
    convert_model(path)
    assert sorted(p.name for p in path.iterdir()) == ["manifest.json", "model.npz"]
    manifest = read_manifest(path)
    assert manifest["format"] == 2 and manifest["created"] == "2026-01-01T00:00:00Z"
    assert manifest["metrics"] == {"mae": 0.5}
    np.testing.assert_array_equal(
        np.asarray(type(model).load(path).predict(data)), np.asarray(model.predict(data))
    )
    with pytest.raises(ModelError, match="already in the pickle-free format"):
        convert_model(path)


def test_an_old_user_model_drops_its_scikit_learn_booster_when_converted(user_model, user_sample, tmp_path):
    """Older user models kept the scikit-learn booster beside the flattened trees."""
    import copy

    from sklearn.ensemble import HistGradientBoostingRegressor

    old = copy.copy(user_model)
    old.booster_ = HistGradientBoostingRegressor(max_iter=2).fit(np.arange(40.0)[:, None], np.arange(40.0))
    path = legacy_folder(tmp_path / "old", old, "user_model")
    convert_model(path)
    loaded = type(user_model).load(path)
    assert not hasattr(loaded, "booster_")
    np.testing.assert_array_equal(loaded.predict(user_sample), user_model.predict(user_sample))


def test_conversion_checks_the_pickle_before_unpickling_it(fitted, tmp_path):
    name, model, _ = fitted
    marker = tmp_path / "pwned"
    path = legacy_folder(tmp_path / "old", Payload(marker), name)
    (path / "model.joblib").write_bytes((path / "model.joblib").read_bytes() + b"x")
    with pytest.raises(ModelError, match="does not match its manifest's sha256: not unpickling it"):
        convert_model(path)
    assert not marker.exists()
