"""The records of a control decision: the request, the appliance, the situation, the decision.

Plain dataclasses, JSON-friendly (:meth:`Decision.to_dict`), nothing here computes. A command
is a :class:`skynet.domain.ApplianceState` with origin "skynet": the worker stores it and sends
it as it is. Two states *match* when they would leave the AC doing the same thing: an AC that
is off is off whatever its remembered mode, set point and fan. The knobs of a decision are
:class:`skynet.config.ControlConfig` (the settings' ``control:`` section).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from skynet.data.estimation import LAGS
from skynet.domain import AC_MODES, FAN_SPEEDS, ApplianceState, ControlTarget, Device

if TYPE_CHECKING:
    from skynet.control._safety import SafetyState

__all__ = ["Appliance", "Context", "Request", "Decision", "Fallback", "FailureKind", "same_setting"]


@dataclass(frozen=True)
class Appliance:
    """What the AC accepts: set temperature range and step, modes and fan speeds."""

    min_set_temperature: float = 16.0
    max_set_temperature: float = 30.0
    set_temperature_step: float = 0.5
    modes: tuple[str, ...] = AC_MODES
    fans: tuple[str, ...] = FAN_SPEEDS

    @classmethod
    def from_device(cls, device: Device | None) -> Appliance:
        """The capabilities a stored device declares (defaults where it declares nothing)."""
        if device is None:
            return cls()
        return cls(float(device.min_set_temperature), float(device.max_set_temperature))


@dataclass
class Context:
    """A device's situation at a moment: the newest readings, their recent past and the weather.

    ``temperature_lags`` / ``humidity_lags`` map minutes ago (every one of the estimation
    model's lags, :data:`skynet.data.LAGS`) to the reading then (NaN: unknown); ``temperature_mean`` / ``humidity_mean`` are the means of
    the last half hour (NaN: unknown) — all as :func:`skynet.data.recent_inputs` computes them
    for the estimation frame. ``occupancy`` is the number of people at home when known (None:
    unknown, treated as occupied). ``hour`` is the local hour of day (0–24).
    ``comfort_offset`` is the device's personal comfort offset (votes above the population
    model, from :class:`~skynet.control.Personalizer`; None: the offset the comfort model
    learned for the device, if any); ``personal``, when given, is the personal offset at a local
    hour (a plan crosses into the night). ``device_facts`` are the comfort model's optional
    device columns (``latitude``, ``climate``, ``building_type``, ``cooling_type``).
    ``occupancy_forecast``, when given, maps minutes ahead to the chance someone is home (the
    home's learned pattern, :class:`~skynet.control.OccupancyProfile`); without it the present
    occupancy persists.
    """

    device_id: str
    timestamp: datetime
    temperature: float
    humidity: float
    outdoor_temperature: float
    outdoor_humidity: float
    hour: float
    temperature_lags: dict[int, float] = field(default_factory=lambda: dict.fromkeys(LAGS, math.nan))
    humidity_lags: dict[int, float] = field(default_factory=lambda: dict.fromkeys(LAGS, math.nan))
    temperature_mean: float = math.nan
    humidity_mean: float = math.nan
    outdoor_running_mean: float | None = None
    occupancy: int | None = None
    comfort_offset: float | None = None
    device_facts: dict[str, Any] = field(default_factory=dict)
    personal: Callable[[float], float | None] | None = None
    occupancy_forecast: Callable[[Any], Any] | None = None

    @property
    def occupied(self) -> bool:
        return self.occupancy is None or self.occupancy > 0

    def valid(self) -> bool:
        """Whether the readings every decision needs are numbers."""
        values = (self.temperature, self.humidity, self.outdoor_temperature, self.outdoor_humidity, self.hour)
        return all(v is not None and math.isfinite(v) for v in values)


@dataclass(frozen=True)
class Request:
    """One device's decision to make: everything :func:`skynet.control.decide` reads.

    Attributes:
        context: the newest readings and weather (:func:`skynet.control.build_context`).
        target: the device's control target (None: nothing asked, same as manual).
        appliance: what the AC accepts.
        state: the AC's current state (None: unknown); its ``timestamp`` is when that setting began.
        now: the decision time (naive UTC).
        safety: the device's safety state (None: fresh); the new one is in the decision.
    """

    context: Context
    target: ControlTarget | None
    appliance: Appliance
    state: ApplianceState | None
    now: datetime
    safety: SafetyState | None = None

    @property
    def device_id(self) -> str:
        return self.context.device_id

    @property
    def target_mode(self) -> str:
        return self.target.mode if self.target is not None else "manual"


class FailureKind(StrEnum):
    """Why the models did not decide (the fallback thermostat did)."""

    MISSING = "missing"  # no model deployed
    RAISED = "raised"  # the model raised
    SLOW = "slow"  # slower than its time budget
    INVALID = "invalid"  # NaN, infinite or the wrong number of answers
    NO_DATA = "no data"  # no usable reading or weather: nothing was decided


@dataclass(frozen=True)
class Fallback:
    """Why a decision did not come from the models, as typed fields (counted, never parsed).

    Attributes:
        kind: what went wrong.
        model: "estimation model" or "comfort model" (None for :attr:`FailureKind.NO_DATA`).
        error: the exception's type name (:attr:`FailureKind.RAISED`).
        detail: the particulars (the exception's message, the time taken, what was wrong).
    """

    kind: FailureKind
    model: str | None = None
    error: str = ""
    detail: str = ""

    @property
    def key(self) -> str:
        """The cause without its particulars: what fallbacks are counted by
        (``"estimation model took too long"``, ``"comfort model raised ValueError"``)."""
        if self.kind is FailureKind.NO_DATA:
            return "no data"
        if self.kind is FailureKind.MISSING:
            return f"no {self.model}"
        if self.kind is FailureKind.RAISED:
            return f"{self.model} raised {self.error}"
        if self.kind is FailureKind.SLOW:
            return f"{self.model} took too long"
        return f"{self.model} returned NaN or the wrong number of answers"

    @property
    def cause(self) -> str:
        """The cause with its particulars, for logs and the decision log."""
        if self.kind is FailureKind.RAISED:
            return f"{self.key}: {self.detail}"
        if self.kind is FailureKind.SLOW:
            return f"{self.model} took {self.detail}"
        if self.kind is FailureKind.INVALID and self.detail:
            return f"{self.model} returned {self.detail}"
        return self.key

    def __str__(self) -> str:
        return self.cause


@dataclass
class Decision:
    """What skynet decided for one device at one moment, and why.

    Attributes:
        device_id: the device.
        time: the moment of the decision.
        command: the AC state to send (origin "skynet"), or None for "no change".
        reason: JSON-friendly details: the target, the chosen and runner-up candidates with
            their predicted climate and comfort and cost terms, the safety rules that acted.
        fallback: why the rule-based thermostat decided instead of the models (None: models).
        latency: seconds spent deciding.
        safety: the device's safety state after this decision (a
            :class:`~skynet.control.SafetyState`; persist it when the command is sent).
    """

    device_id: str
    time: datetime
    command: ApplianceState | None
    reason: dict[str, Any]
    fallback: Fallback | None = None
    latency: float = 0.0
    safety: Any = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (times as ISO strings)."""
        command = None
        if self.command is not None:
            command = asdict(self.command)
            command["timestamp"] = self.command.timestamp.isoformat()
        return {
            "device_id": self.device_id,
            "time": self.time.isoformat(),
            "command": command,
            "reason": self.reason,
            "fallback": None if self.fallback is None else self.fallback.cause,
            "fallback_kind": None if self.fallback is None else self.fallback.kind.value,
            "latency_ms": round(self.latency * 1000.0, 3),
            "safety": self.safety.to_dict() if self.safety is not None else None,
        }


def same_setting(a: ApplianceState | None, b: ApplianceState | None, tolerance: float = 0.25) -> bool:
    """Whether two AC states leave the unit doing the same thing (off is off, whatever else)."""
    if a is None or b is None:
        return a is b
    if not a.power or not b.power:
        return a.power == b.power
    if a.mode != b.mode or a.fan != b.fan:
        return False
    if a.set_temperature is None or b.set_temperature is None:
        return a.set_temperature is b.set_temperature
    return abs(a.set_temperature - b.set_temperature) <= tolerance
