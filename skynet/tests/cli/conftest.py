"""Fixtures for CLI tests: a CliRunner and the root command, on an isolated data directory."""

from __future__ import annotations

import pytest
from click.testing import CliRunner


@pytest.fixture
def runner(data_dir) -> CliRunner:
    """A CliRunner; ``data_dir`` (root conftest) points skynet at a temporary directory."""
    return CliRunner()


@pytest.fixture
def cli():
    from skynet.cli import cli as root

    return root
