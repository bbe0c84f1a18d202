"""Fixtures of the REST service tests: a home with real, small registered models (trained once
per session), a copy of it per test, and the application over it (TestClient, lifespan run)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from skynet.config import Settings, load_settings


def home_settings(home: Path, **env: str) -> Settings:
    """The embedded settings of a home folder (SQLite store and registry, local model store)."""
    return load_settings(None, environ={"SKYNET_GENERAL_DATA_DIR": str(home), **env})


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory) -> dict:
    """A home with a user model (user_model@production) and an estimation model registered,
    plus a second user model registered but not promoted (``spare``), all trained on the
    models' sample data with their quick parameters."""
    from skynet.api import estimation, user_model
    from skynet.api.promotion import promote
    from skynet.models.estimation import SAMPLE_PARAMS as EST_PARAMS
    from skynet.models.estimation import sample_data as est_sample
    from skynet.models.user_model import SAMPLE_PARAMS, sample_data

    home = tmp_path_factory.mktemp("serve-home")
    settings = home_settings(home)
    comfort = sample_data(600, seed=1)
    first, _ = user_model.train(settings, params=SAMPLE_PARAMS, frame=comfort, progress=False)
    promote(settings, first, "production", "serve tests")
    spare, _ = user_model.train(
        settings, params={**SAMPLE_PARAMS, "max_iter": 30}, frame=comfort, progress=False
    )
    room, _ = estimation.train(settings, params=EST_PARAMS, frame=est_sample(400, seed=2), progress=False)
    return {"home": home, "user_model": first, "spare": spare, "estimation": room}


@pytest.fixture
def home(trained_home, tmp_path) -> Path:
    """A copy of the trained home this test may change (promote, add records)."""
    target = tmp_path / "home"
    shutil.copytree(trained_home["home"], target)
    return target


@pytest.fixture
def served_settings(home) -> Settings:
    return home_settings(home)


@pytest.fixture
def client(served_settings):
    """A TestClient of the service over the home (models loaded at start, no reloading)."""
    from fastapi.testclient import TestClient

    from skynet.serve import create_app

    with TestClient(create_app(served_settings, reload_interval=0)) as test_client:
        yield test_client


@pytest.fixture
def runner(data_dir):
    """A CliRunner on an isolated data directory."""
    from click.testing import CliRunner

    return CliRunner()


@pytest.fixture
def cli():
    from skynet.cli import cli as root

    return root
