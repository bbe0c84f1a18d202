"""``skynet models``: list, inspect and convert trained models in the model store."""

from __future__ import annotations

import click

from skynet.cli.options import echo_json, echo_table, output_format, settings

__all__ = ["models"]


@click.group()
def models() -> None:
    """List, inspect and convert trained models in the model store."""


@models.command("list")
@click.option("--type", "model_type", default=None, help="Only models of this type (e.g. user_model).")
@output_format
def list_(model_type: str | None, fmt: str) -> None:
    """Trained models, newest first, each verified (status ok, corrupt or old-format)."""
    from skynet.api.models import list_models

    rows = list_models(settings(), model_type)
    if fmt == "json":
        echo_json(rows)
        return
    echo_table([{k: v for k, v in r.items() if k not in ("metrics", "problem")} | r["metrics"] for r in rows])
    for row in rows:
        if row["problem"]:
            click.echo(f"{row['name']}: {row['status']}: {row['problem']}", err=True)


@models.command("show")
@click.argument("name")
@output_format
def show(name: str, fmt: str) -> None:
    """The manifest of model NAME, with its status (ok, corrupt or old-format)."""
    from skynet.api.models import show_model

    manifest = show_model(settings(), name)
    if fmt == "json":
        echo_json(manifest)
        return
    import yaml

    click.echo(yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True).rstrip())


@models.command("convert")
@click.argument("name")
@click.option(
    "--trust-pickle",
    is_flag=True,
    help="Unpickle the old artifact (this runs any code it holds): only for a model you trust.",
)
def convert(name: str, trust_pickle: bool) -> None:
    """Rewrite model NAME, saved by an older skynet as a joblib pickle, in the pickle-free format."""
    from skynet.api.models import convert_model

    shown = convert_model(settings(), name, trust_pickle=trust_pickle)
    click.echo(f"{name}: converted to {shown['artifact']['file']} (status {shown['status']})")
