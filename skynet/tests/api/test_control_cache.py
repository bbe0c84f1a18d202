"""`control evaluate`'s kept models: a kept set an older skynet wrote is trained again, not an error."""

from __future__ import annotations

import json

from skynet.api._control_train import cached_models


def test_models_kept_in_the_old_pickle_format_are_trained_again(tmp_path):
    calls: list[int] = []

    def train() -> dict:
        calls.append(1)
        return {"estimator": None, "comfort": None, "note": f"trained {len(calls)}"}

    key = {"engine": "builtin", "seed": 1000}
    assert cached_models(tmp_path, key, train)["note"] == "trained 1"
    assert cached_models(tmp_path, key, train)["note"].startswith("trained 1 (cached: ")
    (place,) = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    legacy = place / "comfort"  # what the kept folder held before the pickle-free format
    legacy.mkdir()
    (legacy / "manifest.json").write_text(json.dumps({"model_type": "user_model", "format": 1,
                                                      "artifact": {"file": "model.joblib"}}))  # fmt: skip
    (legacy / "model.joblib").write_bytes(b"not to be unpickled")
    again = cached_models(tmp_path, key, train)
    assert again["note"] == "trained 2" and len(calls) == 2
    assert not (place / "comfort").exists()  # replaced by what was trained again
    assert cached_models(tmp_path, key, train)["note"].startswith("trained 2 (cached: ")
