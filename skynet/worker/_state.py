"""What the control worker remembers about one device, kept as JSON in the live store.

The newest half hour of readings (the decision's lags need 30 minutes), the newest weather, the
recent comfort votes, the control target, the AC's last known state, the safety rules' state
(:class:`skynet.control.SafetyState`, as its dict), the device's time zone and set-temperature
range, and for idempotence the ids of the last events applied and a count of them.

Time only moves forward: an event older than what the state holds never replaces it (a late
reading joins the history in its place, a late weather, target or AC state is kept out), and
:attr:`DeviceState.last_time`, the device's clock, is the newest time applied.
:meth:`DeviceState.forget_after` drops whatever a wrong clock dated in the future, so a state
stored before the worker checked event times recovers when it is loaded.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from skynet.domain import ApplianceState, ControlTarget, Feedback, SensorReading, Weather
from skynet.errors import DataError
from skynet.worker._events import Event, failure

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
        last_time: the newest time of the events applied (the device's clock: a decision is
            never made before it, so the safety rules' clock never runs backwards).
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

    def apply(self, event: Event, event_id: str, at: datetime) -> bool:
        """Take an event into the state (the caller has checked :meth:`seen`).

        Returns:
            Whether the event is the device's newest news of its kind (a reading newer than
            every kept one, a target newer than the current one...): only such an event makes
            the worker decide. An older one is applied as history, or left out where newer
            data stands, and counted as applied either way.

        Raises:
            DataError: the event contradicts the state (a device range whose minimum would be
                above its maximum); nothing is changed.
        """
        fields = event.fields
        if event.type == "device":
            low = fields.get("min_set_temperature", self.min_set_temperature)
            high = fields.get("max_set_temperature", self.max_set_temperature)
            if low is not None and high is not None and low > high:
                raise DataError(f"device event: set-temperature range {low:g} … {high:g} °C is empty "
                                "(with the range the device gave before)")  # fmt: skip
        record = event.record(at)
        current = True
        if event.type == "reading":
            current = self._add_reading(record)  # type: ignore[arg-type]
            if current and "occupancy" in fields:
                self.occupancy = fields["occupancy"]
            if "outdoor_temperature" in fields and _newer(at, self.weather):
                self.weather = Weather(event.device_id, at, fields["outdoor_temperature"],
                                       humidity=fields.get("outdoor_humidity"),
                                       running_mean_temperature=getattr(self.weather, "running_mean_temperature", None))  # fmt: skip
        elif event.type == "weather":
            if _newer(at, self.weather):
                self.weather = record  # type: ignore[assignment]
        elif event.type == "feedback":
            self.feedback = [*self.feedback, self._vote(record)][-FEEDBACK_KEPT:]  # type: ignore[arg-type]
        elif event.type == "target":
            current = _newer(at, self.target)
            if current:
                self.target = record  # type: ignore[assignment]
        elif event.type == "appliance":
            current = _newer(at, self.appliance)
            if current:
                self.appliance = record  # type: ignore[assignment]
        elif event.type == "device":
            for name in ("timezone", "min_set_temperature", "max_set_temperature"):
                if name in fields:
                    setattr(self, name, fields[name])
        self.applied += 1
        self.recent.append(event_id)
        self.last_time = at if self.last_time is None else max(self.last_time, at)
        return current

    def forget_after(self, limit: datetime) -> bool:
        """Drop everything dated after ``limit`` (what a device with a wrong clock left behind).

        The readings, weather, target, AC state and votes dated later are dropped, skynet's
        commands later are forgotten by the safety state, a later power switch counts as made
        at ``limit`` (the compressor protection still runs from there), and the clock falls
        back to the newest time left.

        Returns:
            Whether anything was dropped.
        """
        changed = False
        if self.readings and self.readings[-1].timestamp > limit:
            keep = [i for i, r in enumerate(self.readings) if r.timestamp <= limit]
            rows = self._wire()
            self.readings, self._rows = [self.readings[i] for i in keep], [rows[i] for i in keep]
            changed = True
        for name in ("weather", "target", "appliance"):
            record = getattr(self, name)
            if record is not None and record.timestamp > limit:
                setattr(self, name, None)
                changed = True
        votes = [
            v for v in self.feedback if _time(v.get("timestamp")) is None or _time(v["timestamp"]) <= limit
        ]
        if len(votes) != len(self.feedback):
            self.feedback, changed = votes, True
        if self.safety is not None:
            changed = self._safety_until(limit) or changed
        if self.last_time is not None and self.last_time > limit:
            times = [r.timestamp for r in self.readings]
            times += [r.timestamp for r in (self.weather, self.target, self.appliance) if r is not None]
            self.last_time, changed = max(times, default=None), True
        return changed

    def _safety_until(self, limit: datetime) -> bool:
        from skynet.control import SafetyState

        safety = SafetyState.from_dict(self.safety)  # type: ignore[arg-type]
        kept = SafetyState(
            safety.power,
            min(safety.power_since, limit) if safety.power_since is not None else None,
            tuple(t for t in safety.commands if t <= limit),
        )
        if kept == safety:
            return False
        self.safety = kept.to_dict()
        return True

    def _add_reading(self, reading: SensorReading) -> bool:
        """Keep a reading (in time order) and its JSON row, and forget those past :data:`HISTORY`;
        return whether it is the newest reading."""
        rows = self._wire()
        row = [
            _iso(reading.timestamp),
            reading.temperature,
            reading.humidity,
            reading.luminosity,
            reading.air_speed,
        ]
        if self.readings and self.readings[-1].timestamp - reading.timestamp > HISTORY:
            return False  # older than the history kept: it would be dropped at once
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
        return newest == reading.timestamp

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
        except Exception as exc:  # noqa: BLE001 - whatever is wrong with it, it is not a state
            raise DataError(f"device {device_id}: stored state is not readable ({failure(exc)})") from None


def _newer(at: datetime, record: Weather | ControlTarget | ApplianceState | None) -> bool:
    """Whether data dated ``at`` may replace ``record`` (old news never replaces newer)."""
    return record is None or at >= record.timestamp


def _appliance(state: ApplianceState) -> list[Any]:
    return [_iso(state.timestamp), state.power, state.mode, state.set_temperature, state.fan, state.origin]
