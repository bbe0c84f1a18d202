"""One ASGI middleware around the service: a body size limit, a time limit and the request metrics.

Pure ASGI (no ``BaseHTTPMiddleware``, which costs a task and a queue per request):

- **size**: a declared ``Content-Length`` above the limit is answered 413 at once; a body
  sent in chunks is read up to the limit (then 413) and handed to the application whole;
- **time**: the application runs in its own task; when it has not started its answer after
  ``timeout`` seconds the client gets a 504 and whatever the task sends later is dropped (a
  prediction running in a worker thread cannot be interrupted; it ends on its own);
- **metrics**: each request is counted by route and status and timed in a histogram.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["LimitsMiddleware", "Metrics"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Latency buckets (seconds): fine below 10 ms, where the service's target is.
BUCKETS = (0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class Metrics:
    """The service's Prometheus metrics, in a registry of its own (one per application)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter("skynet_serve_requests", "HTTP requests answered, by route and status",
                                ["route", "status"], registry=self.registry)  # fmt: skip
        self.latency = Histogram("skynet_serve_request_seconds", "Time to answer a request, by route",
                                 ["route"], buckets=BUCKETS, registry=self.registry)  # fmt: skip
        self.reloads = Counter("skynet_serve_model_reloads", "Models swapped in after a promotion",
                               ["model_type"], registry=self.registry)  # fmt: skip
        self.model = Gauge("skynet_serve_model_info", "The model in use (1) by type and name",
                           ["model_type", "name"], registry=self.registry)  # fmt: skip

    def exposition(self) -> tuple[bytes, str]:
        """The metrics as Prometheus text, and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def _route(scope: Scope) -> str:
    """The route's path template (``/v1/user_model/predict``); unknown paths are one label."""
    route = scope.get("route")
    return str(getattr(route, "path", "other"))


async def _reply(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


class LimitsMiddleware:
    """See the module docstring.

    Args:
        app: the application.
        max_body: the largest request body (bytes).
        timeout: seconds before a request without an answer gets a 504.
        metrics: where requests are counted and timed (None: not counted).
    """

    def __init__(self, app: ASGIApp, max_body: int, timeout: float, metrics: Metrics | None = None) -> None:
        self.app, self.max_body, self.timeout, self.metrics = app, max_body, timeout, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self._limited(scope, receive, counted)
        finally:
            if self.metrics is not None:
                route = _route(scope)
                self.metrics.requests.labels(route, str(status[0])).inc()
                self.metrics.latency.labels(route).observe(time.perf_counter() - started)

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await _reply(send, 413, {"error": f"the request body is {int(declared):,} bytes; at most "
                                              f"{self.max_body:,} are accepted (serve.max_body_bytes)"})  # fmt: skip
            return
        body = await self._body(receive)
        if body is None:
            await _reply(send, 413, {"error": f"the request body is over {self.max_body:,} bytes "
                                              "(serve.max_body_bytes)"})  # fmt: skip
            return
        await self._timed(scope, _replay(body, receive), send)

    async def _body(self, receive: Receive) -> bytes | None:
        """The whole body, or None once it passes the limit."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks)  # the client left: the application sees an empty body
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _timed(self, scope: Scope, receive: Receive, send: Send) -> None:
        answered = [False]
        late = [False]

        async def guarded(message: Message) -> None:
            if late[0]:
                return  # the client already has its 504
            answered[0] = True
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, guarded))
        done, _ = await asyncio.wait({task}, timeout=self.timeout)
        if task in done:
            task.result()  # an exception the application let through is the server's to log
            return
        if answered[0]:  # the answer has begun: let it finish
            await task
            return
        late[0] = True
        task.add_done_callback(_consume)
        await _reply(send, 504, {"error": f"no answer within {self.timeout:g} s (serve.request_timeout)"})


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` giving the buffered body once, then what the server says (a disconnect)."""
    sent = [False]

    async def replay() -> Message:
        if not sent[0]:
            sent[0] = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _consume(task: asyncio.Future[Any]) -> None:
    """Retrieve a timed-out request's outcome so an exception in it is not reported as lost."""
    if not task.cancelled():
        task.exception()
