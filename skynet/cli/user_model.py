"""``skynet user_model``: train, evaluate and use the user comfort model."""

from __future__ import annotations

from datetime import datetime

import click

from skynet.cli.options import (
    device_option,
    echo_comparison,
    echo_json,
    echo_table,
    model_name,
    output_format,
    param_options,
    run_search,
    search_options,
    settings,
    train_options,
)

__all__ = ["user_model"]

_selection = [
    click.option("--device", "device_ids", multiple=True, help="Only this device's votes (repeatable)."),
    click.option("--start", type=click.DateTime(), default=None, help="Only votes from this time (UTC)."),
    click.option("--end", type=click.DateTime(), default=None, help="Only votes before this time (UTC)."),
    click.option("--progress/--no-progress", default=True, help="Show progress on stderr."),
]
# Given as text: the API checks every value (number, date, physically possible) in one place
# for options, files and the store alike, so a bad one is one line naming the allowed range.
_CONDITIONS = {
    "temperature": "Indoor air temperature (°C, 0…50).",
    "humidity": "Indoor relative humidity (%, 0…100).",
    "air_speed": "Air speed (m/s, 0…5).",
    "clothing": "Clothing insulation (clo, 0…4).",
    "metabolic_rate": "Metabolic rate (met, 0.6…6); --met.",
    "outdoor_temperature": "Outdoor temperature (°C, -70…60).",
    "outdoor_humidity": "Outdoor relative humidity (%, 0…100).",
    "outdoor_running_mean": "7-day running mean outdoor temperature (°C, -70…60).",
    "latitude": "Latitude (°, -90…90, negative south).",
    "climate": "Köppen climate name, as in DB II.",
    "building_type": "Building type (office, multifamily housing, ...).",
    "cooling_type": "air conditioned, mixed mode or naturally ventilated.",
    "timestamp": "When (ISO date/time, UTC; default now).",
}


def _with(options):
    def decorate(function):
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


@click.group("user_model")
def user_model() -> None:
    """Train, evaluate and use the user comfort model."""


@user_model.command()
@_with(_selection)
@_with(train_options)
@_with(param_options)
@output_format
def train(device_ids: tuple[str, ...], start: datetime | None, end: datetime | None, progress: bool,
          dataset: str | None, holdout_days: float, alias: str | None, param_pairs: tuple[str, ...],
          params_file: str | None, fmt: str) -> None:  # fmt: skip
    """Train on the store's votes (or a --dataset), save the model and register it."""
    from skynet.api.params import parse_params
    from skynet.api.user_model import train as run

    params = parse_params("user_model", param_pairs, params_file)
    name, metrics = run(settings(), list(device_ids) or None, start, end, params=params or None, progress=progress,
                        dataset=dataset, holdout_days=holdout_days, alias=alias)  # fmt: skip
    if fmt == "json":
        echo_json({"model": name, "metrics": metrics})
        return
    click.echo(f"saved model {name}" + (f" as user_model@{alias}" if alias else ""))
    echo_table([{"metric": k, "value": v} for k, v in metrics.items()])


@user_model.command()
@_with(search_options)
@_with(_selection)
@_with(train_options[:2])
@output_format
def search(grid: str, wait: bool, timeout: float | None, promote: str | None, device_ids: tuple[str, ...],
           start: datetime | None, end: datetime | None, progress: bool, dataset: str | None, holdout_days: float,
           fmt: str) -> None:  # fmt: skip
    """Hyper-parameter search on Celery workers: one task per point of --grid, each a grouped
    cross-validation on the same data slice; the best point is trained on all of it and registered.

    Without --wait it prints the search id (follow it: skynet experiments show ID).
    """
    run_search("user_model", grid, wait, timeout, promote, fmt, device_ids=list(device_ids) or None, start=start,
               end=end, dataset=dataset, holdout_days=holdout_days, progress=progress)  # fmt: skip


@user_model.command()
@click.option("--folds", default=5, show_default=True, type=click.IntRange(2), help="Device-grouped folds.")
@click.option(
    "--holdout",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0.0, 0.5),
    help="Share of the devices set aside (chosen by a hash of their id) and reported separately.",
)
@click.option(
    "--sim-homes",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="Also simulate this many homes and report how well their people's true offsets are found.",
)
@click.option(
    "--sim-days", default=30.0, show_default=True, type=click.FloatRange(1.0), help="Days simulated."
)
@_with(_selection)
@model_name
@click.option("--days", type=click.FloatRange(0, min_open=True), default=7.0, show_default=True,
              help="With --model: the window's length when --start is not given.")  # fmt: skip
@output_format
def evaluate(folds: int, holdout: float, sim_homes: int, sim_days: float, device_ids: tuple[str, ...],
             start: datetime | None, end: datetime | None, progress: bool, model: str | None, days: float,
             fmt: str) -> None:  # fmt: skip
    """Cross-validate by device against PMV and "always comfy"; personalization curves; plot paths.

    With --model REF (a NAME or user_model@ALIAS), backtest that stored model instead: score it
    on the held-out window [--start, --end) (default: the newest --days of votes).
    """
    if model is not None:
        from skynet.api.promotion import backtest

        result = backtest(settings(), model, "user_model", start, end, days)
        if fmt == "json":
            return echo_json(result)
        return echo_comparison(result)
    from skynet.api.user_model import evaluate as run

    result = run(settings(), folds, list(device_ids) or None, start, end, progress=progress, holdout=holdout,
                 sim_homes=sim_homes, sim_days=sim_days)  # fmt: skip
    if fmt == "json":
        echo_json(result)
        return
    click.echo(f"{result['folds']}-fold cross-validation grouped by device: {result['n_rows']} votes, "
               f"{result['n_devices']} devices, {result['n_people']} people, {result['seconds']} s")  # fmt: skip
    _echo_evaluation(result)
    if "holdout" in result:
        held = result["holdout"]
        click.echo(f"\n=== held-out devices (never in the cross-validation; a model trained on all the others): "
                   f"{held['n_rows']} votes, {held['n_devices']} devices, {held['n_people']} people ===")  # fmt: skip
        _echo_evaluation(held)
    if "recovery" in result:
        rec = result["recovery"]
        click.echo(f"\nsimulated homes ({rec['homes']} homes x {rec['days']:g} days, seed {rec['seed']}, "
                   f"{rec['votes']} votes): true comfort offsets vs the ones found on held-out homes")  # fmt: skip
        echo_table(rec["table"])
    click.echo("")
    for path in [*result["plots"], result["report"]]:
        click.echo(f"wrote {path}")


def _echo_evaluation(result: dict) -> None:
    click.echo("cold start (no vote of the device known) and online (each vote after the earlier ones):")
    echo_table(result["table"])
    cal = result["calibration"]
    click.echo(f"calibration of the expected vote: slope {cal['slope']:.3f}, intercept {cal['intercept']:.3f}, "
               f"decile error {cal['ece_deciles']:.3f} (online {result['calibration_online']['ece_deciles']:.3f}); "
               f"log loss of the 7 probabilities {cal['log_loss']:.3f}")  # fmt: skip
    click.echo("\npersonalization per person: median-vote MAE on a person's later votes after n of their own")
    echo_table(result["person_curve"])
    click.echo("\npersonalization per device: MAE on each device's later votes after its first n votes")
    echo_table(result["curve"])


@user_model.command()
@device_option
@_with([click.option(f"--{name.replace('_', '-')}" if name != "metabolic_rate" else "--met", name, default=None,
                     help=text) for name, text in _CONDITIONS.items()])  # fmt: skip
@click.option("--input", "input_path", type=click.Path(dir_okay=False), help="CSV or Parquet comfort frame.")
@click.option("--user", "user_id", default=None,
              help="The person (with --device: that person's offset and slope, learned from their votes "
                   "in the device's history; else the device's typical person, then the fleet's).")  # fmt: skip
@model_name
@output_format
def predict(
    device_id: str | None,
    input_path: str | None,
    user_id: str | None,
    model: str | None,
    fmt: str,
    **conditions,
) -> None:
    """Expected feedback and the probability of each vote (-3…3).

    From a device's latest readings (--device), from given conditions (--temperature ...,
    personalized when --device is given too, per person with --user) or for every row of a
    file (--input).
    """
    from skynet.api.user_model import predict as run

    given = {k: v for k, v in conditions.items() if v is not None} or None
    name, rows = run(settings(), device_id=device_id, conditions=given, path=input_path, model=model,
                     user_id=user_id)  # fmt: skip
    if fmt == "json":
        echo_json({"model": name, "rows": rows})
        return
    shown = ["device_id", "user_id", "timestamp", "temperature", "expected", "median", "offset", "slope",
             "personal", "n_feedback"]  # fmt: skip
    click.echo(f"model {name}")
    echo_table(
        [
            {k: r[k] for k in shown if k in r} | {k: v for k, v in r.items() if k.startswith("p_")}
            for r in rows
        ]
    )
