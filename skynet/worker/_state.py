"""What the control worker remembers about one device, kept as JSON in the live store.

The newest half hour of readings (the decision's lags need 30 minutes), the newest weather, the
recent comfort votes, the control target, the AC's last known state, the safety rules' state
(:class:`skynet.control.SafetyState`, as its dict), the device's time zone and set-temperature
range, and for idempotence the ids of the last events applied and a count of them.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from skynet.domain import ApplianceState, ControlTarget, Feedback, SensorReading, Weather
from skynet.errors import DataError
from skynet.worker._events import Event

__all__ = ["DeviceState", "HISTORY", "RECENT_IDS", "FEEDBACK_KEPT"]

#: How far back readings are kept (the context's longest lag is 30 minutes).
HISTORY = timedelta(minutes=35)
#: How many applied event ids a device remembers to drop a repeated event.
RECENT_IDS = 64
#: How many comfort votes a device keeps.
FEEDBACK_KEPT = 20


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


@dataclass
class DeviceState:
    """A device's state in the worker (see the module docstring).

    Attributes:
        device_id: the device.
        readings: recent sensor readings, oldest first (at most :data:`HISTORY` back).
        weather: the newest outdoor weather.
        feedback: recent comfort votes, oldest first, each with the climate when it was given
            (``timestamp``, ``value``, ``user_id``, ``clothing``, ``metabolic_rate``,
            ``temperature``, ``humidity``, ``outdoor_temperature``, ``outdoor_humidity``,
            ``outdoor_running_mean``): the comfort model's personalization history.
        comfort_offset: the device's personal comfort offset from those votes (None: not known).
        occupancy: people at home, when a reading said.
        target: the control target (None: none set; the controller keeps its hands off).
        appliance: the AC's last known state (a user's change, or skynet's last command).
        safety: the safety rules' state as :meth:`skynet.control.SafetyState.to_dict` gives it.
        timezone: the device's time zone.
        min_set_temperature / max_set_temperature: the AC's range, when a device event said.
        applied: how many events were applied (each once).
        recent: ids of the last events applied, oldest first.
        last_time: the time of the last event applied.
    """

    device_id: str
    readings: list[SensorReading] = field(default_factory=list)
    weather: Weather | None = None
    feedback: list[dict[str, Any]] = field(default_factory=list)
    comfort_offset: float | None = None
    occupancy: int | None = None
    target: ControlTarget | None = None
    appliance: ApplianceState | None = None
    safety: dict[str, Any] | None = None
    timezone: str | None = None
    min_set_temperature: float | None = None
    max_set_temperature: float | None = None
    applied: int = 0
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=RECENT_IDS))
    last_time: datetime | None = None
    _rows: list[list[Any]] = field(default_factory=list, repr=False, compare=False)

    def seen(self, event_id: str) -> bool:
        """Whether the event was already applied."""
        return event_id in self.recent

    def apply(self, event: Event, event_id: str, at: datetime) -> None:
        """Take an event into the state (the caller has checked :meth:`seen`)."""
        record = event.record(at)
        fields = event.fields
        if event.type == "reading":
            self._add_reading(record)  # type: ignore[arg-type]
            if "occupancy" in fields:
                self.occupancy = fields["occupancy"]
            if "outdoor_temperature" in fields:
                self.weather = Weather(event.device_id, at, fields["outdoor_temperature"],
                                       humidity=fields.get("outdoor_humidity"),
                                       running_mean_temperature=getattr(self.weather, "running_mean_temperature", None))  # fmt: skip
        elif event.type == "weather":
            self.weather = record  # type: ignore[assignment]
        elif event.type == "feedback":
            self.feedback = [*self.feedback, self._vote(record)][-FEEDBACK_KEPT:]  # type: ignore[arg-type]
        elif event.type == "target":
            self.target = record  # type: ignore[assignment]
        elif event.type == "appliance":
            self.appliance = record  # type: ignore[assignment]
        elif event.type == "device":
            for name in ("timezone", "min_set_temperature", "max_set_temperature"):
                if name in fields:
                    setattr(self, name, fields[name])
        self.applied += 1
        self.recent.append(event_id)
        self.last_time = at

    def _add_reading(self, reading: SensorReading) -> None:
        """Keep a reading (in time order) and its JSON row, and forget those past :data:`HISTORY`."""
        rows = self._wire()
        row = [
            _iso(reading.timestamp),
            reading.temperature,
            reading.humidity,
            reading.luminosity,
            reading.air_speed,
        ]
        self.readings.append(reading)
        rows.append(row)
        if len(self.readings) > 1 and self.readings[-2].timestamp > reading.timestamp:  # late: re-sort
            pairs = sorted(zip(self.readings, rows, strict=True), key=lambda p: p[0].timestamp)
            self.readings, rows[:] = [p[0] for p in pairs], [p[1] for p in pairs]
        newest = self.readings[-1].timestamp
        drop = 0
        while newest - self.readings[drop].timestamp > HISTORY:
            drop += 1
        if drop:
            del self.readings[:drop], rows[:drop]

    def _wire(self) -> list[list[Any]]:
        """The readings as JSON rows, kept beside them so a state is cheap to write (ISO times once)."""
        if len(self._rows) != len(self.readings):
            self._rows[:] = [[_iso(r.timestamp), r.temperature, r.humidity, r.luminosity, r.air_speed]
                             for r in self.readings]  # fmt: skip
        return self._rows

    def _vote(self, vote: Feedback) -> dict[str, Any]:
        """A vote with the newest indoor reading and weather, as the comfort model reads it."""
        reading, weather = (self.readings[-1] if self.readings else None), self.weather
        return {
            "timestamp": _iso(vote.timestamp),
            "value": vote.value,
            "user_id": vote.user_id,
            "clothing": vote.clothing,
            "metabolic_rate": vote.metabolic_rate,
            "temperature": getattr(reading, "temperature", None),
            "humidity": getattr(reading, "humidity", None),
            "air_speed": getattr(reading, "air_speed", None),
            "outdoor_temperature": getattr(weather, "temperature", None),
            "outdoor_humidity": getattr(weather, "humidity", None),
            "outdoor_running_mean": getattr(weather, "running_mean_temperature", None),
        }

    # -- JSON ------------------------------------------------------------------------------------

    def to_json(self) -> str:
        data = {
            "device_id": self.device_id,
            "readings": self._wire(),
            "weather": None if self.weather is None else [_iso(self.weather.timestamp), self.weather.temperature,
                                                          self.weather.humidity,
                                                          self.weather.running_mean_temperature],  # fmt: skip
            "feedback": self.feedback,
            "comfort_offset": self.comfort_offset,
            "occupancy": self.occupancy,
            "target": None if self.target is None else [_iso(self.target.timestamp), self.target.mode,
                                                        self.target.value, self.target.origin],  # fmt: skip
            "appliance": None if self.appliance is None else _appliance(self.appliance),
            "safety": self.safety,
            "timezone": self.timezone,
            "min_set_temperature": self.min_set_temperature,
            "max_set_temperature": self.max_set_temperature,
            "applied": self.applied,
            "recent": list(self.recent),
            "last_time": _iso(self.last_time),
        }
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, device_id: str, text: str | None) -> DeviceState:
        """The state stored as ``text`` (None: a new device).

        Raises:
            DataError: the text is not a device state.
        """
        if text is None:
            return cls(device_id)
        try:
            d = json.loads(text)
            dev = d["device_id"]
            weather, target, appliance = d["weather"], d["target"], d["appliance"]
            return cls(
                device_id=dev,
                readings=[SensorReading(dev, _time(r[0]), *r[1:]) for r in d["readings"]],
                _rows=d["readings"],
                weather=None if weather is None else Weather(dev, _time(weather[0]), *weather[1:]),
                feedback=list(d["feedback"]),
                comfort_offset=d["comfort_offset"],
                occupancy=d["occupancy"],
                target=None if target is None else ControlTarget(dev, _time(target[0]), *target[1:]),
                appliance=(
                    None if appliance is None else ApplianceState(dev, _time(appliance[0]), *appliance[1:])
                ),
                safety=d["safety"],
                timezone=d["timezone"],
                min_set_temperature=d["min_set_temperature"],
                max_set_temperature=d["max_set_temperature"],
                applied=int(d["applied"]),
                recent=deque(d["recent"], maxlen=RECENT_IDS),
                last_time=_time(d["last_time"]),
            )
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise DataError(
                f"device {device_id}: stored state is not readable ({type(exc).__name__}: {exc})"
            ) from None


def _appliance(state: ApplianceState) -> list[Any]:
    return [_iso(state.timestamp), state.power, state.mode, state.set_temperature, state.fan, state.origin]
