"""Run the service under uvicorn, and probe one (the deployment's health check)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from skynet.config import Settings
from skynet.errors import DeployError, brief

__all__ = ["run", "probe"]


def run(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    refs: Mapping[str, str | None] | None = None,
    reload_interval: int | None = None,
) -> None:
    """Serve until SIGTERM / SIGINT (uvicorn's graceful shutdown: requests in flight finish).

    Args:
        settings: the effective configuration (``serve.*``; the stores and the registry).
        host, port: where to listen (default ``serve.host`` / ``serve.port``).
        refs: model type -> reference, overriding ``serve.user_model`` / ``serve.estimation``.
        reload_interval: seconds between looks at the registry (default ``serve.reload_interval``).
    """
    import uvicorn

    from skynet.serve._app import create_app

    app = create_app(settings, refs, reload_interval=reload_interval)
    uvicorn.run(
        app,
        host=host or settings.serve.host,
        port=settings.serve.port if port is None else port,
        log_level=settings.general.log_level.lower(),
        access_log=False,  # Prometheus counts the requests; a line per request costs more than the answer
        timeout_keep_alive=30,
        timeout_graceful_shutdown=max(settings.serve.request_timeout, 5),
    )


def probe(url: str, timeout: float = 5.0) -> dict[str, Any]:
    """GET ``url`` (e.g. ``http://127.0.0.1:8000/readyz``) and return its JSON body.

    Raises:
        DeployError: no answer, or an answer other than 200 (the message says which and why).
    """
    import urllib.error
    import urllib.request

    if not url.startswith(("http://", "https://")):
        raise DeployError(f"probe: {brief(url)} is not an http:// or https:// URL")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 - the scheme is checked
            text = answer.read().decode("utf-8", "replace")
            status = answer.status
    except urllib.error.HTTPError as exc:
        text, status = exc.read().decode("utf-8", "replace"), exc.code
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeployError(f"probe: {url} did not answer: {brief(str(reason))}") from None
    try:
        body = json.loads(text) if text else {}
    except ValueError:
        body = {"text": text}
    if status != 200:
        raise DeployError(f"probe: {url} answered {status}: {brief(text)}")
    return body if isinstance(body, dict) else {"body": body}
