"""One partition's batch of events in, everything the batch changes out — no I/O here.

:meth:`Processor.process` takes a batch of queued events (in partition order) and the stored
states of their devices, and returns the new states, the commands to send, the decision
documents to log, the queue ids to acknowledge and the events to dead-letter with why. The
worker loop (:mod:`skynet.worker._loop`) logs the documents and commits the rest atomically.

Each event is applied once per device: its id is remembered in the device's state, so a
redelivered or re-sent event is acknowledged without effect. A reading or a target change
makes the controller decide (a :class:`skynet.control.Request`, decided in rounds through
``controller.decide_many``); the decision's command (if any) becomes the AC's known state,
and its safety state is kept. A vote personalizes the device's comfort through the controller's
:class:`skynet.control.Personalizer` (the one the closed loop and ``skynet control decide``
use), by period of the day and, where the votes name their voter, by person: a decision takes
the offset of the person who voted last. Each device's weekly occupancy pattern is learned from its events
(the occupancy its readings report, its votes, its people's changes at the remote, an away
target; :class:`skynet.control.OccupancyProfile`) and handed to its decisions as a forecast; the
patterns live in the worker's memory (a worker that takes a partition over starts them afresh).
An event that is malformed (whatever is wrong with it: see
:func:`~skynet.worker.parse_event`), dated more than ``max_skew`` after it was queued (a device
clock ahead), rejected by the device's state, delivered too often (a worker may have died on it)
or whose decision fails goes to the dead letters with the reason, alone; nothing stops the batch.

Decisions are made at the device's clock (the newest event time it has applied), so the
safety rules never see time run backwards, and only on the device's newest news: a late
reading joins the history without a decision. A device whose set-temperature range leaves no
allowed set point (:func:`skynet.control.range_fault`) gets no decision from the controller:
its decision document says ``fault`` and the batch counts it in :attr:`BatchResult.faults`.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from skynet.domain import Device, Fan
from skynet.errors import DataError, brief
from skynet.storage.live import Entry
from skynet.worker._events import DECIDING, MAX_DEPTH, MAX_EVENT_SIZE, failure, parse_event
from skynet.worker._state import DeviceState

__all__ = ["Processor", "BatchResult", "entry_time", "MAX_SKEW"]

logger = logging.getLogger("skynet.worker")
#: How far ahead of its queueing an event may be dated (device clocks drift; beyond this one is wrong).
MAX_SKEW = timedelta(minutes=10)


@dataclass
class BatchResult:
    """What a batch changes (see :meth:`Processor.process`)."""

    states: dict[str, str] = field(default_factory=dict)
    #: the same states as objects (the worker keeps them for its next batch)
    objects: dict[str, DeviceState] = field(default_factory=dict)
    commands: list[tuple[str, str]] = field(default_factory=list)
    docs: list[dict[str, Any]] = field(default_factory=list)
    acks: list[str] = field(default_factory=list)
    dead: list[tuple[Entry, str]] = field(default_factory=list)
    #: devices that could get no command, and why (:func:`skynet.control.range_fault`)
    faults: list[tuple[str, str]] = field(default_factory=list)
    duplicates: int = 0
    #: seconds each decision took inside the controller
    latencies: list[float] = field(default_factory=list)


def entry_time(entry: Entry) -> datetime | None:
    """When a Redis entry was queued (its id's milliseconds), as naive UTC; None for other ids."""
    ms, dash, _ = entry.id.partition("-")
    if not dash or not ms.isdigit():
        return None
    return datetime.fromtimestamp(int(ms) / 1000.0, UTC).replace(tzinfo=None)


def jsonable(value: Any) -> Any:
    """``value`` with non-finite floats as None and datetimes as ISO text (decision documents are JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if hasattr(value, "item"):  # numpy scalars
        return jsonable(value.item())
    return str(value)


class Processor:
    """Applies events to device states and runs the controller (see the module docstring).

    Args:
        controller: a :class:`skynet.control.Controller` (anything with its ``decide``).
        consumer: the worker's name, recorded in decision documents.
        max_deliveries: an event handed out more often than this goes to the dead letters.
        devices: looks up a device's record (time zone, set-temperature range, comfort facts);
            None: only what ``device`` events said.
        max_skew: how far ahead of its queue time (or of ``clock()``, for a queue that does not
            say) an event may be dated; later ones are dead-lettered.
        max_event_size: the longest event payload read (characters).
        max_depth: the deepest JSON nesting of an event read.
        clock: the current time, naive UTC (default: the system's).
    """

    def __init__(
        self,
        controller: Any,
        consumer: str,
        max_deliveries: int = 5,
        devices: Callable[[str], Device | None] | None = None,
        *,
        max_skew: timedelta = MAX_SKEW,
        max_event_size: int = MAX_EVENT_SIZE,
        max_depth: int = MAX_DEPTH,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        from skynet import control

        self._control = control
        self.controller = controller
        self.consumer = consumer
        self.max_deliveries = max_deliveries
        self.max_skew, self.max_event_size, self.max_depth = max_skew, max_event_size, max_depth
        self._clock = clock or (lambda: datetime.now(UTC).replace(tzinfo=None))
        self._devices = devices
        self._known: dict[str, Device | None] = {}
        #: personal offsets of the devices seen (learned again from a device's kept votes after a
        #: restart or a swap of models)
        self.personalizer = self._personalizer(controller)
        #: each device's weekly occupancy pattern, and when its occupancy was last reported
        self.occupancy: dict[str, Any] = {}
        self._reported: dict[str, datetime] = {}

    def _device(self, device_id: str) -> Device | None:
        if self._devices is None:
            return None
        if device_id not in self._known:
            self._known[device_id] = self._devices(device_id)
        return self._known[device_id]

    def use(self, controller: Any) -> None:
        """Decide with ``controller`` from the next batch on (the worker swaps models between batches).

        The personal offsets start afresh: they are relative to the comfort model that learned
        them, so each device's kept votes are learned again by the new one at its next decision.
        """
        self.controller = controller
        self.personalizer = self._personalizer(controller)

    def _personalizer(self, controller: Any) -> Any:
        """A Personalizer of the controller's comfort model (None: a model that does not personalize)."""
        comfort = getattr(getattr(controller, "models", None), "comfort", None)
        night = controller.config.night_offset if hasattr(controller, "config") else 0.0
        if not hasattr(comfort, "personal_offsets"):
            return None
        return self._control.Personalizer(comfort, night, pool=False)

    def process(
        self, entries: Sequence[Entry], stored: Mapping[str, str | DeviceState | None]
    ) -> BatchResult:
        """Process one partition's entries, oldest first, from the stored device states.

        Decisions are gathered in *rounds* of at most one per device and made together
        (``controller.decide_many`` when it has one: one batched model call for the round); a
        device's next event waits for its pending decision, so each device sees its events
        in order exactly as if they were decided one by one.

        Args:
            entries: the batch (one partition, in queue order).
            stored: device id -> its stored state text (None: new), for every device in the batch
                that has one; missing devices start fresh. A :class:`DeviceState` given instead
                of text is used as it is (and changed in place).
        """
        out = BatchResult()
        states: dict[str, DeviceState] = {}
        pending: dict[str, _Request] = {}
        for entry in entries:
            out.acks.append(entry.id)
            if entry.deliveries > self.max_deliveries:
                why = f"delivered {entry.deliveries} times without being processed (a worker may have died on it)"
                out.dead.append((entry, why))
                continue
            try:
                dead = self._take(entry, stored, states, pending, out)
            except Exception as exc:  # noqa: BLE001 - a failure nobody foresaw fails its event alone
                logger.exception("event %s/%s could not be processed", entry.partition, entry.id)
                dead = f"could not be processed: {failure(exc)}"
            if dead is not None:
                out.dead.append((entry, dead))
        self._flush(pending, out)
        out.states = {device: state.to_json() for device, state in states.items()}
        out.objects = states
        return out

    def _take(
        self,
        entry: Entry,
        stored: Mapping[str, str | DeviceState | None],
        states: dict[str, DeviceState],
        pending: dict[str, _Request],
        out: BatchResult,
    ) -> str | None:
        """Apply one event (and queue its decision); return why it is dead-lettered, or None."""
        try:
            event = parse_event(entry.payload, max_size=self.max_event_size, max_depth=self.max_depth)
        except DataError as exc:
            return f"malformed event: {exc}"
        device = event.device_id
        if device != entry.key:
            return f"device_id {brief(device)} differs from the key it was queued under"
        queued = entry_time(entry)
        reference = queued or self._clock()
        if event.time is not None and event.time - reference > self.max_skew:
            return (f"time {event.time.isoformat()} is {_span(event.time - reference)} after "
                    f"{'its queueing' if queued else 'now'} ({reference.isoformat(timespec='seconds')}): a device "
                    f"clock may be ahead by {_span(self.max_skew)} at most")  # fmt: skip
        if device in pending:  # its decision must see the state before this event
            self._flush(pending, out)
        if device not in states:
            states[device] = self._load(device, stored.get(device), reference + self.max_skew)
        state = states[device]
        event_id = event.event_id or f"{entry.partition}/{entry.id}"
        if state.seen(event_id):
            out.duplicates += 1
            return None
        at = event.time or reference
        before = state.appliance
        try:
            current = state.apply(event, event_id, at)
        except DataError as exc:
            return f"rejected: {exc}"
        if event.type == "appliance" and current:
            state.appliance = self._since(before, state.appliance)
            state.safety = self._safety(state).observe(state.appliance).to_dict()
        if event.type == "feedback":
            self._air_speed(state)
            self._personalize(state)
        if current:  # old news says nothing of when the home is occupied now
            self._learn_occupancy(state, event, at)
        # a target before any reading: the first reading decides; old news decides nothing
        if event.type in DECIDING and current and state.readings:
            try:
                request = self._request(state, event_id, event.type, entry)
            except Exception as exc:  # noqa: BLE001 - one bad decision must not stop the worker
                return f"decision failed: {failure(exc)}"
            if request.fault is None:
                pending[device] = request
            else:
                decision = self._control.Decision(device, request.at, None, {"why": f"device fault: {request.fault}"},
                                                  safety=self._safety(state))  # fmt: skip
                self._finish(request, decision, out)
        return None

    def _load(self, device_id: str, text: str | DeviceState | None, limit: datetime) -> DeviceState:
        """The device's state as stored, without what a clock ahead dated after ``limit``."""
        if isinstance(text, DeviceState):
            state = text
        else:
            try:
                state = DeviceState.from_json(device_id, text)
            except DataError as exc:
                logger.warning("%s; starting it afresh", exc)
                return DeviceState(device_id)
        try:
            if state.forget_after(limit):
                logger.warning(
                    "device %s: dropped stored data dated after %s (a clock ahead)", device_id, limit
                )
        except Exception:  # noqa: BLE001 - a state that cannot be checked is not trusted
            logger.exception("device %s: stored state could not be checked; starting it afresh", device_id)
            return DeviceState(device_id)
        return state

    def _safety(self, state: DeviceState) -> Any:
        if state.safety is None:
            return self._control.SafetyState()
        return self._control.SafetyState.from_dict(state.safety)

    def _since(self, before: Any, after: Any) -> Any:
        """The AC state an appliance event leaves, timed from when its setting began: a report of
        the setting in force does not restart its age (the estimation frame's ``ac_minutes``)."""
        if before is not None and after is not None and self._control.same_setting(before, after):
            return replace(after, timestamp=min(before.timestamp, after.timestamp))
        return after

    def _air_speed(self, state: DeviceState) -> None:
        """A vote's air speed, when its device's sensor measures none: the AC fan's at the vote
        (what the comfort model's training votes get, :func:`skynet.control.air_speed`)."""
        vote, ac = state.feedback[-1], state.appliance
        if vote.get("air_speed") is None:
            on = ac is not None and bool(ac.power)
            fan = int(Fan.of(ac.fan)) if ac is not None and on and ac.fan else int(Fan.AUTO)
            vote["air_speed"] = float(self._control.air_speed(on, fan))

    def _personalize(self, state: DeviceState) -> None:
        """Learn the device's personal offsets (by period of the day) from its kept votes, and keep
        the one of its newest vote's period in the state."""
        if self.personalizer is None or not state.feedback:
            return
        import pandas as pd

        control = self._control
        record = self._device(state.device_id)
        facts = {
            k: getattr(record, k, None) for k in ("latitude", "climate", "building_type", "cooling_type")
        }
        history = pd.DataFrame([{**vote, **facts, "device_id": state.device_id} for vote in state.feedback])
        history["timestamp"] = pd.to_datetime(history["timestamp"])
        zone = state.timezone or getattr(record, "timezone", None)
        history["hour"] = [control.local_hour(t, zone) for t in history["timestamp"].dt.to_pydatetime()]
        try:
            self.personalizer.learn(history)
        except Exception:  # noqa: BLE001 - a failed personalization keeps the previous offset
            logger.exception("personal comfort offset of device %s failed", state.device_id)
            return
        state.comfort_offset = self.personalizer.offset(
            state.device_id, float(history["hour"].iloc[-1]), night=False
        )

    def _learn_occupancy(self, state: DeviceState, event: Any, at: datetime) -> None:
        """Evidence of the device's occupancy in an event, for its weekly pattern."""
        occupied, minutes = None, 1.0
        if event.type == "reading" and "occupancy" in event.fields:
            occupied = bool(event.fields["occupancy"])
            last = self._reported.get(state.device_id)
            minutes = 5.0 if last is None else min(max((at - last).total_seconds() / 60.0, 0.0), 10.0)
            self._reported[state.device_id] = at
        elif event.type == "feedback" or (
            event.type == "appliance" and event.fields.get("origin", "user") == "user"
        ):
            occupied = True  # someone voted or changed the AC at the remote
        elif event.type == "target" and event.fields.get("mode") == "away":
            occupied = False
        if occupied is None or minutes <= 0:
            return
        profile = self.occupancy.setdefault(state.device_id, self._control.OccupancyProfile())
        zone = state.timezone or getattr(self._device(state.device_id), "timezone", None)
        profile.observe(*self._control.local_time(at, zone), occupied, minutes)

    def _offset(self, state: DeviceState, hour: float) -> float | None:
        """The device's personal offset at local ``hour`` (its votes learned once after a restart)."""
        personalizer = self.personalizer
        if personalizer is None:
            return None
        if state.feedback and not personalizer.knows(state.device_id):
            self._personalize(state)
        return personalizer.offset(state.device_id, hour)

    def _request(self, state: DeviceState, event_id: str, kind: str, entry: Entry) -> _Request:
        """What the controller needs for a device's decision now, at the device's clock (its state
        is not changed); or, where the device's set-temperature range allows nothing, why."""
        control = self._control
        record = self._device(state.device_id)
        at = state.last_time or datetime.now(UTC).replace(tzinfo=None)
        appliance = self._appliance(state, record)
        config = getattr(self.controller, "config", None)
        fault = control.range_fault(appliance, config or control.ControlConfig())
        if fault is not None:
            return _Request(state, event_id, kind, entry, at, state.applied, None, fault)
        context = control.build_context(
            state.readings, state.weather, timezone=state.timezone, occupancy=state.occupancy, device=record
        )
        context.comfort_offset = self._offset(state, context.hour)
        if self.personalizer is not None and self.personalizer.knows(state.device_id):
            context.personal = partial(self.personalizer.offset, state.device_id)
        profile = self.occupancy.get(state.device_id)
        if profile is not None:
            weekday, _ = control.local_time(
                context.timestamp, state.timezone or getattr(record, "timezone", None)
            )
            present = None if context.occupancy is None else context.occupancy > 0
            context.occupancy_forecast = partial(profile.forecast, weekday, context.hour, present)
        request = control.Request(context, state.target, appliance, state.appliance, at, self._safety(state))
        return _Request(state, event_id, kind, entry, at, state.applied, request)

    def _appliance(self, state: DeviceState, record: Device | None) -> Any:
        """The AC's capabilities: the device record's, with the range ``device`` events gave."""
        control = self._control
        appliance = control.Appliance.from_device(record)
        low, high = state.min_set_temperature, state.max_set_temperature
        if low is not None or high is not None:
            appliance = control.Appliance(
                appliance.min_set_temperature if low is None else low,
                appliance.max_set_temperature if high is None else high,
            )
        return appliance

    def _flush(self, pending: dict[str, _Request], out: BatchResult) -> None:
        """Decide a round (at most one request per device) and apply the decisions in order."""
        if not pending:
            return
        requests = list(pending.values())
        pending.clear()
        decisions: list[Any] | None = None
        try:
            decisions = list(self.controller.decide_many([r.request for r in requests]))
        except Exception:  # noqa: BLE001 - decide one by one: a bad request fails alone
            if len(requests) > 1:
                logger.exception("batched decision of %d devices failed; deciding one by one", len(requests))
        for i, request in enumerate(requests):
            try:
                decision = decisions[i] if decisions is not None else self.controller.decide(request.request)
                self._finish(request, decision, out)
            except Exception as exc:  # noqa: BLE001 - one bad decision must not stop the worker
                logger.exception("decision for device %s failed", request.state.device_id)
                out.dead.append((request.entry, f"decision failed: {failure(exc)}"))

    def _finish(self, request: _Request, decision: Any, out: BatchResult) -> None:
        """Keep a decision's safety state and command in the device state; log and emit them
        (a device fault: a document saying so, counted)."""
        state = request.state
        if decision.safety is not None:
            state.safety = decision.safety.to_dict()
        out.latencies.append(decision.latency)
        doc = decision.to_dict()
        try:  # usually plain JSON already: the C encoder checks it faster than a walk converts it
            json.dumps(doc, allow_nan=False)
        except (TypeError, ValueError):
            doc = jsonable(doc)
        doc.update(
            decision_id=request.event_id,
            time=request.at,
            trigger=request.kind,
            sequence=request.sequence,
            entry=f"{request.entry.partition}/{request.entry.id}",
            consumer=self.consumer,
            decided_at=datetime.fromtimestamp(time.time(), UTC).replace(tzinfo=None).isoformat(),
        )
        if request.fault is not None:
            doc["fault"] = request.fault
            out.faults.append((state.device_id, request.fault))
        out.docs.append(doc)
        if decision.command is not None:
            state.appliance = decision.command
            command = dict(doc["command"], decision_id=request.event_id)
            out.commands.append((state.device_id, _dumps(command)))


@dataclass
class _Request:
    """A decision to make: the device's state, the triggering event, the controller's request."""

    state: DeviceState
    event_id: str
    kind: str
    entry: Entry
    at: datetime
    sequence: int
    #: the controller's :class:`skynet.control.Request` (None for a device fault)
    request: Any
    #: why the device can get no command (its decision is not asked for), or None
    fault: str | None = None


def _span(delta: timedelta) -> str:
    """A time span in words: ``11 min``, ``3.2 h``, ``2,914,083 days``."""
    seconds = delta.total_seconds()
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:,.0f} days"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
