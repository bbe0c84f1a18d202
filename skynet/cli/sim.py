"""``skynet sim``: simulate AC-equipped homes and write their data to the store."""

from __future__ import annotations

from datetime import datetime

import click

from skynet.cli.options import echo_json, echo_table, output_format, settings

__all__ = ["sim"]

#: Kept here (not imported from skynet.sim) so `skynet sim --help` stays fast.
CLIMATES = ("hot-humid", "hot-dry", "temperate", "cold", "tropical", "mediterranean")
#: EnergyPlus zone timesteps (minutes), as skynet.sim.energyplus.VALID_TIMESTEPS.
EPLUS_TIMESTEPS = ("1", "2", "3", "4", "5", "6", "10", "12", "15", "20", "30", "60")


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
@click.option("--engine", type=click.Choice(["builtin", "energyplus"]), default="builtin", show_default=True,
              help="builtin: skynet's fleet of homes; energyplus: a prototype building's zones (extra).")  # fmt: skip
@click.option("--building", default="apartment-midrise", show_default=True,
              help="energyplus: a prototype (skynet sim buildings) or an IDF file.")  # fmt: skip
@click.option("--weather", "weather", default=None, metavar="CITY_OR_EPW",
              help="energyplus: a city (skynet sim weather) or an EPW file [default: miami].")  # fmt: skip
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="energyplus: first day not simulated [default: --start + --days].")  # fmt: skip
@click.option("--timestep", default="5", show_default=True, type=click.Choice(EPLUS_TIMESTEPS),
              help="energyplus: zone timestep in minutes.")  # fmt: skip
@click.option("--progress/--no-progress", default=True, help="Show progress bars on stderr.")
@output_format
def generate(devices: int, days: float, seed: int, climate: str, weather_file: str | None,
             start: datetime | None, engine: str, building: str, weather: str | None, end: datetime | None,
             timestep: str, progress: bool, fmt: str) -> None:  # fmt: skip
    """Simulate homes (or EnergyPlus zones) and write their records into the store.

    With --engine energyplus every thermostat zone of a DOE prototype building is a device,
    simulated by EnergyPlus under seeded set point schedules from --start (local days).
    """
    if engine == "energyplus":
        weather = weather or weather_file or "miami"
        return _energyplus(building, weather, start, end, days, seed, int(timestep), progress, fmt)
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
        f"simulate {result['simulate_seconds']} s, write {result['write_seconds']} s (meanwhile), "
        f"total {result['seconds']} s"
    )


def _energyplus(building: str, weather: str, start: datetime | None, end: datetime | None, days: float,
                seed: int, timestep: int, progress: bool, fmt: str) -> None:  # fmt: skip
    from skynet.api.sim import generate_energyplus

    result = generate_energyplus(settings(), building, weather, start, end, None if end else days, seed, timestep,
                                 progress=progress)  # fmt: skip
    if fmt == "json":
        echo_json(result)
        return
    click.echo(f"EnergyPlus: {result['building']} ({result['zones']} zones) in {result['weather']}, "
               f"{result['days']:g} days from {result['start']} UTC every {result['timestep_minutes']} min, seed {seed}")  # fmt: skip
    click.echo(f"store: {result['store']}")
    echo_table([{"kind": k, "records": n, "added": result["added"][k]} for k, n in result["records"].items()])
    click.echo(
        f"simulate {result['simulate_seconds']} s + write {result['write_seconds']} s = {result['seconds']} s"
    )


@sim.command("buildings")
@output_format
def buildings(fmt: str) -> None:
    """List the EnergyPlus prototype buildings (needs the energyplus extra)."""
    from skynet.api.sim import energyplus_catalog

    rows = energyplus_catalog("buildings")
    echo_json(rows) if fmt == "json" else echo_table(rows)


@sim.command("weather")
@output_format
def weather_(fmt: str) -> None:
    """List the cities of the EnergyPlus TMY3 weather files (needs the energyplus extra)."""
    from skynet.api.sim import energyplus_catalog

    rows = energyplus_catalog("weather")
    echo_json(rows) if fmt == "json" else echo_table(rows)
