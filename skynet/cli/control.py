"""``skynet control``: decide AC commands, run the control worker, evaluate control in closed loop."""

from __future__ import annotations

import click

from skynet.cli.options import echo_json, output_format, settings

__all__ = ["control"]


@click.group()
def control() -> None:
    """Decide AC commands; run the control worker; evaluate control in closed loop."""


@control.command("decide")
@click.option("--device", "device_id", required=True, help="Device id.")
@click.option("--at", type=click.DateTime(["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]), default=None,
              help="Decide as of this moment, UTC [default: the newest reading].")  # fmt: skip
@output_format
def decide(device_id: str, at, fmt: str) -> None:
    """Decide one AC command for a device from its newest data in the store."""
    from skynet.api.control import decide as decide_

    result = decide_(settings(), device_id, at=at)
    if fmt == "json":
        echo_json(result)
        return
    from skynet.api.control import format_decision

    click.echo(format_decision(result))
