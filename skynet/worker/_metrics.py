"""The control worker's Prometheus metrics (``skynet control worker --metrics-port N``).

Counted from what each batch's :class:`~skynet.worker.BatchResult` holds, as the processor
returns it (:class:`MeteredProcessor`), so the worker loop is untouched:

=========================================  ==========================================================
``skynet_worker_events_total``             events processed
``skynet_worker_decisions_total``          decisions made (``rate()`` of it: decisions/s)
``skynet_worker_commands_total``           commands emitted
``skynet_worker_dead_letters_total``       events dead-lettered
``skynet_worker_device_faults_total``      decisions a device fault prevented
``skynet_worker_fallbacks_total{kind}``    decisions the fallback thermostat made, by kind
``skynet_worker_decision_seconds``         a decision's time inside the controller (histogram)
``skynet_worker_stream_lag_seconds``       how long the oldest event of the newest batch waited in its queue
``skynet_worker_backlog``                  events queued and not acknowledged (asked of the live store at each scrape)
=========================================  ==========================================================

A batch is counted when it is processed; if its partition is then lost (another worker took
it over), that worker processes and counts it again: the counts are each worker's own work.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC
from functools import partial
from typing import Any

from skynet.errors import ConfigError
from skynet.storage.live import Entry, LiveStore
from skynet.worker._process import BatchResult, Processor, entry_time

__all__ = ["WorkerMetrics", "MeteredProcessor", "serve_metrics"]

logger = logging.getLogger("skynet.worker")

#: Decision latency buckets (seconds): the controller's budgets are tens to hundreds of ms.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def fallback_kind(doc: Mapping[str, Any]) -> str:
    """A decision document's fallback kind: its typed ``fallback_kind`` where the controller
    gives one, else the cause without its particulars (``estimation model took too long``)."""
    kind = doc.get("fallback_kind")
    if kind:
        return str(kind)
    cause = str(doc.get("fallback"))
    return cause.split(" took ")[0] + " took too long" if " took " in cause else cause.split(":")[0]


class WorkerMetrics:
    """The worker's metrics in a registry of their own (see the module docstring).

    Args:
        live: the live store, asked for its backlog at each scrape (None: no backlog gauge).
        clock: the current time in seconds since the epoch (tests).
    """

    def __init__(self, live: LiveStore | None = None, clock: Callable[[], float] = time.time) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = registry = CollectorRegistry()
        self._clock = clock

        def counter(name: str, text: str, labels: Sequence[str] = ()) -> Any:
            return Counter(f"skynet_worker_{name}", text, labels, registry=registry)

        self.events = counter("events", "Events processed")
        self.decisions = counter("decisions", "Decisions made")
        self.commands = counter("commands", "Commands emitted")
        self.dead = counter("dead_letters", "Events dead-lettered")
        self.faults = counter("device_faults", "Decisions a device fault prevented")
        self.fallbacks = counter("fallbacks", "Decisions made by the fallback thermostat, by kind", ["kind"])
        self.latency = Histogram("skynet_worker_decision_seconds", "A decision's time inside the controller",
                                 buckets=BUCKETS, registry=registry)  # fmt: skip
        self.lag = Gauge("skynet_worker_stream_lag_seconds",
                         "How long the oldest event of the newest batch waited in its queue", registry=registry)  # fmt: skip
        if live is not None:
            backlog = Gauge("skynet_worker_backlog", "Events queued and not acknowledged", registry=registry)
            backlog.set_function(partial(_backlog, live))

    def observe(self, entries: Sequence[Entry], result: BatchResult) -> None:
        """Count one processed batch."""
        self.events.inc(len(entries))
        self.decisions.inc(len(result.docs))
        self.commands.inc(len(result.commands))
        self.dead.inc(len(result.dead))
        self.faults.inc(len(result.faults))
        for seconds in result.latencies:
            self.latency.observe(seconds)
        for doc in result.docs:
            if doc.get("fallback"):
                self.fallbacks.labels(fallback_kind(doc)).inc()
        queued = [t for t in (entry_time(e) for e in entries) if t is not None]
        if queued:  # queue times are naive UTC
            oldest = min(queued).replace(tzinfo=UTC).timestamp()
            self.lag.set(max(self._clock() - oldest, 0.0))


def _backlog(live: LiveStore) -> float:
    try:
        return float(live.backlog())
    except Exception:  # noqa: BLE001 - a scrape must not fail for the store; NaN says "unknown"
        return float("nan")


class MeteredProcessor(Processor):
    """A :class:`~skynet.worker.Processor` that counts each batch it processes.

    Args:
        metrics: where to count.
        *args, **kwargs: the processor's own.
    """

    def __init__(self, *args: Any, metrics: WorkerMetrics, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.metrics = metrics

    def process(self, entries: Sequence[Entry], stored: Mapping[str, Any]) -> BatchResult:
        result = super().process(entries, stored)
        self.metrics.observe(entries, result)
        return result


def serve_metrics(
    port: int,
    live: LiveStore | None = None,
    host: str = "0.0.0.0",  # noqa: S104 - Prometheus scrapes from elsewhere
) -> tuple[Callable[..., MeteredProcessor], Callable[[], None], int]:
    """Start the metrics endpoint (``http://HOST:PORT/metrics``) in a daemon thread.

    Returns:
        A factory of processors that count into it (the :class:`Processor` arguments), a
        function that stops the endpoint, and the port it listens on (``port`` 0: a free one).

    Raises:
        ConfigError: prometheus-client is not installed, or the port cannot be bound.
    """
    try:
        from prometheus_client import start_http_server
    except ImportError:
        raise ConfigError("--metrics-port needs prometheus-client: pip install 'skynet[metrics]'") from None
    metrics = WorkerMetrics(live)
    try:
        server, thread = start_http_server(port, host, registry=metrics.registry)
    except OSError as exc:
        raise ConfigError(f"worker metrics: cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    bound = int(server.server_address[1])
    logger.info("worker metrics on http://%s:%d/metrics", host, bound)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return partial(MeteredProcessor, metrics=metrics), stop, bound
