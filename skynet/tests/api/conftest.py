"""Fixtures of the api tests: a search recorded as start_search records it, without a broker."""

from __future__ import annotations

import pytest

from skynet.api import _slices
from skynet.api._slices import materialise
from skynet.api.experiments import open_experiments
from skynet.storage.experiments import Search

QUICK = {"max_iter": 6, "min_samples_leaf": 10, "calibration_folds": 2}


@pytest.fixture
def recorded(settings):
    """A search of 3 points on a materialised slice, as start_search records it (no broker)."""
    from skynet.models.user_model import sample_data

    _slices._FRAMES.clear()
    data = materialise(settings, sample_data(300, n_devices=6))
    points = [{**QUICK, "learning_rate": rate} for rate in (0.1, 0.3, -1.0)]
    search = Search(id="user_model-1", model_type="user_model", kind="grid", dataset_hash=data["hash"], metric="mae",
                    spec={"grid": {"folds": 3}, "dataset": data, "selection": {"dataset": data["path"]},
                          "promote": "production", "seed": 0, "points": 3})  # fmt: skip
    with open_experiments(settings) as store:
        store.create_search(search, points)
    _slices._FRAMES.clear()  # a worker starts without the slice in memory
    yield search
    _slices._FRAMES.clear()
