"""``skynet models``: the model registry: list, inspect, register, convert, delete and
garbage-collect models; aliases (promote, rollback, history); compare models and the
promotion gate; lineage."""

from __future__ import annotations

from datetime import datetime

import click

from skynet.cli.options import echo_comparison, echo_json, echo_table, output_format, settings

__all__ = ["models"]

_WHEN = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"])
_type = click.option("--type", "model_type", default=None, help="Only models of this type (e.g. user_model).")
_alias = click.option("--alias", default="production", show_default=True, help="The alias.")
_reason = click.option("--reason", default=None, help="Why (kept in the alias's history).")
_window = [
    click.option("--start", type=_WHEN, default=None, help="Window start (UTC) [default: END - DAYS]."),
    click.option("--end", type=_WHEN, default=None, help="Window end (UTC, excluded) [default: the newest data]."),
    click.option("--days", type=click.FloatRange(0, min_open=True), default=7.0, show_default=True,
                 help="Window length when --start is not given."),  # fmt: skip
]


def window(function):
    """The held-out window options (``--start``, ``--end``, ``--days``), shared by the scoring commands."""
    for option in reversed(_window):
        function = option(function)
    return function


@click.group()
def models() -> None:
    """The model registry: list, inspect, promote, compare and clean up trained models."""


@models.command("list")
@_type
@output_format
def list_(model_type: str | None, fmt: str) -> None:
    """Registered models, newest first, each verified (status ok, corrupt, old-format or unregistered)."""
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
    """Model NAME: its manifest, registry record (artifact, lineage), aliases and status."""
    from skynet.api.models import show_model

    manifest = show_model(settings(), name)
    if fmt == "json":
        echo_json(manifest)
        return
    import yaml

    click.echo(
        yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True, default_flow_style=None).rstrip()
    )


@models.command("register")
@click.argument("source")
@click.option("--alias", default=None, help="Also point this alias at it.")
def register(source: str, alias: str | None) -> None:
    """Register a saved model folder: a NAME in a folder store the registry lacks, or a PATH."""
    from skynet.api.models import register_folder

    shown = register_folder(settings(), source, alias)
    click.echo(f"registered {shown['name']} ({shown['status']}) at {shown['registry']['artifact_uri']}")


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


@models.command("delete")
@click.argument("name")
def delete(name: str) -> None:
    """Delete model NAME and its artifact (refused while an alias points at it)."""
    from skynet.api.models import delete_model

    done = delete_model(settings(), name)
    click.echo(
        f"deleted {name} ({done['artifact']}{'' if done['artifact_removed'] else ': no files were left'})"
    )


@models.command("gc")
@click.option("--keep", type=click.IntRange(0), required=True, help="Newest versions to keep per type.")
@_type
@click.option("--dry-run", is_flag=True, help="Only say what would be deleted.")
@output_format
def gc(keep: int, model_type: str | None, dry_run: bool, fmt: str) -> None:
    """Delete all but the KEEP newest models of each type (never an aliased one), artifacts too."""
    from skynet.api.models import gc_models

    done = gc_models(settings(), keep, model_type, dry_run)
    if fmt == "json":
        return echo_json(done)
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{verb} {len(done['deleted'])} models, kept {len(done['kept'])}; "
               f"dropped {len(done['cache_dropped'])} cached artifacts")  # fmt: skip
    for name in done["deleted"]:
        click.echo(f"  {verb} {name}")


@models.command("promote")
@click.argument("ref")
@_alias
@_reason
@output_format
def promote(ref: str, alias: str, reason: str | None, fmt: str) -> None:
    """Point TYPE@ALIAS at model REF (a NAME or TYPE@ALIAS), after checking it loads."""
    from skynet.api.promotion import promote as run

    event = run(settings(), ref, alias, reason)
    if fmt == "json":
        return echo_json(event)
    click.echo(
        f"{event['model_type']}@{event['alias']}: {event['old_name'] or '(new)'} -> {event['new_name']}"
    )


@models.command("rollback")
@_alias
@_type
@_reason
@output_format
def rollback(alias: str, model_type: str | None, reason: str | None, fmt: str) -> None:
    """Move an alias back to the model it pointed at before the current one."""
    from skynet.api.promotion import rollback as run

    event = run(settings(), alias, model_type, reason)
    if fmt == "json":
        return echo_json(event)
    click.echo(
        f"{event['model_type']}@{event['alias']}: {event['old_name']} -> {event['new_name']} (rolled back)"
    )


@models.command("aliases")
@_type
@output_format
def aliases(model_type: str | None, fmt: str) -> None:
    """Current aliases, then their history: who moved which alias, when and why."""
    from skynet.api.promotion import aliases as run

    shown = run(settings(), model_type)
    if fmt == "json":
        return echo_json(shown)
    echo_table(shown["aliases"])
    click.echo("\nhistory")
    echo_table([{"time": e["time"], "alias": f"{e['model_type']}@{e['alias']}", "action": e["action"],
                 "from": e["old_name"], "to": e["new_name"], "who": e["who"], "reason": e["reason"]}
                for e in shown["history"]])  # fmt: skip


@models.command("compare")
@click.argument("refs", nargs=-1, required=True)
@window
@output_format
def compare(
    refs: tuple[str, ...], start: datetime | None, end: datetime | None, days: float, fmt: str
) -> None:
    """Score models REFS (names or TYPE@ALIAS) on the same held-out window and print the table."""
    from skynet.api.promotion import compare as run

    result = run(settings(), list(refs), start, end, days)
    if fmt == "json":
        return echo_json(result)
    echo_comparison(result)


@models.command("promote-if-better")
@click.argument("candidate")
@_alias
@click.option("--metric", default="mae", show_default=True, help="The metric that decides (mae, rmse, ...).")
@click.option("--margin", type=click.FloatRange(0), default=0.0, show_default=True,
              help="How much better (in the metric's units) the candidate must be.")  # fmt: skip
@window
@output_format
def promote_if_better(candidate: str, alias: str, metric: str, margin: float, start: datetime | None,
                      end: datetime | None, days: float, fmt: str) -> None:  # fmt: skip
    """Promote CANDIDATE to TYPE@ALIAS when it beats the current model by --margin on the held-out
    window; otherwise leave the alias alone. Exits 0 either way: the output says which."""
    from skynet.api.promotion import promote_if_better as run

    result = run(settings(), candidate, alias, metric, margin, start, end, days)
    if fmt == "json":
        return echo_json(result)
    verdict = "promoted" if result["promoted"] else "not promoted"
    click.echo(
        f"{verdict}: {result['candidate']} -> {result['alias']} (was {result['current']}): {result['reason']}"
    )
    if "table" in result:
        echo_table(result["table"], floatfmt=".4f")


@models.command("lineage")
@click.argument("ref")
@output_format
def lineage(ref: str, fmt: str) -> None:
    """The chain data set -> model -> aliases of model REF."""
    from skynet.api.models import lineage as run

    chain = run(settings(), ref)
    if fmt == "json":
        return echo_json(chain)
    data, model = chain["dataset"], chain["model"]
    if data:
        state = (
            "here, unchanged"
            if data.get("unchanged")
            else ("here, CHANGED" if data.get("here") else "not on this host")
        )
        click.echo(
            f"data set  {data['path']} ({data.get('rows')} rows, sha256 {str(data.get('sha256'))[:12]}…, {state})"
        )
    else:
        click.echo(f"data set  none materialised; selection {model['selection']}")
    click.echo(f"   |      data digest {str(model['data_digest'])[:12]}…, features {str(model['feature_digest'])[:12]}…, "
               f"{model['n_rows']} rows from {model['train_start']} to {model['train_end']}")  # fmt: skip
    click.echo(f"model     {model['name']} ({model['type']}, {model['status']})")
    run_info = model["airflow"] or {}
    click.echo(f"   |      registered by {model['registered_by']} at {model['registered_at']}; skynet "
               f"{model['skynet_version']}, build {model['build_tag'] or 'unknown'}, commit {model['git_commit'] or 'unknown'}"
               + (f", Airflow run {run_info.get('run_id')}" if run_info else "")
               + (f"; parent {model['parent']}" if model["parent"] else ""))  # fmt: skip
    click.echo(f"   |      artifact {model['artifact']} (sha256 {model['sha256'][:12]}…)")
    click.echo(f"aliases   {', '.join(chain['aliases']) or 'none'}")
    for event in chain["history"]:
        click.echo(f"          {event['time']} {event['model_type']}@{event['alias']} {event['action']}: "
                   f"{event['old_name'] or '(new)'} -> {event['new_name']} by {event['who']} ({event['reason']})")  # fmt: skip
