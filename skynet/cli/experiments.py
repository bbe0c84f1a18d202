"""``skynet experiments``: the hyper-parameter searches: list them, show one, compare several."""

from __future__ import annotations

import click

from skynet.cli.options import echo_json, echo_search, echo_table, output_format, settings

__all__ = ["experiments"]


@click.group()
def experiments() -> None:
    """Hyper-parameter searches: list, show one (points, metrics, best model), compare several."""


@experiments.command("list")
@click.option("--type", "model_type", default=None, help="Only searches of this model type.")
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True, help="The newest N searches.")
@output_format
def list_(model_type: str | None, limit: int, fmt: str) -> None:
    """The newest searches: status, points ended, failed, the best value and the registered model."""
    from skynet.api.experiments import list_searches

    rows = list_searches(settings(), model_type, limit)
    if fmt == "json":
        return echo_json(rows)
    echo_table(rows, floatfmt=".4f")
    return None


@experiments.command()
@click.argument("search_id")
@output_format
def show(search_id: str, fmt: str) -> None:
    """Search SEARCH_ID: each point's parameters, metric, worker, attempts and error; the best
    point and its model; a PNG of the metric against each parameter (its path is printed)."""
    from skynet.api.experiments import show_search

    summary = show_search(settings(), search_id)
    if fmt == "json":
        return echo_json(summary)
    echo_search(summary)
    return None


@experiments.command()
@click.argument("search_ids", nargs=-1, required=True)
@click.option("--metric", default=None, help="The metric to compare [default: the first search's].")
@output_format
def compare(search_ids: tuple[str, ...], metric: str | None, fmt: str) -> None:
    """The points of searches SEARCH_IDS side by side, best first, and a PNG of the metric against each parameter."""
    from skynet.api.experiments import compare_searches

    result = compare_searches(settings(), list(search_ids), metric)
    if fmt == "json":
        return echo_json(result)
    echo_table(result["table"], floatfmt=".4f")
    if result["plot"]:
        click.echo(f"wrote {result['plot']}")
    return None
