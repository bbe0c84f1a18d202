"""The ``serve`` settings section and the ``skynet serve`` commands that need no server."""

from __future__ import annotations

import json

import pytest

from skynet.config import load_settings
from skynet.errors import ConfigError


def test_defaults_and_overrides():
    serve = load_settings(None, environ={}).serve
    assert (serve.host, serve.port, serve.max_body_bytes, serve.request_timeout, serve.reload_interval) == (
        "127.0.0.1", 8000, 1_048_576, 10, 30)  # fmt: skip
    assert (serve.user_model, serve.estimation) == ("", "")
    given = load_settings(
        None, environ={"SKYNET_SERVE_PORT": "9000", "SKYNET_SERVE_USER_MODEL": "user_model@staging"}
    )
    assert (given.serve.port, given.serve.user_model) == (9000, "user_model@staging")


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("SKYNET_SERVE_PORT", "70000", "a TCP port is 0 … 65535"),
        ("SKYNET_SERVE_MAX_BODY_BYTES", "0", "must be 1 or more"),
        ("SKYNET_SERVE_REQUEST_TIMEOUT", "0", "must be 1 or more"),
        ("SKYNET_SERVE_RELOAD_INTERVAL", "-1", "must be 0 or more"),
        ("SKYNET_SERVE_PORT", "http", "expected int"),
        ("SKYNET_SERVE_PROT", "1", "unknown key serve.prot"),
    ],
)
def test_bad_values_are_one_line_naming_the_variable(variable, value, words):
    with pytest.raises(ConfigError) as error:
        load_settings(None, environ={variable: value})
    assert str(error.value).startswith(f"environment variable {variable}") and words in str(error.value)


def test_serve_openapi_prints_the_schema(runner, cli):
    result = runner.invoke(cli, ["serve", "openapi"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    assert "/v1/control/decide" in schema["paths"] and schema["info"]["title"] == "skynet"


def test_serve_health_of_nothing_is_one_line(capsys, data_dir):
    from skynet.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["serve", "health", "--url", "ftp://example/readyz"])
    assert exited.value.code == 1
    assert capsys.readouterr().err.startswith(
        "Error: probe: 'ftp://example/readyz' is not an http:// or https:// URL"
    )
