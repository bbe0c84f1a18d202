"""Root fixtures: every test runs with skynet pointed at its own temporary data directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from skynet.config import Settings, load_settings

#: The shared ASHRAE DB II copy (beside the checkout); tests that need it skip without it.
ASHRAE_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ashrae_db2"
ASHRAE_MEASUREMENTS = ASHRAE_DIR / "db_measurements_v2.1.0.csv.gz"
ASHRAE_METADATA = ASHRAE_DIR / "db_metadata.csv"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, tmp_path_factory):
    """No test reads the developer's config or writes to ~/.skynet."""
    for name in [n for n in __import__("os").environ if n.startswith("SKYNET_") and not n.startswith("SKYNET_TEST_")]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SKYNET_GENERAL_DATA_DIR", str(tmp_path_factory.mktemp("skynet-home")))
    monkeypatch.setenv("MPLBACKEND", "Agg")


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """A fresh data directory that skynet (settings, CLI) uses for this test."""
    path = tmp_path / "data"
    monkeypatch.setenv("SKYNET_GENERAL_DATA_DIR", str(path))
    return path


@pytest.fixture
def settings(data_dir) -> Settings:
    """Settings of an embedded setup (SQLite + local model store) under ``data_dir``."""
    return load_settings(None)


@pytest.fixture(scope="session")
def ashrae_files() -> tuple[Path, Path]:
    """Paths of the shared DB II files, or skip where the shared folder is missing."""
    if not ASHRAE_MEASUREMENTS.exists():
        pytest.skip(f"ASHRAE DB II not found at {ASHRAE_DIR} (a checkout outside the team)")
    return ASHRAE_MEASUREMENTS, ASHRAE_METADATA
