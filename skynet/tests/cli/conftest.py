"""Fixtures for CLI tests: a CliRunner and the root command, on an isolated data directory."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

# the batch prediction fixtures (a saved user model, comfort rows in files), shared with the api tests
from skynet.tests.api.conftest import comfort_files as comfort_files
from skynet.tests.api.conftest import comfort_rows as comfort_rows
from skynet.tests.api.conftest import fitted_user_model as fitted_user_model
from skynet.tests.api.conftest import saved_user_model as saved_user_model


@pytest.fixture
def runner(data_dir) -> CliRunner:
    """A CliRunner; ``data_dir`` (root conftest) points skynet at a temporary directory."""
    return CliRunner()


@pytest.fixture
def cli():
    from skynet.cli import cli as root

    return root
