"""The control worker: device events in, AC commands out, every decision logged.

A layer of its own between :mod:`skynet.api` and the packages it joins: it reads events from
a :class:`~skynet.storage.live.LiveStore` (Redis streams, or in-process), keeps each device's
state there, asks :mod:`skynet.control` for decisions, appends them to a
:class:`~skynet.storage.decisions.DecisionLog` and emits the commands. Several workers share
the load by partition; see :mod:`skynet.worker._loop` for ordering and fail-over and
:mod:`skynet.worker._events` for the event format.
"""

from skynet.worker._events import DECIDING, EVENT_TYPES, Event, make_event, parse_event
from skynet.worker._loop import Worker, WorkerOptions, WorkerStats, assigned_partitions
from skynet.worker._process import BatchResult, Processor
from skynet.worker._state import DeviceState

__all__ = [
    "Worker",
    "WorkerOptions",
    "WorkerStats",
    "Processor",
    "BatchResult",
    "DeviceState",
    "Event",
    "EVENT_TYPES",
    "DECIDING",
    "parse_event",
    "make_event",
    "assigned_partitions",
]
