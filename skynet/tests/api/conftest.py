"""Fixtures for the api tests: a fitted user model saved in the test's store, comfort rows in files."""

from __future__ import annotations

import pytest

from skynet.models.user_model import SAMPLE_PARAMS, UserModel, sample_data


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
