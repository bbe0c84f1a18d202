"""Options and helpers shared by the CLI groups, defined once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from skynet.config import Settings

__all__ = [
    "settings",
    "output_format",
    "model_name",
    "train_options",
    "device_option",
    "echo_json",
    "echo_table",
    "echo_comparison",
    "param_options",
    "search_options",
    "echo_search",
    "with_options",
    "run_search",
]


def settings(ctx: click.Context | None = None) -> Settings:
    """The effective settings, loaded once per invocation from the root's ``--config``."""
    ctx = ctx or click.get_current_context()
    root = ctx.find_root()
    root.ensure_object(dict)
    if "settings" not in root.obj:
        from skynet.config import load_settings

        root.obj["settings"] = load_settings(root.obj.get("config_path"))
    return root.obj["settings"]


output_format = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)

model_name = click.option(
    "--model",
    "model",
    default=None,
    help="A model NAME or TYPE@ALIAS, e.g. user_model@production [default: TYPE@production, else the newest].",
)

#: Options every train command has: how the new model is registered and what it learns from.
train_options = [
    click.option("--dataset", type=click.Path(dir_okay=False), default=None,
                 help="Learn from this materialised data set (parquet) instead of the store."),
    click.option("--holdout-days", type=click.FloatRange(0), default=0.0, show_default=True,
                 help="Leave out the last days before --end (the promotion gate scores on them)."),
    click.option("--alias", default=None, help="Point this alias (e.g. candidate) at the new model."),
]  # fmt: skip

device_option = click.option("--device", "device_id", default=None, help="Device id.")

#: Hyper-parameters of a train command, checked against the model's own.
param_options = [
    click.option("--param", "param_pairs", multiple=True, metavar="NAME=VALUE",
                 help="A hyper-parameter (repeatable), e.g. --param learning_rate=0.05 --param hidden=[64,32]."),
    click.option("--params", "params_file", type=click.Path(dir_okay=False), default=None,
                 help="A YAML file of hyper-parameters (NAME: VALUE); --param overrides it."),
]  # fmt: skip

#: Options of the search commands (``skynet user_model search``, ``skynet estimation search``).
search_options = [
    click.option("--grid", "grid", type=click.Path(dir_okay=False), required=True,
                 help="The search: kind (grid, random), params (values or ranges), fixed, metric, folds, trials."),
    click.option("--wait/--no-wait", default=False, show_default=True,
                 help="Follow the search until it ends (progress on stderr); without, print its id and return."),
    click.option("--timeout", type=click.FloatRange(0, min_open=True), default=None,
                 help="With --wait: give up waiting after this many seconds (the search goes on)."),
    click.option("--promote", "promote", default=None, metavar="ALIAS",
                 help="Point TYPE@ALIAS (e.g. production) at the best model once it is registered."),
]  # fmt: skip


def with_options(options: list[Any]) -> Any:
    """Apply a list of click options in order (the first is listed first in --help)."""

    def decorate(function: Any) -> Any:
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


def echo_json(data: Any) -> None:
    import json

    click.echo(json.dumps(data, indent=2, default=str))


def echo_table(rows: list[dict[str, Any]], floatfmt: str = ".3f") -> None:
    """Print rows of dicts as an aligned text table."""
    if not rows:
        click.echo("(nothing)")
        return
    cols = list(dict.fromkeys(k for r in rows for k in r))

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return format(v, floatfmt)
        return "" if v is None else str(v)

    cells = [[cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip())
    click.echo("  ".join("-" * w for w in widths))
    for row in cells:
        click.echo(
            "  ".join(
                v.rjust(w) if _numeric(v) else v.ljust(w) for v, w in zip(row, widths, strict=True)
            ).rstrip()
        )


def _numeric(v: str) -> bool:
    try:
        float(v.rstrip("%"))
        return True
    except ValueError:
        return False


def echo_comparison(result: dict[str, Any]) -> None:
    """Print what ``skynet.api.promotion.compare`` found: the window, the models, the table."""
    window = result["window"]
    click.echo(f"{result['model_type']} models on {window['rows']} rows from {window['start'][:19]} to "
               f"{window['end'][:19]} (held-out window)")  # fmt: skip
    for model in result["models"]:
        note = (
            " (trained on data in this window: its score flatters it)" if model["trained_on_window"] else ""
        )
        if model["ref"] != model["name"] or note:
            click.echo(f"  {model['ref']}: {model['name']}{note}")
    echo_table(result["table"], floatfmt=".4f")


def echo_search(summary: dict[str, Any]) -> None:
    """Print a search: a line about it, its points (best first), the best point and its model."""
    search, counts = summary["search"], summary["counts"]
    metric = search["metric"]
    click.echo(f"search {search['id']}: {search['model_type']} {search['kind']} search, {search['status']}; "
               f"{counts['done']} done, {counts['failed']} failed, {counts['running']} running, "
               f"{counts['pending']} pending; data slice {search['dataset_hash'][:12]}…")  # fmt: skip
    from skynet.api.params import badness

    rows = sorted(summary["points"], key=lambda r: (badness(metric, r.get(metric)), r["point"]))
    echo_table([{k: v for k, v in r.items() if k != "error"} for r in rows], floatfmt=".4f")
    for row in rows:
        if row.get("error"):
            click.echo(f"point {row['point']} failed: {row['error']}", err=True)
    best = summary.get("best")
    if best is not None:
        click.echo(f"best: point {best['point']} ({metric} {best['value']:.4f}): {best['params']}")
    if summary.get("model"):
        click.echo(f"model {summary['model']}" + (f" ({search['model_type']}@{search['spec']['promote']})"
                                                  if search["spec"].get("promote") else ""))  # fmt: skip
    if search.get("error"):
        click.echo(f"search failed: {search['error']}", err=True)
    if summary.get("plot"):
        click.echo(f"wrote {summary['plot']}")


def run_search(model_type: str, grid: str, wait: bool, timeout: float | None, promote: str | None, fmt: str,
               **selection: Any) -> None:  # fmt: skip
    """Start a search (and follow it with --wait); print its id, or how it ended."""
    from skynet.api.search import start_search, wait_search

    search = start_search(settings(), model_type, grid, promote=promote, **selection)
    if not wait:
        if fmt == "json":
            return echo_json({"search": search.id, "points": search.spec["points"]})
        click.echo(search.id)
        later = search.spec["trials"] - search.spec["points"]
        plans = f" (TPE plans {later} more as points end)" if later else ""
        click.echo(f"queued {search.spec['points']} points{plans}; follow it: skynet experiments show {search.id}",
                   err=True)  # fmt: skip
        return None
    try:
        summary = wait_search(settings(), search.id, timeout, progress=selection.get("progress", True))
    except KeyboardInterrupt:
        click.echo(
            f"stopped waiting; search {search.id} goes on: skynet experiments show {search.id}", err=True
        )
        raise
    if fmt == "json":
        return echo_json(summary)
    echo_search(summary)
    if summary["search"]["status"] == "failed":
        import sys

        sys.exit(1)
    return None
