"""``skynet control``: decide AC commands, run the control worker, evaluate control in closed loop."""

from __future__ import annotations

import json

import click

from skynet.cli.options import echo_json, output_format, settings

__all__ = ["control"]

#: Kept here (not imported from skynet.sim) so `skynet control --help` stays fast.
CLIMATES = ("hot-humid", "hot-dry", "temperate", "cold", "tropical", "mediterranean")


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
    from skynet.api.control import format_decision

    result = decide_(settings(), device_id, at=at)
    if fmt == "json":
        echo_json(result)
        return
    click.echo(format_decision(result))


@control.command("evaluate")
@click.option("--devices", default=10, show_default=True, type=click.IntRange(min=1), help="Simulated homes.")
@click.option("--days", default=3.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Simulated days.")  # fmt: skip
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the simulated homes.")
@click.option("--climate", default="hot-humid", show_default=True, type=click.Choice(CLIMATES),
              help="Synthetic climate preset.")  # fmt: skip
@click.option("--weather-file", type=click.Path(dir_okay=False), default=None,
              help="EPW weather file (replaces --climate).")  # fmt: skip
@click.option("--interval", default=5, show_default=True, type=click.IntRange(1, 60),
              help="Minutes between regular decisions.")  # fmt: skip
@click.option("--train", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True,
              help="auto: the store's newest models, trained on simulated homes where missing.")  # fmt: skip
@click.option("--train-devices", default=20, show_default=True, type=click.IntRange(min=2),
              help="Simulated homes (per set) models are trained on, when trained here.")  # fmt: skip
@click.option("--train-days", default=10.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Days those homes are simulated.")  # fmt: skip
@click.option("--occupant-actions/--no-occupant-actions", default=False, show_default=True,
              help="Let the simulated people change the AC themselves.")  # fmt: skip
@click.option("--engine", type=click.Choice(["builtin", "energyplus"]), default="builtin", show_default=True,
              help="builtin: skynet's simulated homes; energyplus: a prototype building's zones as homes (extra).")  # fmt: skip
@click.option("--building", default="apartment-midrise", show_default=True,
              help="energyplus: a prototype (skynet sim buildings) or an IDF file.")  # fmt: skip
@click.option("--weather", default="miami", show_default=True, metavar="CITY_OR_EPW",
              help="energyplus: a city (skynet sim weather) or an EPW file.")  # fmt: skip
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="energyplus: first local day [default: 2025-07-15].")  # fmt: skip
@click.option("--sweep", default="auto", show_default=True, metavar="auto|none|T1,T2,...",
              help="Fixed set points tried for the best one (auto: 1 K steps from the band's top).")  # fmt: skip
@click.option("--cache/--no-cache", default=True, show_default=True,
              help="Reuse models trained here before for the same training homes ({data_dir}/cache).")  # fmt: skip
@click.option("--progress/--no-progress", default=True, help="Show progress bars on stderr.")
@output_format
def evaluate(devices: int, days: float, seed: int, climate: str, weather_file: str | None, interval: int,
             train: str, train_devices: int, train_days: float, occupant_actions: bool, engine: str, building: str,
             weather: str, start, sweep: str, cache: bool, progress: bool, fmt: str) -> None:  # fmt: skip
    """Closed loop: skynet vs fixed 24 °C, a comfort-band thermostat and the best fixed set point.

    On skynet's simulated homes, or (--engine energyplus) on the zones of an EnergyPlus
    prototype building with the simulator's people; there --devices, --climate and
    --weather-file shape the homes the comfort model learns from, and the estimation model
    learns the building from an EnergyPlus run of the --train-days before --start.
    """
    from skynet.api.control import evaluate as evaluate_
    from skynet.api.control import format_evaluation

    result = evaluate_(settings(), devices, days, seed, climate, weather_file, interval, train=train,
                       train_devices=train_devices, train_days=train_days, occupant_actions=occupant_actions,
                       progress=progress, engine=engine, building=building, weather=weather,
                       start=start.date() if start else None, cache=cache, sweep=sweep)  # fmt: skip
    if fmt == "json":
        echo_json(result)
        return
    click.echo(format_evaluation(result))


@control.command("worker")
@click.option(
    "--embedded",
    is_flag=True,
    help="No server: read events as JSON lines (--events) into an in-process queue.",
)
@click.option(
    "--consumer", default=None, help="Worker name, unique among the workers [default: <host>-<pid>]."
)
@click.option(
    "--batch",
    type=click.IntRange(1, 10_000),
    default=256,
    show_default=True,
    help="Events read per pass (spread over the partitions).",
)
@click.option(
    "--events", type=click.File("r"), default="-", help="Embedded: file of JSON-line events [default: stdin]."
)
@click.option(
    "--heartbeat-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the heartbeat to this file.",
)
@click.option("--lease-ms", type=click.IntRange(100), default=5000, show_default=True,
              help="How long a silent worker keeps its partitions.")  # fmt: skip
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="Serve Prometheus metrics at http://0.0.0.0:PORT/metrics [default: off].")  # fmt: skip
def worker(
    embedded: bool, consumer: str | None, batch: int, events, heartbeat_file: str | None, lease_ms: int,
    metrics_port: int | None,
) -> None:  # fmt: skip
    """Consume device events, decide, emit commands; SIGTERM drains and stops.

    Reads the live store at storage.live_url (Redis); with --embedded it runs on an in-process
    queue fed from --events, prints each command as a JSON line and stops at the end of the
    events. Decisions go to the decision log (storage.decisions_url, default storage.url).
    """
    from skynet.api.worker import run_worker

    summary = run_worker(settings(), embedded=embedded, consumer=consumer, batch=batch, events=events,
                         heartbeat_file=heartbeat_file, lease_ms=lease_ms, on_command=click.echo,
                         metrics_port=metrics_port)  # fmt: skip
    click.echo(json.dumps({k: v for k, v in summary.items() if k != "live"}, default=str), err=True)


@control.command("send-event")
@click.option("--device", "device_id", required=True, help="Device id.")
@click.option("--type", "kind", type=click.Choice(["reading", "weather", "feedback", "target", "appliance", "device"]),
              required=True, help="Event type.")  # fmt: skip
@click.option(
    "--field",
    "extra",
    multiple=True,
    metavar="NAME=VALUE",
    help="Any event field (JSON value, else text), repeatable; time= and event_id= work too.",
)
@click.option("--temperature", type=float, help="°C (reading, weather).")
@click.option("--humidity", type=float, help="%RH (reading, weather).")
@click.option("--value", type=float, help="Feedback vote -3…3, or the target's value.")
@click.option("--mode", help="Target mode (comfort, temperature, humidity, away, off, manual) or AC mode.")
@click.option("--power/--no-power", default=None, help="Appliance power.")
@click.option("--set-temperature", type=float, help="Appliance set temperature (°C).")
@click.option("--fan", help="Appliance fan speed.")
@click.option("--event-id", default=None, help="Event id [default: random].")
@click.option("--at", type=click.DateTime(["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]), default=None,
              help="Event time, UTC [default: now].")  # fmt: skip
@click.option(
    "--embedded", is_flag=True, help="Only print the event's JSON line (for `control worker --embedded`)."
)
def send_event(device_id: str, kind: str, extra: tuple[str, ...], event_id: str | None, at, embedded: bool,
               **named) -> None:  # fmt: skip
    """Queue one device event for the control workers (prints it; embedded: only prints it)."""
    from skynet.api.worker import send_event as send

    fields = {k: v for k, v in named.items() if v is not None}
    result = send(settings(), device_id, kind, at=at, event_id=event_id, embedded=embedded, fields=fields,
                  assignments=extra)  # fmt: skip
    click.echo(result["event"])
    if result["queued"] is not None:
        click.echo(f"queued as {result['queued']} on {result['live']}", err=True)


@control.command("health")
@click.option("--consumer", default=None, help="Check this worker only [default: any].")
@click.option("--heartbeat-file", type=click.Path(dir_okay=False), default=None,
              help="Check this heartbeat file (embedded workers) instead of the live store.")  # fmt: skip
@click.option(
    "--max-age", type=float, default=15.0, show_default=True, help="Seconds before a heartbeat file is stale."
)
@click.option("--allow-fallback", is_flag=True,
              help="Healthy even when a model is missing and the fallback thermostat decides.")  # fmt: skip
def health(consumer: str | None, heartbeat_file: str | None, max_age: float, allow_fallback: bool) -> None:
    """Exit 0 when control workers are alive (their heartbeats) and have their models, 1 otherwise;
    print them as JSON (and, unhealthy, why on stderr)."""
    from skynet.api.worker import worker_health

    result = worker_health(settings(), consumer=consumer, heartbeat_file=heartbeat_file, max_age=max_age,
                           allow_fallback=allow_fallback)  # fmt: skip
    echo_json(result)
    if not result["healthy"]:
        if result.get("problem"):
            click.echo(f"unhealthy: {result['problem']}", err=True)
        click.get_current_context().exit(1)
