"""A search's data slice (named by its hash, read back or rebuilt from the store) and the
cross-validation of one point, without a broker."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from skynet.api import _slices
from skynet.api._slices import cross_validate, digest, load_slice, materialise
from skynet.errors import DataError
from skynet.storage.experiments import Search

QUICK = {"max_iter": 10, "min_samples_leaf": 10, "calibration_folds": 2}


@pytest.fixture(autouse=True)
def _no_cached_slices():
    _slices._FRAMES.clear()
    yield
    _slices._FRAMES.clear()


def _search(data: dict, selection: dict | None = None) -> Search:
    return Search(id="s-1", model_type="user_model", kind="grid", dataset_hash=data["hash"], metric="mae",
                  spec={"dataset": data, "selection": selection or {"dataset": data["path"]}})  # fmt: skip


def test_the_slice_is_named_by_its_hash_and_read_back_exactly(settings):
    from skynet.models.user_model import sample_data

    frame = sample_data(300, n_devices=6)
    data = materialise(settings, frame)
    assert data["path"].endswith(f"-{data['hash'][:8]}.parquet") and data["rows"] == 300
    assert materialise(settings, frame) == data  # the same rows: the same file and hash
    _slices._FRAMES.clear()
    read = load_slice(settings, _search(data))  # a worker: from the file, hash checked
    assert digest(read) == data["hash"] and len(read) == 300
    other = materialise(settings, frame.iloc[:-1])
    assert other["hash"] != data["hash"] and other["path"] != data["path"]


def test_a_changed_or_missing_file_is_refused(settings, tmp_path):
    from skynet.models.user_model import sample_data

    data = materialise(settings, sample_data(200, n_devices=6))
    _slices._FRAMES.clear()
    sample_data(200, seed=1, n_devices=6).to_parquet(data["path"], index=False)
    with pytest.raises(DataError, match="is not the slice of search s-1 .*it changed"):
        load_slice(settings, _search(data))
    moved = replace(_search(data), spec={"dataset": {**data, "path": str(tmp_path / "gone.parquet")},
                                         "selection": {"dataset": "x.parquet"}})  # fmt: skip
    with pytest.raises(DataError, match="is not on this host: share models.datasets"):
        load_slice(settings, moved)


def test_a_worker_without_the_file_rebuilds_the_slice_from_the_store(settings, small_db2, tmp_path):
    from skynet.api.data import import_ashrae, load_comfort_frame

    import_ashrae(settings, *small_db2, progress=False)
    data = materialise(settings, load_comfort_frame(settings))
    selection = {"devices": None, "start": None, "end": None}
    search = _search({**data, "path": str(tmp_path / "elsewhere" / "slice.parquet")}, selection)
    _slices._FRAMES.clear()
    rebuilt = load_slice(settings, search)
    assert digest(rebuilt) == data["hash"] and len(rebuilt) == data["rows"]


def test_cross_validation_scores_each_fold_and_all_held_out_rows():
    from skynet.models.user_model import sample_data

    frame = sample_data(400, n_devices=8)
    result = cross_validate("user_model", frame, QUICK, folds=3, seed=0, threads=1)
    rows = result["metrics"]
    assert {f for f, _, _ in rows} == {-1, 0, 1, 2}
    assert {n for _, n, _ in rows} == {"mae", "rmse", "bias", "exact_acc", "acc_3class", "f1_3class"}
    by_fold = {f: v for f, n, v in rows if n == "mae"}
    assert min(by_fold[f] for f in range(3)) <= by_fold[-1] <= max(by_fold[f] for f in range(3))
    assert result["model_name"].startswith("user_model-gbm10m-lr0.1-s0")
    again = cross_validate("user_model", frame, QUICK, folds=3, seed=0, threads=2)
    assert again["metrics"] == rows  # threads change the speed, never the figures
    with pytest.raises(DataError, match="8 devices cannot be split into 9 folds"):
        cross_validate("user_model", frame, QUICK, folds=9, seed=0)


def test_cross_validation_of_the_estimation_model():
    from skynet.models.estimation import sample_data

    frame = sample_data(400, n_devices=6)
    result = cross_validate("estimation", frame, {"epochs": 2, "hidden": [8]}, folds=2, seed=0, threads=1)
    overall = {n: v for f, n, v in result["metrics"] if f == -1}
    assert set(overall) == {"mae", "rmse", "mae_humidity", "rmse_humidity"}
    assert all(np.isfinite(v) and v >= 0 for v in overall.values())
