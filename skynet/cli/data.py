"""``skynet data``: import data sets into the store, ingest live events, check what arrived, look at it."""

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


@data.command("ingest")
@click.option("--consumer", default=None, help="This ingester's name [default: <host>-<pid>].")
@click.option("--batch", type=click.IntRange(1, 100_000), default=1000, show_default=True,
              help="Events read and written per pass.")  # fmt: skip
@click.option("--once", is_flag=True, help="Stop when no event is left to read (a store failure: exit 1).")
@click.option("--max-events", type=click.IntRange(1), default=None, help="Stop after this many events.")
@click.option("--heartbeat-file", type=click.Path(dir_okay=False), default=None,
              help="Write the heartbeat to this file (see `data ingest-health`).")  # fmt: skip
@click.option("--claim-idle-ms", type=click.IntRange(0), default=60_000, show_default=True,
              help="Take over events another ingester left pending this long.")  # fmt: skip
@click.option("--events", type=click.File("r"), default=None,
              help="Ingest JSON-line events from this file ('-': stdin) instead of the live store.")  # fmt: skip
@output_format
def ingest(consumer: str | None, batch: int, once: bool, max_events: int | None, heartbeat_file: str | None,
           claim_idle_ms: int, events, fmt: str) -> None:  # fmt: skip
    """Write device events to the record store; SIGTERM finishes the batch and stops.

    Reads the control workers' event streams (storage.live_url) as a consumer group of its
    own, so a slow database never slows decisions, and writes readings, weather, votes, AC
    states and control targets to storage.url (readings and weather: storage.timeseries_url
    when set). Idempotent: a redelivered event stores nothing twice.
    """
    from skynet.api.ingest import run_ingest

    result = run_ingest(settings(), consumer=consumer, batch=batch, once=once, max_events=max_events,
                        heartbeat_file=heartbeat_file, claim_idle_ms=claim_idle_ms, events=events)  # fmt: skip
    if fmt == "json":
        echo_json(result)
        return
    click.echo(f"ingested {result['events']} events from {result['live']} into {result['store']} "
               f"in {result['seconds']} s; {result['backlog']} left to ingest")  # fmt: skip
    stored = [{"kind": kind, "new": n} for kind, n in sorted(result["stored"].items())]
    echo_table(stored) if stored else click.echo("no new records")
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(result["skipped"].items())) or "none"
    click.echo(f"duplicates {result['duplicates']}; skipped {skipped}; refused {result['refused']}; "
               f"store failures {result['failures']}")  # fmt: skip


@data.command("ingest-health")
@click.option(
    "--heartbeat-file", type=click.Path(dir_okay=False), required=True, help="The ingester's heartbeat."
)
@click.option("--max-age", type=float, default=15.0, show_default=True, help="Seconds before it is stale.")
@click.option("--max-backlog", type=click.IntRange(0), default=None,
              help="Also unhealthy when more events than this wait for ingestion.")  # fmt: skip
def ingest_health(heartbeat_file: str, max_age: float, max_backlog: int | None) -> None:
    """Exit 0 when the ingester is alive (its heartbeat file is fresh), 1 otherwise; print it as JSON."""
    from skynet.api.ingest import ingest_health as check

    result = check(heartbeat_file, max_age=max_age, max_backlog=max_backlog)
    echo_json(result)
    if not result["healthy"]:
        click.get_current_context().exit(1)


@data.command("ingest-drop")
@click.confirmation_option(
    prompt="Stop keeping events for ingestion (no ingester will read the ones queued)?"
)
def ingest_drop() -> None:
    """Remove the ingest consumer group, when no ingester will run again (else the streams keep every event)."""
    from skynet.api.ingest import drop_ingest_group

    result = drop_ingest_group(settings())
    click.echo(
        f"dropped the ingest group on {result['live']}: backlogs {result['before']} -> {result['after']}"
    )


_WHEN = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M"])


def _kinds(_ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]) -> list[str]:
    from skynet.api.data import TIMED_KINDS

    kinds = [k.strip() for item in value for k in item.split(",") if k.strip()] or ["sensor_reading"]
    for kind in kinds:
        if kind not in TIMED_KINDS:
            raise click.BadParameter(f"{kind!r} is not one of {', '.join(TIMED_KINDS)}")
    return list(dict.fromkeys(kinds))


def _gaps(
    ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]
) -> list[tuple[str | None, float]]:
    out = []
    for item in value:
        kind, equals, minutes = item.rpartition("=")
        try:
            out.append((kind if equals else None, float(minutes)))
        except ValueError:
            raise click.BadParameter(f"{item!r} is not MINUTES or KIND=MINUTES") from None
    return out


@data.command("collect")
@click.option("--start", type=_WHEN, required=True, help="Start of the interval (UTC, included).")
@click.option("--end", type=_WHEN, required=True, help="End of the interval (UTC, excluded).")
@click.option("--kinds", multiple=True, callback=_kinds, metavar="KIND[,KIND...]",
              help="Record kinds that must have arrived  [default: sensor_reading].")  # fmt: skip
@click.option("--min-devices", type=click.IntRange(1), default=1, show_default=True,
              help="Fewest devices each kind needs records from.")  # fmt: skip
@click.option("--max-gap", multiple=True, callback=_gaps, metavar="[KIND=]MINUTES",
              help="Longest stretch without a record of a kind (of every listed kind without KIND=).")  # fmt: skip
@click.option("--progress/--no-progress", default=True, help="Show a progress bar on stderr.")
@output_format
def collect(start, end, kinds: list[str], min_devices: int, max_gap: list[tuple[str | None, float]],
            progress: bool, fmt: str) -> None:  # fmt: skip
    """Check what arrived in the store for an interval; exit 1 on a missing kind or a gap.

    The nightly training DAGs run it first, so a model is never trained on an interval whose
    data did not arrive (an ingestion outage shows as a gap).
    """
    from skynet.api.data import collect_report

    gaps = {
        kind: minutes
        for kind_or_all, minutes in max_gap
        for kind in ([kind_or_all] if kind_or_all else kinds)
    }
    kinds = list(dict.fromkeys([*kinds, *gaps]))  # a kind with a gap limit is checked too
    result = collect_report(
        settings(), start, end, kinds, min_devices=min_devices, max_gap=gaps, progress=progress
    )
    if fmt == "json":
        echo_json(result)
        return
    click.echo(f"arrived {start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} in {result['store']}:")
    echo_table([{k: row[k] for k in ("kind", "rows", "devices", "first", "last", "largest_gap_min", "max_gap_min")}
                for row in result["kinds"]], floatfmt=".1f")  # fmt: skip
