"""``skynet db``: create and migrate the SQL schema, and see what the store holds."""

from __future__ import annotations

import click

from skynet.cli.options import echo_json, echo_table, output_format, settings

__all__ = ["db"]


@click.group()
def db() -> None:
    """Create and migrate the SQL schema of the record store (storage.url)."""


@db.command("upgrade")
def upgrade() -> None:
    """Create the schema or migrate it to the newest revision."""
    from skynet.api.db import upgrade as upgrade_schema

    revision = upgrade_schema(settings())
    click.echo(f"schema at revision {revision} (head)")


@db.command("current")
@output_format
def current(fmt: str) -> None:
    """Show the schema revision in the database and the one this skynet needs."""
    from skynet.api.db import current as current_state

    state = current_state(settings())
    if fmt == "json":
        echo_json(state)
        return
    status = "up to date" if state["up_to_date"] else "behind: run `skynet db upgrade`"
    click.echo(
        f"url: {state['url']}\nrevision: {state['revision'] or '(none)'}\nhead: {state['head']} ({status})"
    )


@db.command("describe")
@output_format
def describe(fmt: str) -> None:
    """Count the records of each kind in the store."""
    from skynet.api.db import describe as describe_store

    info = describe_store(settings())
    if fmt == "json":
        echo_json(info)
        return
    click.echo(f"{info['adapter']} at {info['url']} (schema revision {info.get('schema_revision') or '-'})")
    echo_table([{"kind": kind, "records": count} for kind, count in info["counts"].items()])
