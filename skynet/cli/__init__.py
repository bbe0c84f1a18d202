"""The ``skynet`` command line: a root group with lazily loaded subcommand groups.

Each group lives in its own module (``skynet/cli/<group>.py``) and only parses options and
calls one public function of :mod:`skynet.api`. A :class:`~skynet.errors.SkynetError` is
printed as one line on stderr with exit status 1; a traceback only with ``--debug``. Logging
follows ``general.log_level`` and ``general.log_format`` (``--log-format``, ``--debug`` win;
see :mod:`skynet.cli._logging`).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from skynet import __version__
from skynet.cli._lazy import LazyGroup

__all__ = ["cli", "main"]

#: group name -> (import path, one-line help); a group is imported only when it runs.
GROUPS: dict[str, tuple[str, str]] = {
    "config": ("skynet.cli.config:config", "Show and check the effective configuration."),
    "control": (
        "skynet.cli.control:control",
        "Decide AC commands; run the control worker; evaluate control in closed loop.",
    ),
    "data": ("skynet.cli.data:data", "Import data sets into the store and inspect them."),
    "db": ("skynet.cli.db:db", "Create and migrate the SQL schema."),
    "demo": (
        "skynet.cli.demo:demo",
        "Simulate homes, train and evaluate both models and control; write a report (no server).",
    ),
    "deploy": ("skynet.cli.deploy:deploy", "Check a build on a host; a stand-in service for deployments."),
    "experiments": (
        "skynet.cli.experiments:experiments",
        "Hyper-parameter searches: list, show one, compare several (tables and plots).",
    ),
    "estimation": (
        "skynet.cli.estimation:estimation",
        "Train, evaluate and use the room climate estimation model.",
    ),
    "models": ("skynet.cli.models:models", "The model registry: list, promote, compare, clean up models."),
    "predict": (
        "skynet.cli.predict:predict",
        "Batch predictions: files, SQL, S3 or SQS in; parquet, SQL, S3, SQS or DynamoDB out.",
    ),
    "serve": ("skynet.cli.serve:serve", "Serve predictions and control decisions over HTTP (REST)."),
    "sim": ("skynet.cli.sim:sim", "Simulate AC-equipped homes and write their data to the store."),
    "train": (
        "skynet.cli.train:train",
        "Celery workers for distributed training and hyper-parameter search.",
    ),
    "user_model": ("skynet.cli.user_model:user_model", "Train, evaluate and use the user comfort model."),
}


@click.group(
    cls=LazyGroup,
    lazy_subcommands=GROUPS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "--version", prog_name="skynet")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="SKYNET_CONFIG",
    help="YAML configuration file (also $SKYNET_CONFIG).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default=None,
    help="Log lines as text or JSON objects [default: general.log_format].",
)
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, debug: bool, log_format: str | None) -> None:
    """skynet: machine learning for smart air-conditioner control."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    ctx.obj["debug"] = debug
    _apply_logging(ctx, debug, log_format)


def _apply_logging(ctx: click.Context, debug: bool, log_format: str | None) -> None:
    """Apply the logging settings for the command's run (undone when it ends)."""
    from skynet.cli._logging import configure_logging
    from skynet.cli.options import settings
    from skynet.errors import ConfigError

    try:
        general = settings(ctx).general
        level, fmt = general.log_level, log_format or general.log_format
    except ConfigError:  # the command reports it (`config check` says what is wrong)
        level, fmt = "WARNING", log_format or "text"
    ctx.call_on_close(configure_logging(level, fmt, debug))


def main(argv: list[str] | None = None) -> Any:
    """Console entry point: run the CLI, turning skynet errors into one line on stderr."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        return cli.main(args=args, prog_name="skynet", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - the one place errors become exit codes
        from skynet.errors import SkynetError

        if debug:
            raise
        if isinstance(exc, SkynetError):
            click.echo(f"Error: {_shown(exc)}", err=True)
            sys.exit(1)
        if isinstance(exc, KeyboardInterrupt):
            sys.exit(130)
        click.echo(
            f"Error: unexpected {type(exc).__name__}: {_shown(exc)} (run with --debug for the traceback)",
            err=True,
        )
        sys.exit(2)


#: The longest error message the CLI prints (messages should already cut echoed values with
#: :func:`skynet.errors.brief`; this is the last guard against a value echoed whole).
_MAX_ERROR = 2000


def _shown(exc: BaseException) -> str:
    """The error's message, passwords masked, at most :data:`_MAX_ERROR` characters."""
    from skynet.config import masked  # a driver's own message may hold a URL with its password

    text = masked(str(exc))
    return (
        text if len(text) <= _MAX_ERROR else f"{text[:_MAX_ERROR]}… (message cut, {len(text):,} characters)"
    )
