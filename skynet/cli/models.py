"""``skynet models``: list and inspect trained models in the model store."""

from __future__ import annotations

import click

from skynet.cli.options import echo_json, echo_table, output_format, settings

__all__ = ["models"]


@click.group()
def models() -> None:
    """List and inspect trained models in the model store."""


@models.command("list")
@click.option("--type", "model_type", default=None, help="Only models of this type (e.g. user_model).")
@output_format
def list_(model_type: str | None, fmt: str) -> None:
    """Trained models, newest first."""
    from skynet.api.models import list_models

    rows = list_models(settings(), model_type)
    if fmt == "json":
        echo_json(rows)
        return
    echo_table([{k: v for k, v in r.items() if k != "metrics"} | r["metrics"] for r in rows])


@models.command("show")
@click.argument("name")
@output_format
def show(name: str, fmt: str) -> None:
    """The manifest of model NAME."""
    from skynet.api.models import show_model

    manifest = show_model(settings(), name)
    if fmt == "json":
        echo_json(manifest)
        return
    import yaml

    click.echo(yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True).rstrip())
