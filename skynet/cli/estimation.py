"""``skynet estimation``: train, evaluate and use the room climate estimation model."""

from __future__ import annotations

from datetime import datetime

import click

from skynet.cli.options import (
    echo_json,
    echo_table,
    model_name,
    output_format,
    param_options,
    run_search,
    search_options,
    settings,
    train_options,
    with_options,
)

__all__ = ["estimation"]

_WHEN = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"])
_start = click.option("--start", type=_WHEN, default=None, help="Only readings from this time (UTC).")
_end = click.option("--end", type=_WHEN, default=None, help="Only readings before this time (UTC).")
_progress = click.option("--progress/--no-progress", default=True, help="Show progress on stderr.")


@click.group("estimation")
def estimation() -> None:
    """Train, evaluate and use the room climate estimation model."""


@estimation.command()
@click.option(
    "--device", "devices", multiple=True, help="Learn from these devices (ids or globs; repeatable)."
)
@_start
@_end
@click.option("--epochs", type=click.IntRange(1), default=None, help="Most training epochs [default: 60].")
@_progress
@train_options[0]
@train_options[1]
@train_options[2]
@with_options(param_options)
@output_format
def train(devices: tuple[str, ...], start: datetime | None, end: datetime | None, epochs: int | None,
          progress: bool, dataset: str | None, holdout_days: float, alias: str | None, param_pairs: tuple[str, ...],
          params_file: str | None, fmt: str) -> None:  # fmt: skip
    """Train on the store's readings and AC states (or a --dataset), save the model and register it."""
    from skynet.api.estimation import train as run
    from skynet.api.params import parse_params

    params = parse_params("estimation", param_pairs, params_file)
    params.update({"epochs": epochs} if epochs else {})
    name, metrics = run(settings(), list(devices) or None, start, end, params=params or None, progress=progress,
                        dataset=dataset, holdout_days=holdout_days, alias=alias)  # fmt: skip
    if fmt == "json":
        return echo_json({"model": name, "metrics": metrics})
    click.echo(f"saved model {name}" + (f" as estimation@{alias}" if alias else ""))
    echo_table([{"metric": k, "value": v} for k, v in metrics.items()])


@estimation.command()
@with_options(search_options)
@click.option(
    "--device", "devices", multiple=True, help="Learn from these devices (ids or globs; repeatable)."
)
@_start
@_end
@_progress
@train_options[0]
@train_options[1]
@output_format
def search(grid: str, wait: bool, timeout: float | None, promote: str | None, devices: tuple[str, ...],
           start: datetime | None, end: datetime | None, progress: bool, dataset: str | None, holdout_days: float,
           fmt: str) -> None:  # fmt: skip
    """Hyper-parameter search on Celery workers: one task per point of --grid, each a grouped
    cross-validation on the same data slice; the best point is trained on all of it and registered.

    Without --wait it prints the search id (follow it: skynet experiments show ID).
    """
    run_search("estimation", grid, wait, timeout, promote, fmt, device_ids=list(devices) or None, start=start,
               end=end, dataset=dataset, holdout_days=holdout_days, progress=progress)  # fmt: skip


@estimation.command()
@click.option("--test-device", "test", multiple=True, help="Held-out devices (ids or globs; repeatable).")
@click.option("--train-device", "train", multiple=True, help="Devices to learn from [default: the others].")
@click.option(
    "--device", "devices", multiple=True, help="Only these devices at all (ids or globs; repeatable)."
)
@click.option("--test-share", default=0.3, show_default=True, type=click.FloatRange(0, 1, min_open=True,
              max_open=True), help="Share of devices held out without --test-device.")  # fmt: skip
@click.option("--plots", default=3, show_default=True, type=click.IntRange(0), help="Devices to plot.")
@_start
@_end
@model_name
@_progress
@output_format
def evaluate(test: tuple[str, ...], train: tuple[str, ...], devices: tuple[str, ...], test_share: float, plots: int,
             start: datetime | None, end: datetime | None, model: str | None, progress: bool,
             fmt: str) -> None:  # fmt: skip
    """Score on unseen devices against persistence and a per-device fitted RC model.

    Without --model a model is trained on the training devices for this evaluation; with
    --model that stored model is scored as it is, on devices it was not trained on.
    """
    from skynet.api.estimation import evaluate as run

    result = run(settings(), list(test) or None, list(train) or None, device_ids=list(devices) or None,
                 test_share=test_share, start=start, end=end, model=model, plots=plots, progress=progress)  # fmt: skip
    if fmt == "json":
        return echo_json(result)
    tr, te = result["train_devices"], result["test_devices"]
    click.echo(f"trained on {tr['count']} devices ({result['n_train_rows']} rows), tested on {te['count']} unseen "
               f"devices ({result['n_rows']} rows, after each one's RC calibration period) in {result['seconds']} s")  # fmt: skip
    click.echo(f"model: {result['model']}; rc: {result['rc']['form']}")
    for quantity, unit in (("temperature", "°C"), ("humidity", "%RH")):
        click.echo(f"\n{quantity} ({unit})")
        echo_table([{k: v for k, v in row.items() if k != "quantity"} for row in result["table"]
                    if row["quantity"] == quantity])  # fmt: skip
    click.echo("")
    for path in [*result["plots"], result["report"]]:
        click.echo(f"wrote {path}")


@estimation.command()
@click.option("--device", "device_id", required=True, help="Device id.")
@click.option("--command", "commands", multiple=True, metavar="off|MODE:SET[:FAN]",
              help="An AC command to forecast, e.g. cool:24:auto (repeatable) [default: keep the current one].")  # fmt: skip
@click.option("--at", type=_WHEN, default=None, help="Forecast from the newest reading at or before (UTC).")
@model_name
@output_format
def predict(
    device_id: str, commands: tuple[str, ...], at: datetime | None, model: str | None, fmt: str
) -> None:
    """Forecast a device's temperature and humidity 5-60 minutes ahead under AC commands."""
    from skynet.api.estimation import predict as run

    result = run(settings(), device_id, list(commands) or None, at=at, model=model)
    if fmt == "json":
        return echo_json(result)
    state = result["state"]
    click.echo(f"model {result['model']}; {device_id} at {state['timestamp']}: {state['temperature']:.1f} °C, "
               f"{state['humidity']:.0f} %RH, outdoor {state['outdoor_temperature']:.1f} °C")  # fmt: skip
    echo_table(result["rows"], floatfmt=".2f")
