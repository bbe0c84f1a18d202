"""``skynet config``: show and check the effective configuration."""

from __future__ import annotations

import click

from skynet.cli.options import echo_json, output_format, settings

__all__ = ["config"]


@click.group()
def config() -> None:
    """Show and check the effective configuration."""


@config.command("show")
@output_format
def show(fmt: str) -> None:
    """Print the effective configuration (file + environment), passwords masked."""
    from skynet.api.config import effective_config

    data = effective_config(settings())
    if fmt == "json":
        echo_json(data)
        return
    import yaml

    click.echo(yaml.safe_dump(data, sort_keys=False).rstrip())


@config.command("check")
@click.option("--connect", is_flag=True, help="Also open every configured store (connects to its server).")
def check(connect: bool) -> None:
    """Validate the configuration and exit 0 if it is good: every key and value, and every store
    URL (a known scheme whose driver imports; with --connect, a store that opens)."""
    from skynet.api.config import check_config

    s = settings()
    for url in check_config(s, connect=connect):
        state = "connected" if url.connected else f"driver {url.driver or '(none)'} imports"
        click.echo(f"storage.{url.key}: {url.url} ({state})")
    click.echo(f"configuration OK (from {s.source})")
