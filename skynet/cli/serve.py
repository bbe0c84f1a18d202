"""``skynet serve``: the REST prediction service, and its health probe."""

from __future__ import annotations

import click

from skynet.cli.options import echo_json, settings

__all__ = ["serve"]


@click.group(invoke_without_command=True)
@click.option("--host", default=None, help="Address to listen on [default: serve.host].")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port [default: serve.port].")
@click.option("--user-model", "user_model", default=None,
              help="The user model: NAME or user_model@ALIAS [default: serve.user_model, else "
                   "user_model@production, else the newest].")  # fmt: skip
@click.option("--estimation", default=None,
              help="The estimation model: NAME or estimation@ALIAS [default: serve.estimation, else "
                   "estimation@production, else the newest].")  # fmt: skip
@click.option("--reload-interval", type=click.IntRange(0), default=None,
              help="Seconds between looks at the registry for a promoted model (0: never) "
                   "[default: serve.reload_interval].")  # fmt: skip
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, user_model: str | None,
          estimation: str | None, reload_interval: int | None) -> None:  # fmt: skip
    """Serve predictions and control decisions over HTTP until stopped (SIGTERM, Ctrl-C).

    POST /v1/user_model/predict, /v1/estimation/predict, /v1/control/decide; GET /livez,
    /readyz, /metrics; the OpenAPI schema at /openapi.json and its page at /docs.
    """
    if ctx.invoked_subcommand is not None:
        return
    from skynet.serve import run

    refs = {"user_model": user_model, "estimation": estimation}
    run(settings(), host=host, port=port, refs=refs, reload_interval=reload_interval)


@serve.command("health")
@click.option(
    "--url", default=None, help="The readiness URL [default: http://127.0.0.1:<serve.port>/readyz]."
)
@click.option("--timeout", type=click.FloatRange(0, min_open=True), default=5.0, show_default=True,
              help="Seconds to wait for the answer.")  # fmt: skip
def health(url: str | None, timeout: float) -> None:
    """Exit 0 when the service answers 200 at its readiness URL (the deployment's health check)."""
    from skynet.serve import probe

    body = probe(url or f"http://127.0.0.1:{settings().serve.port}/readyz", timeout)
    models = body.get("models") or {}
    shown = ", ".join(f"{kind} {info.get('name')}" for kind, info in models.items()) or "ready"
    click.echo(f"ready: {shown}")


@serve.command("openapi")
def openapi() -> None:
    """Print the service's OpenAPI schema (JSON)."""
    from skynet.serve._app import create_app

    echo_json(create_app(settings()).openapi())
