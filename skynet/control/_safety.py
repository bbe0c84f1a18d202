"""Safety rules that no model overrides, applied to every command after the optimizer.

In order, a proposed command is

0. dropped when the device is at fault: the set temperatures it may use are the configured
   range (default 16–30 °C) *intersected* with the appliance's, never widened to either; when
   they do not overlap, or the appliance's range is inverted or not a number, no command is
   sent at all (:func:`range_fault` says why; the result is held as ``"device_fault"``);
1. checked against the appliance: a mode or fan it lacks, or a NaN set temperature, drops the
   command; the set temperature is clamped to that intersection and rounded to the
   appliance's step;
2. dropped when it would change nothing (:func:`skynet.control.same_setting`);
3. held back while the compressor protection runs: no switching on within ``min_off_seconds``
   of the AC going off (default 3 min), no switching off within ``min_on_seconds`` of it going
   on (default 5 min) — whoever switched it;
4. held back when ``max_commands_per_hour`` skynet commands (default 6) were sent to the
   device in the last hour.

:class:`SafetyState` is what the rules remember about a device (when its power last changed,
skynet's commands in the last hour); it is small and JSON-(de)serializable so the control
worker keeps it in Redis. Every function here is pure: states are returned, never changed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from skynet.config import ControlConfig
from skynet.control._types import Appliance, same_setting
from skynet.domain import ApplianceState
from skynet.errors import DataError

__all__ = ["SafetyState", "SafetyResult", "apply_safety", "allowed_set_range", "range_fault", "DEVICE_FAULT"]

_HOUR = timedelta(hours=1)
#: :attr:`SafetyResult.held` when the device's set-temperature range leaves no command possible.
DEVICE_FAULT = "device_fault"


@dataclass(frozen=True)
class SafetyState:
    """What the safety rules remember about one device (JSON via :meth:`to_json`).

    Attributes:
        power: the AC's last known power (None: never seen).
        power_since: when that power began (the last on/off switch, by anyone).
        commands: times of skynet's commands in the last hour, oldest first.
    """

    power: bool | None = None
    power_since: datetime | None = None
    commands: tuple[datetime, ...] = field(default_factory=tuple)

    def observe(self, state: ApplianceState | None) -> SafetyState:
        """The state after seeing the AC in ``state`` (a user's change, or skynet's echoed back)."""
        if state is None or state.power == self.power:
            return self
        return replace(self, power=bool(state.power), power_since=state.timestamp)

    def sent(self, command: ApplianceState, now: datetime) -> SafetyState:
        """The state after skynet sent ``command`` at ``now``."""
        recent = tuple(t for t in self.commands if now - t < _HOUR) + (now,)
        if command.power != self.power:
            return SafetyState(bool(command.power), now, recent)
        return replace(self, commands=recent)

    def commands_in_last_hour(self, now: datetime) -> int:
        return sum(1 for t in self.commands if timedelta(0) <= now - t < _HOUR)

    @classmethod
    def from_history(cls, states: Iterable[ApplianceState], now: datetime) -> SafetyState:
        """Rebuild the state from a device's stored AC states (any order) up to ``now``.

        The power and when it began come from the last switch; skynet's commands of the last
        hour are the states with origin "skynet".
        """
        ordered = sorted((s for s in states if s.timestamp <= now), key=lambda s: s.timestamp)
        state = cls()
        for s in ordered:
            state = state.observe(s)
        recent = tuple(s.timestamp for s in ordered if s.origin == "skynet" and now - s.timestamp < _HOUR)
        return replace(state, commands=recent)

    def to_dict(self) -> dict[str, Any]:
        return {
            "power": self.power,
            "power_since": self.power_since.isoformat() if self.power_since else None,
            "commands": [t.isoformat() for t in self.commands],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SafetyState:
        """Rebuild from :meth:`to_dict` output.

        Raises:
            DataError: the data is not a safety state.
        """
        try:
            since = data.get("power_since")
            return cls(
                power=None if data.get("power") is None else bool(data["power"]),
                power_since=datetime.fromisoformat(since) if since else None,
                commands=tuple(datetime.fromisoformat(t) for t in data.get("commands", ())),
            )
        except (AttributeError, TypeError, ValueError) as exc:
            raise DataError(f"not a control safety state: {exc}") from None

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> SafetyState:
        """Rebuild from :meth:`to_json` output (raises :class:`DataError` on bad JSON)."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise DataError(f"not a control safety state: {exc}") from None
        if not isinstance(data, dict):
            raise DataError("not a control safety state: expected a JSON object")
        return cls.from_dict(data)


@dataclass(frozen=True)
class SafetyResult:
    """The outcome of :func:`apply_safety`.

    Attributes:
        command: the command to send (possibly adjusted), or None.
        actions: what the rules did, e.g. ``["clamped set temperature 14.0 -> 16.0"]`` or
            ``["held: minimum off time (95 s left)"]``; empty when the command passed untouched.
        held: the name of the rule that held a command back (``"device_fault"``,
            ``"unsupported"``, ``"unchanged"``, ``"min_off"``, ``"min_on"``, ``"rate"``), or None.
        safety: the safety state after the decision (records the command when one is sent).
    """

    command: ApplianceState | None
    actions: list[str]
    held: str | None
    safety: SafetyState


def allowed_set_range(appliance: Appliance, config: ControlConfig) -> tuple[float, float]:
    """The set temperatures both the appliance and the configuration allow (°C): the intersection.

    Never wider than either range. Empty (``low > high``) when the ranges do not overlap or the
    appliance's is inverted or not a number: then no set temperature is allowed, and
    :func:`range_fault` says why.
    """
    if range_fault(appliance, config) is not None:  # an empty pair, finite so that a grid over it is empty
        return config.max_set_temperature + 1.0, config.min_set_temperature
    low = max(appliance.min_set_temperature, config.min_set_temperature)
    high = min(appliance.max_set_temperature, config.max_set_temperature)
    return low, high


def range_fault(appliance: Appliance, config: ControlConfig) -> str | None:
    """Why the device may get no command at all (None: its ranges leave some set temperatures).

    A device fault, not a decision: the worker counts it and logs it.
    """
    low, high = appliance.min_set_temperature, appliance.max_set_temperature
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"the appliance's set-temperature range {low!r} … {high!r} is not a number"
    if low > high:
        return f"the appliance's set-temperature range is inverted: min {low:g} above max {high:g} °C"
    if max(low, config.min_set_temperature) > min(high, config.max_set_temperature):
        return (
            f"the appliance's set-temperature range {low:g} … {high:g} °C does not overlap the configured "
            f"{config.min_set_temperature:g} … {config.max_set_temperature:g} °C"
        )
    return None


def apply_safety(
    command: ApplianceState | None,
    current: ApplianceState | None,
    appliance: Appliance,
    safety: SafetyState,
    config: ControlConfig,
    now: datetime,
) -> SafetyResult:
    """Apply the safety rules (see the module docstring) to a proposed command.

    Args:
        command: what the optimizer or the fallback proposes (None: nothing).
        current: the AC's current state (None: unknown; then any valid command is a change).
        appliance: the AC's capabilities.
        safety: the device's safety state (already updated with ``current``).
        config: the safety limits.
        now: the moment the command would be sent.

    Returns:
        The command to send or None, what the rules did, and the new safety state.
    """
    if command is None:
        return SafetyResult(None, [], None, safety)
    fault = range_fault(appliance, config)
    if fault is not None:
        return SafetyResult(None, [f"dropped: device fault: {fault}"], DEVICE_FAULT, safety)
    actions: list[str] = []
    checked = _check_capabilities(command, appliance, config, actions)
    if checked is None:
        return SafetyResult(None, actions, "unsupported", safety)
    if same_setting(checked, current):
        return SafetyResult(None, [*actions, "held: nothing would change"], "unchanged", safety)
    switching_on = checked.power and safety.power is False
    switching_off = not checked.power and safety.power is True
    elapsed = (now - safety.power_since).total_seconds() if safety.power_since else math.inf
    if switching_on and elapsed < config.min_off_seconds:
        left = config.min_off_seconds - elapsed
        return SafetyResult(
            None, [*actions, f"held: minimum off time ({left:.0f} s left)"], "min_off", safety
        )
    if switching_off and elapsed < config.min_on_seconds:
        left = config.min_on_seconds - elapsed
        return SafetyResult(None, [*actions, f"held: minimum on time ({left:.0f} s left)"], "min_on", safety)
    sent = safety.commands_in_last_hour(now)
    if sent >= config.max_commands_per_hour:
        return SafetyResult(None, [*actions, f"held: {sent} commands in the last hour"], "rate", safety)
    return SafetyResult(checked, actions, None, safety.sent(checked, now))


def _check_capabilities(
    command: ApplianceState, appliance: Appliance, config: ControlConfig, actions: list[str]
) -> ApplianceState | None:
    """The command made valid for the appliance, or None when it cannot be."""
    if command.power and command.mode is not None and command.mode not in appliance.modes:
        actions.append(f"dropped: the AC has no {command.mode!r} mode")
        return None
    if command.power and command.fan is not None and command.fan not in appliance.fans:
        actions.append(f"dropped: the AC has no {command.fan!r} fan speed")
        return None
    tset = command.set_temperature
    if tset is None:
        return command
    if not math.isfinite(tset):
        actions.append("dropped: the set temperature is not a number")
        return None
    low, high = allowed_set_range(appliance, config)
    step = appliance.set_temperature_step
    value = round(tset / step) * step if step > 0 else tset
    value = min(max(value, low), high)  # after rounding: a range edge off the step grid still holds
    if value != tset:
        actions.append(f"clamped set temperature {tset:g} -> {value:g}")
        return replace(command, set_temperature=float(value))
    return command
