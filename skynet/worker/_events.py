"""Device events: the JSON the control worker consumes, parsed into domain records.

An event is one JSON object::

    {"event_id": "3f0c...", "device_id": "living-room", "type": "reading",
     "time": "2024-07-01T14:03:00Z", "temperature": 27.1, "humidity": 55}

``event_id`` (at most 128 characters) identifies the event: the worker applies an id once per
device, however often it is delivered or sent; without one the event's queue position is
its id (a producer that may send an event twice should set it). ``time`` is ISO 8601 (naive
means UTC; default: when it was queued). The other fields depend on ``type``:

=============  ==============================================================================
``reading``    ``temperature`` (°C, required), ``humidity``, ``luminosity``, ``air_speed``,
               ``occupancy`` (people home), ``outdoor_temperature``, ``outdoor_humidity``
``weather``    ``temperature`` (required), ``humidity``, ``running_mean_temperature``
``feedback``   ``value`` (-3 … +3, required), ``user_id``, ``clothing``, ``metabolic_rate``
``target``     ``mode`` (comfort, temperature, humidity, away, off, manual), ``value``, ``origin``
``appliance``  ``power`` (required), ``mode``, ``set_temperature``, ``fan``, ``origin``
``device``     ``timezone``, ``min_set_temperature``, ``max_set_temperature``
=============  ==============================================================================

A reading or a target change makes the worker decide. Anything else is malformed: the
worker sends it to the dead-letter stream with the :class:`~skynet.errors.DataError` message.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from skynet.domain import ApplianceState, ControlTarget, Feedback, Record, SensorReading, Weather
from skynet.errors import DataError

__all__ = ["Event", "EVENT_TYPES", "DECIDING", "parse_event", "make_event", "MAX_EVENT_ID"]

MAX_EVENT_ID = 128
MAX_DEVICE_ID = 64
_COMMON = {"event_id", "device_id", "type", "time"}
#: type -> {field: (kind, required)}; kinds: "float", "str", "bool", "int"
_FIELDS: dict[str, dict[str, tuple[str, bool]]] = {
    "reading": {
        "temperature": ("float", True),
        "humidity": ("float", False),
        "luminosity": ("float", False),
        "air_speed": ("float", False),
        "occupancy": ("int", False),
        "outdoor_temperature": ("float", False),
        "outdoor_humidity": ("float", False),
    },
    "weather": {
        "temperature": ("float", True),
        "humidity": ("float", False),
        "running_mean_temperature": ("float", False),
    },
    "feedback": {
        "value": ("float", True),
        "user_id": ("str", False),
        "clothing": ("float", False),
        "metabolic_rate": ("float", False),
    },
    "target": {"mode": ("str", True), "value": ("float", False), "origin": ("str", False)},
    "appliance": {
        "power": ("bool", True),
        "mode": ("str", False),
        "set_temperature": ("float", False),
        "fan": ("str", False),
        "origin": ("str", False),
    },
    "device": {
        "timezone": ("str", False),
        "min_set_temperature": ("float", False),
        "max_set_temperature": ("float", False),
    },
}
EVENT_TYPES: tuple[str, ...] = tuple(_FIELDS)
#: Event types after which the worker decides.
DECIDING = frozenset({"reading", "target"})


@dataclass(frozen=True)
class Event:
    """A parsed, valid event.

    Attributes:
        event_id: its id (None: the queue position stands in).
        device_id: the device.
        type: one of :data:`EVENT_TYPES`.
        time: naive UTC (None: not given).
        fields: the type's fields, validated (absent optional ones left out).
    """

    event_id: str | None
    device_id: str
    type: str
    time: datetime | None
    fields: dict[str, Any]

    def record(self, at: datetime) -> Record | None:
        """The domain record the event carries (None for ``device`` events), stamped ``at``."""
        f, device = self.fields, self.device_id
        if self.type == "reading":
            keep = ("temperature", "humidity", "luminosity", "air_speed")
            return SensorReading(device, at, **{k: f[k] for k in keep if k in f})
        if self.type == "weather":
            return Weather(device, at, **f)
        if self.type == "feedback":
            return Feedback(device, at, **f)
        if self.type == "target":
            return ControlTarget(device, at, **f)
        if self.type == "appliance":
            return ApplianceState(device, at, **f)
        return None


def _value(name: str, kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DataError(f"{name} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise DataError(f"{name} must be a finite number, got {value!r}")
        return float(value)
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 0:
            raise DataError(f"{name} must be a whole number >= 0, got {value!r}")
        return int(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise DataError(f"{name} must be true or false, got {value!r}")
        return value
    if not isinstance(value, str):
        raise DataError(f"{name} must be a string, got {value!r}")
    return value


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise DataError(f"time must be an ISO 8601 string, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise DataError(f"time {value!r} is not ISO 8601") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def parse_event(payload: str | bytes) -> Event:
    """Parse and validate an event's JSON text.

    Raises:
        DataError: not JSON, not an object, an unknown type or field, a missing or wrong value
            (the message says which).
    """
    try:
        data = json.loads(payload)
    except (ValueError, TypeError) as exc:
        raise DataError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise DataError(f"an event is a JSON object, got {type(data).__name__}")
    kind = data.get("type")
    if kind not in _FIELDS:
        raise DataError(f"event type {kind!r} is not one of {', '.join(EVENT_TYPES)}")
    device = data.get("device_id")
    if not isinstance(device, str) or not device or len(device) > MAX_DEVICE_ID:
        raise DataError(f"device_id must be a string of 1 to {MAX_DEVICE_ID} characters, got {device!r}")
    event_id = data.get("event_id")
    if event_id is not None and (not isinstance(event_id, str) or not 0 < len(event_id) <= MAX_EVENT_ID):
        raise DataError(f"event_id must be a string of 1 to {MAX_EVENT_ID} characters, got {event_id!r}")
    spec = _FIELDS[kind]
    unknown = sorted(set(data) - _COMMON - set(spec))
    if unknown:
        raise DataError(f"{kind} event: unknown field {unknown[0]!r} (known: {', '.join(spec)})")
    fields = {}
    for name, (value_kind, required) in spec.items():
        value = _value(name, value_kind, data.get(name))
        if value is None and required:
            raise DataError(f"{kind} event: {name} is required")
        if value is not None:
            fields[name] = value
    event = Event(event_id, device, kind, _time(data.get("time")), fields)
    event.record(event.time or datetime(2000, 1, 1))  # the domain's own checks (choices, ranges)
    return event


def make_event(device_id: str, type: str, *, time: datetime | None = None, event_id: str | None = None,
               **fields: Any) -> str:  # fmt: skip
    """The JSON text of an event (a new random ``event_id`` and the current time by default).

    Raises:
        DataError: the event would be malformed.
    """
    at = time or datetime.now(UTC).replace(tzinfo=None)
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    data = {
        "event_id": event_id or uuid.uuid4().hex,
        "device_id": device_id,
        "type": type,
        "time": at.isoformat(),
        **{k: v for k, v in fields.items() if v is not None},
    }
    text = json.dumps(data, separators=(",", ":"))
    parse_event(text)
    return text
