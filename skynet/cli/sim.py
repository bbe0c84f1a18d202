"""``skynet sim``: simulate AC-equipped homes and write their data to the store."""

from __future__ import annotations

from datetime import datetime

import click

from skynet.cli.options import echo_json, echo_table, output_format, settings

__all__ = ["sim"]

#: Kept here (not imported from skynet.sim) so `skynet sim --help` stays fast.
CLIMATES = ("hot-humid", "hot-dry", "temperate", "cold", "tropical", "mediterranean")


@click.group()
def sim() -> None:
    """Simulate AC-equipped homes and write their data to the store."""


@sim.command("generate")
@click.option("--devices", default=10, show_default=True, type=click.IntRange(min=1), help="Number of homes.")
@click.option("--days", default=7.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Simulated days.")  # fmt: skip
@click.option(
    "--seed", default=0, show_default=True, type=int, help="Seed: the same seed gives the same data."
)
@click.option("--climate", default="temperate", show_default=True, type=click.Choice(CLIMATES),
              help="Synthetic climate preset.")  # fmt: skip
@click.option("--weather-file", type=click.Path(dir_okay=False), default=None,
              help="EPW weather file (replaces --climate).")  # fmt: skip
@click.option("--start", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]), default=None,
              help="First simulated minute, UTC [default: 2025-07-01].")  # fmt: skip
@click.option("--progress/--no-progress", default=True, help="Show progress bars on stderr.")
@output_format
def generate(devices: int, days: float, seed: int, climate: str, weather_file: str | None,
             start: datetime | None, progress: bool, fmt: str) -> None:  # fmt: skip
    """Simulate homes minute by minute and write their records into the store."""
    from skynet.api.sim import generate as generate_

    result = generate_(settings(), devices, days, seed, climate, start, weather_file, progress=progress)
    if fmt == "json":
        echo_json(result)
        return
    click.echo(
        f"simulated {devices} homes x {days:g} days ({result['climate']}, seed {seed}) from {result['start']}"
    )
    click.echo(f"store: {result['store']}")
    echo_table([{"kind": k, "records": n, "added": result["added"][k]} for k, n in result["records"].items()])
    click.echo(f"AC energy: {result['ac_kwh_per_home_day']} kWh per home and day")
    click.echo(
        f"simulate {result['simulate_seconds']} s + write {result['write_seconds']} s = {result['seconds']} s"
    )
