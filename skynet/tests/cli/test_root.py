"""The root command: help, version, lazy loading, one-line errors, config show."""

from __future__ import annotations

import subprocess
import sys

import yaml

from skynet import __version__
from skynet.cli import GROUPS, main


def run_main(args, capsys):
    """Run the console entry point; return (exit code, stdout, stderr)."""
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


def test_help_lists_every_group(runner, cli):
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in GROUPS:
        assert name in result.output


def test_every_group_loads_and_has_help(runner, cli):
    for name in GROUPS:
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "Usage:" in result.output


def test_version(runner, cli):
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_help_imports_no_heavy_library():
    code = (
        "import sys; from skynet.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('pandas', 'sklearn', 'sqlalchemy', 'numpy', 'yaml') if m in sys.modules]\n"
        "print('HEAVY:' + ','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "HEAVY:"


def test_user_error_is_one_line_without_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.yml"
    bad.write_text("storage:\n  nope: 1\n")
    code, out, err = run_main(["--config", str(bad), "config", "show"], capsys)
    assert code == 1
    assert err.strip().count("\n") == 0
    assert err.startswith("Error: ") and "unknown key storage.nope" in err
    assert "Traceback" not in err


def test_debug_shows_the_traceback(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("storage:\n  nope: 1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "skynet", "--debug", "--config", str(bad), "config", "show"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "ConfigError" in proc.stderr


def test_config_show_masks_passwords(runner, cli, monkeypatch):
    monkeypatch.setenv("SKYNET_STORAGE_URL", "postgresql+psycopg://sky:hunter2@db/x")
    result = runner.invoke(cli, ["config", "show"])
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output
    shown = yaml.safe_load(result.output)
    assert shown["storage"]["url"] == "postgresql+psycopg://sky:***@db/x"


def test_config_show_json_expands_data_dir(runner, cli, data_dir):
    import json

    result = runner.invoke(cli, ["config", "show", "--format", "json"])
    assert result.exit_code == 0
    shown = json.loads(result.output)
    assert shown["storage"]["url"] == f"sqlite:///{data_dir}/skynet.db"
