"""The control worker: device events in, AC commands out, every decision logged.

A layer of its own between :mod:`skynet.api` and the packages it joins: it reads events from
a :class:`~skynet.storage.live.LiveStore` (Redis streams, or in-process), keeps each device's
state there, asks :mod:`skynet.control` for decisions, appends them to a
:class:`~skynet.storage.decisions.DecisionLog` and emits the commands. Several workers share
the load by partition; see :mod:`skynet.worker._loop` for ordering and fail-over,
:mod:`skynet.worker._events` for the event format and its limits, and
:mod:`skynet.worker._process` for what makes an event a dead letter or a device fault.
"""

from skynet.worker._events import (
    DECIDING,
    EVENT_TYPES,
    LIMITS,
    MAX_DEPTH,
    MAX_EVENT_SIZE,
    Event,
    event_key,
    load_json,
    make_event,
    parse_event,
    parse_time,
)
from skynet.worker._loop import Worker, WorkerOptions, WorkerStats, assigned_partitions
from skynet.worker._metrics import MeteredProcessor, WorkerMetrics, serve_metrics
from skynet.worker._models import ModelsProvider
from skynet.worker._process import MAX_SKEW, BatchResult, Processor
from skynet.worker._state import DeviceState

__all__ = [
    "Worker",
    "WorkerOptions",
    "WorkerStats",
    "ModelsProvider",
    "Processor",
    "BatchResult",
    "DeviceState",
    "Event",
    "EVENT_TYPES",
    "DECIDING",
    "parse_event",
    "parse_time",
    "make_event",
    "event_key",
    "load_json",
    "LIMITS",
    "MAX_EVENT_SIZE",
    "MAX_DEPTH",
    "MAX_SKEW",
    "assigned_partitions",
    "WorkerMetrics",
    "MeteredProcessor",
    "serve_metrics",
]
