"""Configuration: defaults, YAML file, environment overrides and their validation."""

from __future__ import annotations

import pytest

from skynet.config import load_settings, masked
from skynet.errors import ConfigError


def test_defaults_are_embedded():
    s = load_settings(None, environ={})
    assert s.storage.url.startswith("sqlite:///")
    assert s.path(s.storage.url).endswith("/skynet.db")
    assert "{data_dir}" not in s.path(s.models.store)
    assert s.source == "defaults"


def test_file_then_environment_override(tmp_path):
    path = tmp_path / "skynet.yml"
    path.write_text("general:\n  data_dir: /srv/sky\nstorage:\n  auto_migrate: false\nmodels:\n  seed: 7\n")
    s = load_settings(path, environ={"SKYNET_MODELS_SEED": "11", "SKYNET_STORAGE_URL": "memory://"})
    assert s.general.data_dir == "/srv/sky"
    assert s.storage.auto_migrate is False
    assert s.models.seed == 11  # the environment wins over the file
    assert s.storage.url == "memory://"
    assert s.path(s.models.store) == "/srv/sky/models"


def test_config_env_var_names_the_file(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("models:\n  seed: 3\n")
    assert load_settings(None, environ={"SKYNET_CONFIG": str(path)}).models.seed == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("storage:\n  urll: x\n", "unknown key storage.urll"),
        ("stroage:\n  url: x\n", "unknown section 'stroage'"),
        ("models:\n  seed: many\n", "models.seed: expected int"),
        ("storage:\n  auto_migrate: maybe\n", "expected bool"),
        ("storage: [1, 2]\n", "must be a mapping"),
        ("storage:\n  url: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_file_is_one_clear_error(tmp_path, text, message):
    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_settings(path, environ={})
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_environment_override_names_the_variable():
    with pytest.raises(ConfigError, match="SKYNET_MODELS_SEED: expected int"):
        load_settings(None, environ={"SKYNET_MODELS_SEED": "x"})
    with pytest.raises(ConfigError, match="unknown key storage.nope"):
        load_settings(None, environ={"SKYNET_STORAGE_NOPE": "1"})


def test_missing_file():
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings("/nonexistent/skynet.yml", environ={})


def test_masked_hides_passwords_only():
    assert masked("postgresql+psycopg://sky:s3cret@db:5432/x") == "postgresql+psycopg://sky:***@db:5432/x"
    assert masked("sqlite:////tmp/a.db") == "sqlite:////tmp/a.db"
    assert masked(3) == 3
