"""Device events: the JSON the control worker consumes, parsed into domain records.

An event is one JSON object::

    {"event_id": "3f0c...", "device_id": "living-room", "type": "reading",
     "time": "2024-07-01T14:03:00Z", "temperature": 27.1, "humidity": 55}

``event_id`` (at most 128 characters) identifies the event: the worker applies an id once per
device, however often it is delivered or sent; without one the event's queue position is
its id (a producer that may send an event twice should set it). ``time`` is ISO 8601 (naive
means UTC; default: when it was queued; never before 1970). The other fields depend on ``type``
(numbers must lie within physical limits, :data:`LIMITS`):

=============  ==============================================================================
``reading``    ``temperature`` (°C, required), ``humidity``, ``luminosity``, ``air_speed``,
               ``occupancy`` (people home), ``outdoor_temperature``, ``outdoor_humidity``
``weather``    ``temperature`` (required), ``humidity``, ``running_mean_temperature``
``feedback``   ``value`` (-3 … +3, required), ``user_id``, ``clothing``, ``metabolic_rate``
``target``     ``mode`` (comfort, temperature, humidity, away, off, manual), ``value``, ``origin``
``appliance``  ``power`` (required), ``mode``, ``set_temperature``, ``fan``, ``origin``
``device``     ``timezone`` (an IANA name), ``min_set_temperature``, ``max_set_temperature``
=============  ==============================================================================

A reading or a target change makes the worker decide. Anything else is malformed: the
worker sends it to the dead-letter stream with the :class:`~skynet.errors.DataError` message.
:func:`parse_event` never raises anything else, whatever the payload: its size is checked
before it is read (:data:`MAX_EVENT_SIZE`) and its nesting depth before it is decoded
(:data:`MAX_DEPTH`, by a flat scan: a payload of 200,000 ``[`` cannot exhaust the stack).
"""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from skynet.domain import ApplianceState, ControlTarget, Feedback, Record, SensorReading, Weather
from skynet.errors import MAX_ECHO, DataError, brief

__all__ = [
    "Event",
    "EVENT_TYPES",
    "DECIDING",
    "LIMITS",
    "parse_event",
    "make_event",
    "event_key",
    "load_json",
    "parse_time",
    "MAX_EVENT_ID",
    "MAX_EVENT_SIZE",
    "MAX_DEPTH",
    "EARLIEST",
]

MAX_EVENT_ID = 128
MAX_DEVICE_ID = 64
#: The longest text field (user ids, origins, time zones).
MAX_TEXT = 128
#: The longest event accepted, in characters of its JSON text (bytes when given bytes); a real
#: event is a few hundred.
MAX_EVENT_SIZE = 16_384
#: How deep an event's JSON may nest. An event is one flat object (depth 1); the slack only
#: lets a wrong value (a list where a number belongs) get its own clear message.
MAX_DEPTH = 8
#: The earliest event time accepted: a device whose clock was reset says 1970 at worst, and
#: older times would overflow the worker's date arithmetic.
EARLIEST = datetime(1970, 1, 1)
_COMMON = {"event_id", "device_id", "type", "time"}
#: Physical limits of the numeric fields (inclusive; unit): a value outside is a broken sensor
#: or a forged event, never a climate to act on. Indoor sensors read -40…70 °C; the outdoor
#: limits are a little beyond the records measured on Earth (-89 / +57 °C); set temperatures
#: (an AC's range, a target) 5…40 °C covers every unit, frost protection included.
LIMITS: dict[str, tuple[float, float, str]] = {
    "temperature": (-40.0, 70.0, "°C"),
    "humidity": (0.0, 100.0, "%RH"),
    "luminosity": (0.0, 200_000.0, "lux"),
    "air_speed": (0.0, 10.0, "m/s"),
    "occupancy": (0, 1000, "people"),
    "outdoor_temperature": (-90.0, 60.0, "°C"),
    "outdoor_humidity": (0.0, 100.0, "%RH"),
    "running_mean_temperature": (-90.0, 60.0, "°C"),
    "clothing": (0.0, 4.0, "clo"),
    "metabolic_rate": (0.6, 6.0, "met"),
    "set_temperature": (5.0, 40.0, "°C"),
    "min_set_temperature": (5.0, 40.0, "°C"),
    "max_set_temperature": (5.0, 40.0, "°C"),
}
#: Limits that depend on the type: a weather temperature is outdoors; a target's value is a
#: set temperature (temperature mode) or a relative humidity (humidity mode).
_TYPE_LIMITS: dict[tuple[str, str], tuple[float, float, str]] = {
    ("weather", "temperature"): LIMITS["outdoor_temperature"],
    ("weather", "humidity"): LIMITS["outdoor_humidity"],
    ("target", "value"): (0.0, 100.0, ""),
}
_TARGET_VALUE: dict[str, tuple[float, float, str]] = {
    "temperature": LIMITS["set_temperature"],
    "humidity": LIMITS["humidity"],
}
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


def _value(kind_of_event: str, name: str, kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind in ("float", "int"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DataError(f"{name} must be a number, got {brief(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise DataError(f"{name} must be a finite number, got {value!r}")
        # (a feedback value has no entry: its record checks the -3 … +3 scale)
        low, high, unit = _TYPE_LIMITS.get((kind_of_event, name)) or LIMITS.get(name, (-1e9, 1e9, ""))
        if not low <= value <= high:  # exact for ints of any size: no float conversion yet
            raise DataError(
                f"{name} {brief(value)} is outside the physical limits {low:g} … {high:g} {unit}".rstrip()
            )
        if kind == "int":
            if value != int(value):
                raise DataError(f"{name} must be a whole number, got {value!r}")
            return int(value)
        return float(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise DataError(f"{name} must be true or false, got {brief(value)}")
        return value
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise DataError(f"{name} must be a string of at most {MAX_TEXT} characters, got {brief(value)}")
    _unicode(value, name)
    return value


def parse_time(value: Any) -> datetime | None:
    """An event's ``time``: ISO 8601 text as naive UTC (None stays None).

    Raises:
        DataError: not ISO 8601 text, or before :data:`EARLIEST`.
    """
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise DataError(f"time must be an ISO 8601 string, got {brief(value)}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise DataError(f"time {brief(value)} is not an ISO 8601 time") from None
    if parsed < EARLIEST:
        raise DataError(f"time {value} is before {EARLIEST:%Y-%m-%d} (a device clock that was reset?)")
    return parsed


def _timezone(value: str) -> None:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(value)
    except Exception:  # noqa: BLE001 - not found, a path, a bad key: all mean "not a zone"
        raise DataError(f"timezone {brief(value)} is not a known time zone") from None


_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def _nesting(text: str, limit: int) -> int | None:
    """The depth past ``limit`` the JSON ``text`` reaches, or None when it stays within.

    A flat scan (strings skipped, brackets counted), so no payload can exhaust the stack the
    way a recursive decoder's would.
    """
    if text.count("[") + text.count("{") <= limit:  # the usual event: one "{"
        return None
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                return depth
        elif token in "]}":
            depth -= 1
    return None


def load_json(payload: str | bytes, *, max_size: int = MAX_EVENT_SIZE, max_depth: int = MAX_DEPTH) -> Any:
    """Decode JSON text of bounded size and nesting depth.

    Raises:
        DataError: too long, nested too deep, not UTF-8 or not JSON (the message says which).
    """
    if not isinstance(payload, (str, bytes, bytearray)):
        raise DataError(f"not JSON text: a {type(payload).__name__}")
    if len(payload) > max_size:
        unit = "characters" if isinstance(payload, str) else "bytes"
        raise DataError(f"the event is {len(payload):,} {unit} long (at most {max_size:,})")
    if isinstance(payload, (bytes, bytearray)):
        try:
            payload = bytes(payload).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"not UTF-8 text: {exc}") from None
    _unicode(payload, "the event")
    if _nesting(payload, max_depth) is not None:
        raise DataError(f"JSON nested more than {max_depth} levels deep")
    try:
        return json.loads(payload)
    except ValueError as exc:
        raise DataError(f"not JSON: {brief(str(exc))}") from None


def _unicode(text: str, what: str) -> None:
    """Refuse text that is not valid Unicode (lone surrogates: bytes that were not UTF-8, or a
    ``\\ud800`` escape), which no store or log downstream could encode."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise DataError(
                f"{what} is not valid UTF-8 text ({exc.reason} at character {exc.start})"
            ) from None


def failure(exc: BaseException) -> str:
    """``TypeName: message`` of an exception, the message cut like an echoed value (a reason
    for a dead letter or a log line must stay short whatever the exception carries)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text if len(text) <= MAX_ECHO else brief(text)}"


def parse_event(payload: str | bytes, *, max_size: int = MAX_EVENT_SIZE, max_depth: int = MAX_DEPTH) -> Event:
    """Parse and validate an event's JSON text.

    Whatever the payload, the only exception is :class:`DataError`: a failure nobody foresaw
    becomes one too (naming its type), so one bad event is one dead letter, never a crash.

    Args:
        payload: the event's JSON text.
        max_size: the longest payload accepted (characters; bytes when given bytes).
        max_depth: the deepest JSON nesting accepted (an event itself is depth 1).

    Raises:
        DataError: too long or nested too deep, not JSON, not an object, an unknown type or
            field, a missing value, a value of the wrong type or outside its physical limits
            (the message says which).
    """
    try:
        return _parse(payload, max_size, max_depth)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure on one event is that event's fault
        raise DataError(f"unreadable event ({failure(exc)})") from None


def _parse(payload: str | bytes, max_size: int, max_depth: int) -> Event:
    data = load_json(payload, max_size=max_size, max_depth=max_depth)
    if not isinstance(data, dict):
        raise DataError(f"an event is a JSON object, got {type(data).__name__}")
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in _FIELDS:
        raise DataError(f"event type {brief(kind)} is not one of {', '.join(EVENT_TYPES)}")
    device = data.get("device_id")
    if not isinstance(device, str) or not device or len(device) > MAX_DEVICE_ID:
        raise DataError(f"device_id must be a string of 1 to {MAX_DEVICE_ID} characters, got {brief(device)}")
    event_id = data.get("event_id")
    if event_id is not None and (not isinstance(event_id, str) or not 0 < len(event_id) <= MAX_EVENT_ID):
        raise DataError(f"event_id must be a string of 1 to {MAX_EVENT_ID} characters, got {brief(event_id)}")
    _unicode(device, "device_id")
    if event_id is not None:
        _unicode(event_id, "event_id")
    spec = _FIELDS[kind]
    unknown = sorted(set(data) - _COMMON - set(spec))
    if unknown:
        raise DataError(f"{kind} event: unknown field {brief(unknown[0])} (known: {', '.join(spec)})")
    fields = {}
    for name, (value_kind, required) in spec.items():
        try:
            value = _value(kind, name, value_kind, data.get(name))
        except DataError as exc:
            raise DataError(f"{kind} event: {exc}") from None
        if value is None and required:
            raise DataError(f"{kind} event: {name} is required")
        if value is not None:
            fields[name] = value
    _check_together(kind, fields)
    event = Event(event_id, device, kind, parse_time(data.get("time")), fields)
    event.record(event.time or EARLIEST)  # the domain's own checks (choices, ranges)
    return event


def _check_together(kind: str, fields: dict[str, Any]) -> None:
    """The checks that look at several fields of an event at once."""
    if kind == "target" and fields.get("mode") in _TARGET_VALUE and "value" in fields:
        low, high, unit = _TARGET_VALUE[fields["mode"]]
        if not low <= fields["value"] <= high:
            raise DataError(f"target event: a {fields['mode']} target of {fields['value']:g} is outside "
                            f"{low:g} … {high:g} {unit}")  # fmt: skip
    if kind == "device":
        lowest, highest = fields.get("min_set_temperature"), fields.get("max_set_temperature")
        if lowest is not None and highest is not None and lowest > highest:
            raise DataError(
                f"device event: min_set_temperature {lowest:g} is above max_set_temperature {highest:g}"
            )
        if "timezone" in fields:
            _timezone(fields["timezone"])


def event_key(payload: str | bytes, *, max_size: int = MAX_EVENT_SIZE, max_depth: int = MAX_DEPTH) -> str:
    """The device an event is for, to queue it by; empty when the payload is unreadable (the
    worker then dead-letters it with the reason). Never raises."""
    try:
        data = load_json(payload, max_size=max_size, max_depth=max_depth)
    except Exception:  # noqa: BLE001 - an unreadable line is the worker's to dead-letter
        return ""
    device = data.get("device_id") if isinstance(data, dict) else None
    return device if isinstance(device, str) else ""


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
    try:
        text = json.dumps(data, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError) as exc:
        raise DataError(f"{type} event: not JSON ({failure(exc)})") from None
    parse_event(text)
    return text
