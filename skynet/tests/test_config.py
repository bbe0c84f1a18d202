"""Configuration: defaults, YAML file, environment overrides and their validation, masking,
``config check`` (the release gate) and a fuzz test of the loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from skynet.config import LOG_LEVELS, RESERVED_ENV_PREFIXES, load_settings, masked
from skynet.errors import ConfigError
from skynet.tests.cli.test_root import run_main


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
        # finding 9: the release gate passed these
        ("storage:\n  url: ''\n", "storage.url: must not be empty"),
        ("general:\n  data_dir: ''\n", "general.data_dir: must not be empty"),
        ("models:\n  store: '  '\n", "models.store: must not be empty"),
        ("general:\n  log_level: LOUD\n", "log level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ("models:\n  seed: -1\n", "seed must be between 0 and"),
        # what PyYAML's constructors raise besides YAMLError
        ("models:\n  seed: " + "9" * 5000 + "\n", "not valid YAML"),
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


def test_unreadable_file_is_a_config_error(tmp_path):
    binary = tmp_path / "binary.yml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(binary, environ={})
    with pytest.raises(ConfigError, match="cannot be read"):
        load_settings(tmp_path, environ={})  # a folder


# -- finding 9: environment keys, empty paths, log level ---------------------------------------
@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "SKYNET_STORGE_URL",
            "SKYNET_STORGE_URL: no configuration section 'storge'; did you mean SKYNET_STORAGE_",
        ),
        ("SKYNET_GENRAL_DATA_DIR", "did you mean SKYNET_GENERAL_"),
        ("SKYNET_MODEL_SEED", "did you mean SKYNET_MODELS_"),
        ("SKYNET_STORAGEURL", "did you mean SKYNET_STORAGE_"),
        ("SKYNET_STORAGE_URLL", "SKYNET_STORAGE_URLL: unknown key storage.urll .*did you mean storage.url"),
        ("SKYNET_GENERAL_LOGLEVEL", "unknown key general.loglevel"),
    ],
)
def test_misspelt_environment_keys_are_errors(name, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(None, environ={name: "memory://"})


def test_other_skynet_variables_are_left_alone():
    environ = {
        "SKYNET_TEST_MYSQL_URL": "mysql://x",
        "SKYNET_PEX_ANYTHING": "1",
        "SKYNET_DEPLOY_ROOT": "/opt/ai",
        "SKYNET_BUILD_STORE": "dist/builds",
        "SKYNET_INVENTORY": "inventory.yml",
        "SKYNET_REQUIRE_AIRFLOW": "1",
        "SKYNET_MODEL_SIGNING_KEY": "k",  # like a typo of "models", but reserved
        # not reserved, but not like any section either: another tool's secret, as inventory.yml uses
        "SKYNET_STAGING_DB_PASSWORD": "x",
        "SKYNET_STORAGE_LIVE_URL": "redis://h:6379/0",
    }
    assert load_settings(None, environ=environ).storage.live_url == "redis://h:6379/0"
    assert all(p.startswith("SKYNET_") for p in RESERVED_ENV_PREFIXES)


def test_every_skynet_variable_the_project_uses_is_a_key_or_reserved():
    """A new ``SKYNET_*`` variable that looks like a misspelt section must be reserved, or
    setting it would stop every command."""
    import re

    from skynet.config import _env_target

    repo = Path(__file__).resolve().parents[2]
    # config.py and this file name typos on purpose (SKYNET_STORGE_URL)
    files = [p for p in (repo / "skynet").rglob("*.py") if p.name not in ("config.py", "test_config.py")]
    files += [
        *(repo / "install").rglob("*.sh"),
        repo / "tox.ini",
        repo / "inventory.yml",
        repo / "fabfile.py",
    ]
    names = {
        n for p in files if p.exists() for n in re.findall(r"\bSKYNET_[A-Z0-9_]*[A-Z0-9]", p.read_text())
    }
    assert {"SKYNET_CONFIG", "SKYNET_STORAGE_URL", "SKYNET_DEPLOY_ROOT"} <= names
    problems = []
    for name in sorted(names):
        try:
            _env_target(name)
        except ConfigError as exc:
            problems.append(str(exc))
    assert problems == []


def test_empty_data_dir_from_the_environment_is_an_error():
    with pytest.raises(ConfigError, match="SKYNET_GENERAL_DATA_DIR: must not be empty"):
        load_settings(None, environ={"SKYNET_GENERAL_DATA_DIR": ""})


def test_optional_urls_may_be_empty():
    s = load_settings(None, environ={"SKYNET_STORAGE_LIVE_URL": "", "SKYNET_STORAGE_DECISIONS_URL": ""})
    assert s.storage.live_url == s.storage.decisions_url == ""


@pytest.mark.parametrize("level", ["debug", "Info", "WARNING", " error ", "critical"])
def test_log_level_any_case(level):
    assert load_settings(None, environ={"SKYNET_GENERAL_LOG_LEVEL": level}).general.log_level == (
        level.strip().upper()
    )


# -- finding 7: secrets -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://sky:s3cret@db:5432/x", "postgresql+psycopg://sky:***@db:5432/x"),
        ("mysql+pymysql://u:p@ss@host/db", "mysql+pymysql://u:***@host/db"),
        ("redis://:p@ss@w0rd@h:6379/0", "redis://:***@h:6379/0"),
        ("mongodb://user@corp:pw@h/db", "mongodb://user@corp:***@h/db"),
        ("cassandra://u:pa/ss@h1,h2/ks", "cassandra://u:***@h1,h2/ks"),
        ("redis://h:6379/0?password=s3cret", "redis://h:6379/0?password=***"),
        ("redis://h/0?db=1&password=s3cret&x=1", "redis://h/0?db=1&password=***&x=1"),
        ("postgresql://h/db?sslpassword=a;token=b#f", "postgresql://h/db?sslpassword=***;token=***#f"),
        (
            "cannot open 'redis://h/0?PASSWORD=s3cret': refused",
            "cannot open 'redis://h/0?PASSWORD=***': refused",
        ),
        ("a://u:p@h and 'b://v:q@ss@h2/x'", "a://u:***@h and 'b://v:***@h2/x'"),
        # nothing to hide
        ("sqlite:////tmp/a.db", "sqlite:////tmp/a.db"),
        ("http://u@h:8080/x", "http://u@h:8080/x"),
        ("redis://h:6379/0?db=1", "redis://h:6379/0?db=1"),
    ],
)
def test_masked_hides_every_password(url, shown):
    assert masked(url) == shown


def test_masked_leaves_other_values():
    assert masked(3) == 3 and masked(None) is None


def test_echoed_values_are_cut_and_masked():
    with pytest.raises(ConfigError) as info:
        load_settings(None, environ={"SKYNET_MODELS_SEED": "x" * 5_000_000})
    message = str(info.value)
    assert message.startswith("environment variable SKYNET_MODELS_SEED: expected int, got 'xxx")
    assert len(message) < 300 and "\n" not in message and "5,000,002 characters" in message
    with pytest.raises(ConfigError) as info:
        load_settings(None, environ={"SKYNET_MODELS_SEED": "mysql://u:p@ss@h/db?password=s3cret"})
    assert "p@ss" not in str(info.value) and "s3cret" not in str(info.value)


def test_a_huge_bad_value_is_one_short_line_on_the_cli(capsys, monkeypatch):
    monkeypatch.setenv("SKYNET_MODELS_SEED", "junk" * 1_250_000)
    code, out, err = run_main(["config", "show"], capsys)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and len(err) < 300, err[:500]


def test_config_show_masks_passwords(capsys, monkeypatch):
    monkeypatch.setenv("SKYNET_STORAGE_LIVE_URL", "redis://:p@ss@h:6379/0")
    monkeypatch.setenv("SKYNET_STORAGE_DECISIONS_URL", "mongodb://h/db?password=s3cret")
    code, out, _ = run_main(["config", "show", "--format", "json"], capsys)
    assert code == 0
    assert "redis://:***@h:6379/0" in out and "password=***" in out
    assert "p@ss" not in out and "ss@" not in out and "s3cret" not in out


# -- config check: every URL -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SKYNET_STORAGE_URL": "foo://x"}, "storage.url 'foo://x': unknown scheme 'foo'; known: "),
        (
            {"SKYNET_STORAGE_URL": "/var/lib/skynet.db"},
            "storage.url '/var/lib/skynet.db': no scheme \\(expected SCHEME",
        ),
        ({"SKYNET_STORAGE_LIVE_URL": "postgresql://h/db"}, "storage.live_url .*unknown scheme 'postgresql'"),
        ({"SKYNET_STORAGE_DECISIONS_URL": "redis://h"}, "storage.decisions_url .*unknown scheme 'redis'"),
        ({"SKYNET_STORAGE_TIMESERIES_URL": "cassandr://h/ks"}, "storage.timeseries_url .*unknown scheme"),
        ({"SKYNET_STORAGE_URL": "mysql+nodriver://u@h/db"}, "unknown scheme 'mysql\\+nodriver'"),
        ({"SKYNET_STORAGE_URL": "mysql+pymysql://u:p@ss@h/db"}, "the password holds '@'; write it as %40"),
        ({"SKYNET_STORAGE_URL": "postgresql://u@h:port/db"}, "not a valid SQL URL"),
    ],
)
def test_config_check_fails_on_a_bad_url(capsys, monkeypatch, env, message):
    import re

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, out, err = run_main(["config", "check"], capsys)
    assert code == 1 and "configuration OK" not in out
    assert re.search(message, err), err
    assert "p@ss" not in err and err.count("\n") == 1


def test_config_check_lists_every_url(capsys, monkeypatch):
    monkeypatch.setenv("SKYNET_STORAGE_LIVE_URL", "redis://:s3cret@h:6379/0")
    monkeypatch.setenv("SKYNET_STORAGE_DECISIONS_URL", "memory://")
    code, out, _ = run_main(["config", "check"], capsys)
    assert code == 0, out
    assert "storage.url: sqlite:///" in out and "(driver sqlite3 imports)" in out
    assert "storage.live_url: redis://:***@h:6379/0 (driver redis imports)" in out
    assert "storage.decisions_url: memory:// (driver (none) imports)" in out
    assert out.rstrip().endswith("configuration OK (from defaults)") and "s3cret" not in out


def test_config_check_names_a_driver_that_does_not_import(monkeypatch):
    """A driver whose package is absent (None in sys.modules makes ``import pymongo`` fail the
    way a missing package does; no client is patched)."""
    import sys

    from skynet.api.config import check_config

    monkeypatch.setitem(sys.modules, "pymongo", None)
    settings = load_settings(None, environ={"SKYNET_STORAGE_DECISIONS_URL": "mongodb://u:pw@h/db"})
    with pytest.raises(ConfigError, match=r"storage.decisions_url 'mongodb://u:\*\*\*@h/db': driver pymongo "
                                          r"does not import: .*pip install 'skynet\[mongodb\]'"):  # fmt: skip
        check_config(settings)


def test_config_check_connect_opens_the_embedded_store(capsys, data_dir):
    code, out, _ = run_main(["config", "check", "--connect"], capsys)
    assert code == 0, out
    assert f"storage.url: sqlite:///{data_dir}/skynet.db (connected)" in out
    assert (data_dir / "skynet.db").exists()


def test_config_check_connect_reports_a_store_that_does_not_open(capsys, monkeypatch):
    import socket

    with socket.socket() as s:  # a loopback port nobody listens on: refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("SKYNET_STORAGE_LIVE_URL", f"redis://:p@ss@127.0.0.1:{port}/0")
    code, _, err = run_main(["config", "check"], capsys)
    assert code == 0  # without --connect nothing is opened
    code, out, err = run_main(["config", "check", "--connect"], capsys)
    assert code == 1 and "configuration OK" not in out
    assert "storage.live_url: cannot open: live[redis]: connecting to redis://:***@127.0.0.1" in err
    assert "p@ss" not in err and err.count("\n") == 1


@pytest.mark.integration
def test_config_check_connect_reaches_the_servers(capsys, monkeypatch):
    from skynet.tests.conftest import redis_server
    from skynet.tests.storage.conftest import server_url

    monkeypatch.setenv("SKYNET_STORAGE_URL", server_url("postgresql"))
    monkeypatch.setenv("SKYNET_STORAGE_TIMESERIES_URL", server_url("mysql"))
    monkeypatch.setenv("SKYNET_STORAGE_LIVE_URL", redis_server())
    code, out, err = run_main(["config", "check", "--connect"], capsys)
    assert code == 0, err
    for key in ("url", "timeseries_url", "live_url"):
        assert f"storage.{key}: " in out and "(connected)" in out
    assert out.count("(connected)") == 3 and "skynet:skynet@" not in out


# -- fuzz: the loader returns valid settings or one short ConfigError, never anything else -----
def _fuzz_strategies():
    from hypothesis import strategies as st

    sections = st.sampled_from(["general", "storage", "models", "stroage", "genral", "model", "", "x" * 300])
    keys = st.sampled_from(
        ["data_dir", "log_level", "url", "timeseries_url", "decisions_url", "live_url", "auto_migrate",
         "store", "reports", "seed", "urll", "", "k" * 300]
    )  # fmt: skip
    junk = st.text(max_size=40)
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(), junk,
        st.sampled_from(["", " ", "INFO", "loud", "debug", "memory://", "sqlite:///{data_dir}/x.db",
                         "mysql+pymysql://u:p@ss@h/db", "redis://h/0?password=s3cret", "-1", "4294967296",
                         "9" * 5000, "~/sky", "a\0b", "true", "off", "maybe"]),
    )  # fmt: skip
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(junk, inner, max_size=3),
                          max_leaves=5)  # fmt: skip
    documents = st.dictionaries(sections | junk, st.none() | scalars | st.dictionaries(keys | junk, values, max_size=4),
                                max_size=4)  # fmt: skip
    names = st.one_of(
        st.builds(lambda s, k: f"SKYNET_{s.upper()}_{k.upper()}", sections, keys),
        st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ_", max_size=20).map(lambda n: "SKYNET_" + n),
        st.sampled_from(["SKYNET_STORGE_URL", "SKYNET_TEST_X", "SKYNET_PEX_ROOT", "PATH"]),
    )
    env_values = st.one_of(junk, st.sampled_from(["", "1", "debug", "LOUD", "memory://", "9" * 5000]))
    environments = st.dictionaries(names, env_values, max_size=4)
    return documents, environments, junk


def _check_loaded(load):
    """Call ``load()``: valid settings, or a ConfigError of one short line."""
    from skynet.api.config import effective_config

    try:
        s = load()
    except ConfigError as exc:
        message = str(exc)
        assert len(message) < 600 and "\n" not in message, message[:1000]
        return
    assert s.general.log_level in LOG_LEVELS
    for value in (s.general.data_dir, s.storage.url, s.models.store, s.models.reports):
        assert isinstance(value, str) and value.strip() and "\0" not in value
    for value in (s.storage.timeseries_url, s.storage.decisions_url, s.storage.live_url):
        assert isinstance(value, str) and "\0" not in value
    assert isinstance(s.storage.auto_migrate, bool)
    assert isinstance(s.models.seed, int) and 0 <= s.models.seed < 2**32
    effective_config(s)  # expands every path and masks every URL without failing


def test_fuzz_config_loader(tmp_path_factory):
    """Random YAML documents (structures, raw text and broken syntax) with random environment
    overrides: 200 examples, a few seconds."""
    import yaml
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    documents, environments, junk = _fuzz_strategies()
    folder = tmp_path_factory.mktemp("fuzz")

    def dumped(doc):
        try:
            return yaml.safe_dump(doc)
        except ValueError:  # a 5,000-digit integer: PyYAML cannot write it either
            return "models:\n  seed: 1\n"

    texts = st.one_of(
        documents.map(dumped),
        junk,
        st.lists(st.sampled_from(["storage:", "\n", "  url: ", "[", "]", "{", "}", ":", "- ", "&a", "*a",
                                  "!!python/object:os.system", "'", '"', "\t", "%YAML 1.1\n", "---\n", "|\n"]),
                 max_size=12).map("".join),
    )  # fmt: skip

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(text=texts, environ=environments)
    def run(text, environ):
        path = folder / "skynet.yml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        _check_loaded(lambda: load_settings(path, environ=environ))

    run()
