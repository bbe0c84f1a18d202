"""Fixtures for the api tests: a fitted user model saved in the test's store, comfort rows in
files, and a hyper-parameter search recorded as start_search records it (without a broker)."""

from __future__ import annotations

import pytest

from skynet.api import _slices
from skynet.api._slices import materialise
from skynet.api.experiments import open_experiments
from skynet.models.user_model import SAMPLE_PARAMS, UserModel, sample_data
from skynet.storage.experiments import Search

#: Tiny user-model points of the recorded search.
QUICK = {"max_iter": 6, "min_samples_leaf": 10, "calibration_folds": 2}


@pytest.fixture(scope="session")
def fitted_user_model() -> UserModel:
    """A small user model, fitted once for the session."""
    return UserModel(**SAMPLE_PARAMS).fit(sample_data(600, seed=1))


@pytest.fixture
def saved_user_model(settings, fitted_user_model) -> str:
    """The session's user model saved in this test's model store; its name."""
    from skynet.api.models import register_trained

    return register_trained(settings, fitted_user_model, {})


@pytest.fixture
def comfort_rows():
    """240 comfort-frame rows without votes (what a batch predicts for)."""
    return sample_data(240, seed=5).drop(columns=["value"])


@pytest.fixture
def comfort_files(tmp_path, comfort_rows):
    """A folder of three files holding ``comfort_rows``: two parquet, one CSV."""
    folder = tmp_path / "rows"
    folder.mkdir()
    comfort_rows.iloc[:100].to_parquet(folder / "a.parquet")
    comfort_rows.iloc[100:180].to_parquet(folder / "b.parquet")
    comfort_rows.iloc[180:].to_csv(folder / "c.csv", index=False)
    return folder


@pytest.fixture
def recorded(settings):
    """A search of 3 points on a materialised slice, as start_search records it (no broker)."""
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
