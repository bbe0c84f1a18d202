"""``skynet deploy``: what a deployment runs on a host (smoke test, stand-in service)."""

from __future__ import annotations

import click

from skynet.cli.options import settings

__all__ = ["deploy"]


@click.group()
def deploy() -> None:
    """Check a build and run deployment stand-ins (fab runs these on the hosts)."""


@deploy.command("check")
def check() -> None:
    """Exit 0 if this build works here: every command group and core library imports and the
    configuration is valid (install-pex runs this before a PEX is installed)."""
    from skynet.api.deploy import check_build
    from skynet.errors import DeployError

    ctx = click.get_current_context().find_root()
    groups, broken = ctx.command.list_commands(ctx), []
    for name in groups:
        try:
            ctx.command.get_command(ctx, name)
        except Exception as exc:  # noqa: BLE001 - reported below, one line per group
            broken.append(f"{name} ({type(exc).__name__}: {exc})")
    if broken:
        raise DeployError(f"command groups that do not import: {'; '.join(broken)}")
    result = check_build(settings())
    click.echo(f"skynet {result['version']} OK on Python {result['python']}: {len(groups)} command groups, "
               f"{result['modules']} modules imported, configuration from {result['config']}")  # fmt: skip


@deploy.command("heartbeat")
@click.option("--interval", default=10.0, show_default=True, help="Seconds between beats.")
@click.option("--count", default=None, type=int, help="Stop after N beats (default: run until stopped).")
def heartbeat(interval: float, count: int | None) -> None:
    """Run until stopped, printing a JSON status line every INTERVAL seconds (a stand-in service)."""
    import json

    from skynet.api.deploy import heartbeats

    for beat in heartbeats(settings(), interval, count):
        click.echo(json.dumps(beat))
