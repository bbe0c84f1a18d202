"""``skynet data``: import data sets into the store and look at what is there."""

from __future__ import annotations

import click

from skynet.cli.options import echo_json, echo_table, output_format, settings

__all__ = ["data"]


@click.group()
def data() -> None:
    """Import data sets into the store and inspect them."""


@data.group("import")
def import_() -> None:
    """Import an external data set."""


@import_.command("ashrae-db2")
@click.argument("measurements", type=click.Path(dir_okay=False))
@click.option("--metadata", required=True, type=click.Path(dir_okay=False), help="db_metadata.csv of DB II.")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar on stderr.")
@output_format
def import_ashrae_db2(measurements: str, metadata: str, progress: bool, fmt: str) -> None:
    """Import the ASHRAE Global Thermal Comfort Database II (MEASUREMENTS.csv.gz).

    One device per building; each vote becomes a feedback with the indoor reading and the
    day's outdoor weather beside it. Idempotent; impossible values are reported and skipped.
    """
    from skynet.api.data import import_ashrae

    result = import_ashrae(settings(), measurements, metadata, progress=progress)
    if fmt == "json":
        echo_json(result)
        return
    click.echo(f"read {result['rows_read']} rows from {result['source']} in {result['seconds']} s")
    click.echo(f"store: {result['store']}")
    echo_table([{"kind": k, "added": v} for k, v in result["added"].items()])
    skipped = result["skipped"]
    click.echo(f"skipped {sum(skipped.values())} rows" + (":" if skipped else ""))
    for reason, count in skipped.items():
        click.echo(f"  {count:>7}  {reason}")


@data.command("show")
@click.argument("kind", type=click.Choice(["device", "user", "sensor_reading", "weather", "feedback",
                                           "appliance_state", "control_target"]))  # fmt: skip
@click.option("--device", "device_id", default=None, help="Only this device.")
@click.option("--limit", default=20, show_default=True, help="Newest N records.")
@output_format
def show(kind: str, device_id: str | None, limit: int, fmt: str) -> None:
    """Print the newest stored records of KIND."""
    from skynet.api.data import newest_records

    rows = newest_records(settings(), kind, device_id, limit)
    echo_json(rows) if fmt == "json" else echo_table(rows)
