"""The FastAPI application: routes that parse a request and call one :mod:`skynet.api.serving`
function, and the mapping of skynet's errors to HTTP statuses.

========================  ======  ==================================================
what went wrong           status  body
========================  ======  ==================================================
a field fails its schema  422     ``{"error": "rows[0].temperature: ...", "field": ...}``
bad input (``DataError``) 422     ``{"error": "row 2: temperature 500 is outside ..."}``
body over the limit       413     ``{"error": ...}`` (:mod:`skynet.serve._limits`)
no model, store down      503     ``{"error": ...}`` (``StorageError``, ``ModelError``)
no answer in time         504     ``{"error": ...}``
anything else             500     ``{"error": "internal error (...)"}``, logged
========================  ======  ==================================================

Handlers are plain ``def`` (FastAPI runs them in its thread pool, so a prediction never
blocks the event loop), but for a few anonymous comfort rows: their fast path costs less than
the hand-over to a thread and back, so they are answered on the event loop. Answers are serialized once (``JSONResponse``), not validated again
against the response models, which only document them.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from skynet import __version__
from skynet.api import serving
from skynet.config import Settings
from skynet.errors import DataError, ModelError, SkynetError, StorageError, brief
from skynet.serve._limits import LimitsMiddleware, Metrics
from skynet.serve._schemas import (
    ComfortRequest,
    ComfortResponse,
    DecideRequest,
    DecideResponse,
    ErrorBody,
    ForecastRequest,
    ForecastResponse,
    Readiness,
)

__all__ = ["create_app"]

logger = logging.getLogger("skynet.serve")

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body cannot be read (not UTF-8 text)."},
    413: {"model": ErrorBody, "description": "The request body is over serve.max_body_bytes."},
    422: {
        "model": ErrorBody,
        "description": "A field is missing, unknown or not possible (named in the body).",
    },
    503: {"model": ErrorBody, "description": "No model to answer with, or the store cannot be reached."},
    504: {"model": ErrorBody, "description": "No answer within serve.request_timeout."},
}


def _plain(value: Any) -> Any:
    """``value`` with non-finite floats as None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class _Json(JSONResponse):
    """JSON with NaN as null and anything else unusual (numpy numbers, dates) as text."""

    def render(self, content: Any) -> bytes:
        try:
            text = json.dumps(content, allow_nan=False, separators=(",", ":"), default=_text)
        except ValueError:
            text = json.dumps(_plain(content), allow_nan=False, separators=(",", ":"), default=_text)
        return text.encode("utf-8")


def _text(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _error(status: int, message: str, field: str | None = None) -> _Json:
    return _Json({"error": message, "field": field}, status_code=status)


def _location(loc: Any) -> str:
    """A pydantic error location as a field path: ``rows[0].temperature`` (``body`` left out)."""
    parts = [p for p in loc if p != "body"]
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f"{'.' if text else ''}{part}"
    return text or "body"


async def _invalid(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {"loc": ("body",), "msg": "invalid request"}
    field = _location(first.get("loc", ()))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    given = f", got {brief(first['input'])}" if "input" in first and first.get("type") != "missing" else ""
    return _error(422, f"{field}: {first.get('msg')}{given}{more}", field)


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return _error(exc.status_code, str(exc.detail))


async def _skynet_error(_request: Request, exc: Exception) -> Response:
    if isinstance(exc, DataError):
        return _error(422, str(exc))
    if isinstance(exc, (StorageError, ModelError)):
        return _error(503, str(exc))
    logger.error("serve: %s", exc)
    return _error(500, f"internal error ({type(exc).__name__}: {brief(str(exc))})")


async def _unexpected(_request: Request, exc: Exception) -> Response:
    logger.exception("serve: unexpected %s", type(exc).__name__, exc_info=exc)
    return _error(500, f"internal error ({type(exc).__name__})")


def create_app(
    settings: Settings,
    refs: Mapping[str, str | None] | None = None,
    *,
    reload_interval: float | None = None,
    timeout: float | None = None,
    max_body: int | None = None,
) -> FastAPI:
    """The REST service's application.

    Args:
        settings: the effective configuration (its ``serve`` section, the stores).
        refs: model type -> reference, overriding ``serve.user_model`` / ``serve.estimation``.
        reload_interval: seconds between looks at the registry (default ``serve.reload_interval``; 0: never).
        timeout: seconds before a 504 (default ``serve.request_timeout``).
        max_body: the largest body in bytes (default ``serve.max_body_bytes``).

    Returns:
        The application; its models are loaded when it starts (its lifespan) and watched until it stops.
    """
    served = serving.ServedModels(settings, refs)
    metrics = Metrics()
    interval = settings.serve.reload_interval if reload_interval is None else reload_interval

    def publish(changes: list[tuple[str, str | None, str]]) -> None:
        for kind, old, _new in changes:
            if old is not None:  # a swap, not the first load
                metrics.reloads.labels(kind).inc()
        metrics.model.clear()
        for kind, held in served.loaded().items():
            metrics.model.labels(kind, held.name).set(1)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        publish(await run_in_threadpool(served.refresh))
        stop = threading.Event()
        served.watch(interval, stop, publish)
        try:
            yield
        finally:
            stop.set()

    app = FastAPI(
        title="skynet",
        version=__version__,
        description="Predictions of the user comfort model and the estimation model; control decisions.",
        lifespan=lifespan,
    )
    app.state.served, app.state.metrics = served, metrics
    app.add_middleware(
        LimitsMiddleware,
        max_body=settings.serve.max_body_bytes if max_body is None else max_body,
        timeout=float(settings.serve.request_timeout if timeout is None else timeout),
        metrics=metrics,
    )
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(SkynetError, _skynet_error)
    app.add_exception_handler(Exception, _unexpected)
    _routes(app, settings, served, metrics)
    return app


def _routes(app: FastAPI, settings: Settings, served: serving.ServedModels, metrics: Metrics) -> None:
    @app.post("/v1/user_model/predict", response_model=ComfortResponse, responses=_ERRORS,
              tags=["predict"], summary="How will the people in a room feel?")  # fmt: skip
    async def predict_comfort(body: ComfortRequest) -> Response:
        """Rows in (comfort-frame values); the expected vote, the median vote and the
        probability of each vote -3 … +3 out. With ``device_id``, personalized with the
        device's stored votes (and a row's ``user_id``)."""
        rows = [row.model_dump(exclude_none=True) for row in body.rows]  # type: ignore[attr-defined]
        if serving.is_fast(rows, body.device_id):
            # a fraction of a millisecond: answered here, without two thread hand-overs (on a
            # busy machine each waits for the scheduler, several times the answer's own cost)
            return _Json(serving.predict_comfort(settings, served, rows))
        answer = await run_in_threadpool(serving.predict_comfort, settings, served, rows, body.device_id)
        return _Json(answer)

    @app.post("/v1/estimation/predict", response_model=ForecastResponse, responses=_ERRORS,
              tags=["predict"], summary="What will the room do under these AC commands?")  # fmt: skip
    def predict_room(body: ForecastRequest) -> Response:
        """A room's state (or a stored device) and candidate commands in; its temperature and
        humidity at each horizon under each command out."""
        if body.state is None and body.device_id is None:
            return _error(422, "state: give the room's state, or a stored device's device_id", "state")
        commands = [c if isinstance(c, str) else c.model_dump(exclude_none=True) for c in body.commands]
        state = None if body.state is None else body.state.model_dump(exclude_none=True)
        return _Json(
            serving.forecast(settings, served, commands, device_id=body.device_id, state=state, at=body.at)
        )

    @app.post("/v1/control/decide", response_model=DecideResponse, responses=_ERRORS,
              tags=["control"], summary="Which AC command now, and why?")  # fmt: skip
    def decide(body: DecideRequest) -> Response:
        """A device's context (its readings, weather, target, AC state, facts, votes) in; the
        decision the control worker would make (command, reason, fallback) and the device's new
        state out (send it back with the next context: it carries the safety rules' state)."""
        context = body.model_dump(exclude_none=True, exclude={"device_id", "state"})
        return _Json(serving.decide(settings, served, body.device_id, context, body.state))

    @app.get("/livez", tags=["service"], summary="The process answers.")
    async def livez() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}}, tags=["service"],
             summary="Every model loaded and the record store answering.")  # fmt: skip
    def readyz() -> Response:
        found = serving.readiness(settings, served)
        return _Json(found, status_code=200 if found["ready"] else 503)

    @app.get("/metrics", tags=["service"], summary="Prometheus metrics.",
             response_class=Response, responses={200: {"content": {"text/plain": {}}}})  # fmt: skip
    def metrics_page() -> Response:
        data, content_type = metrics.exposition()
        return Response(data, media_type=content_type)
