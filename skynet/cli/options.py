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
