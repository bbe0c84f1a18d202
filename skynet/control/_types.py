"""The records of a control decision: appliance capabilities, the situation, settings, the decision.

Plain dataclasses, JSON-friendly (:meth:`Decision.to_dict`), nothing here computes. A command
is a :class:`skynet.domain.ApplianceState` with origin "skynet": the worker stores it and sends
it as it is. Two states *match* when they would leave the AC doing the same thing: an AC that
is off is off whatever its remembered mode, set point and fan.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from skynet.domain import AC_MODES, FAN_SPEEDS, ApplianceState, Device
from skynet.errors import ConfigError

__all__ = ["Appliance", "Context", "ControlConfig", "Decision", "same_setting"]


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

    ``temperature_lags`` / ``humidity_lags`` map minutes ago (the estimation model's lags) to
    the reading then (NaN or missing: unknown); ``temperature_mean`` / ``humidity_mean`` are the
    means of the readings of the last half hour (NaN: unknown). ``occupancy`` is the number of people at home when known (None:
    unknown, treated as occupied). ``hour`` is the local hour of day (0–24).
    ``comfort_offset`` is the device's personal comfort offset (votes above the population
    model, e.g. from ``UserModel.personal_offsets`` on its recent votes; None: the offset the
    comfort model learned for the device, if any). ``device_facts`` are the comfort model's
    optional device columns (``latitude``, ``climate``, ``building_type``, ``cooling_type``).
    """

    device_id: str
    timestamp: datetime
    temperature: float
    humidity: float
    outdoor_temperature: float
    outdoor_humidity: float
    hour: float
    temperature_lags: dict[int, float] = field(default_factory=dict)
    humidity_lags: dict[int, float] = field(default_factory=dict)
    temperature_mean: float = math.nan
    humidity_mean: float = math.nan
    outdoor_running_mean: float | None = None
    occupancy: int | None = None
    comfort_offset: float | None = None
    device_facts: dict[str, Any] = field(default_factory=dict)

    @property
    def occupied(self) -> bool:
        return self.occupancy is None or self.occupancy > 0

    def valid(self) -> bool:
        """Whether the readings every decision needs are numbers."""
        values = (self.temperature, self.humidity, self.outdoor_temperature, self.outdoor_humidity, self.hour)
        return all(v is not None and math.isfinite(v) for v in values)


@dataclass(frozen=True)
class ControlConfig:
    """Knobs of the optimizer, the fallback thermostat and the safety rules (see the package docs).

    Costs are in "comfort units": a predicted feedback of ±1 held over the horizon costs 1.
    """

    # candidates
    modes: tuple[str, ...] = ("cool", "heat", "dry", "fan")
    #: Set-point grid (K). A 1 K grid made the set point cycle (26 <-> 27 °C every hour or two)
    #: where the room would settle in between; the units take 0.5 K.
    set_temperature_step: float = 0.5
    fans: tuple[str, ...] = FAN_SPEEDS
    #: Whether a running unit may get a command that changes only its fan speed (False: the fan
    #: changes with the set point or the mode, in the same command; fan-only changes were half of
    #: skynet's commands in the closed-loop evaluation, and each command beeps).
    fan_alone: bool = False
    #: Horizons (minutes) of the forecast the cost averages over.
    horizons: tuple[int, ...] = (15, 30, 60)
    # cost
    energy_weight: float = 0.05  # per kelvin the AC holds the room away from where it drifts off
    fan_cost: tuple[float, ...] = (0.02, 0.01, 0.02, 0.04)  # by FAN_SPEEDS: auto, low, medium, high
    running_cost: float = 0.03  # any running AC (indoor fan, standby, the chance it starts cooling)
    switch_penalty: float = 0.3  # any command (it beeps in someone's living room)
    power_switch_penalty: float = 0.15  # more for switching on
    mode_switch_penalty: float = 0.15  # more for another mode of a running unit
    repeat_factor: float = 2.0  # each command of the last hour adds this many switching penalties
    #: A setting younger than ``dwell_minutes`` counts as up to ``dwell_weight`` more recent
    #: commands (falling linearly with its age): sensor readings swing with the compressor.
    dwell_minutes: float = 90.0
    dwell_weight: float = 4.0
    empty_switch_share: float = 0.25  # of the switching penalties, in an empty home
    comfort_weight: float = 2.0  # per (feedback beyond the dead band)²
    comfort_deadband: float = 0.2  # |predicted feedback| below this costs nothing
    #: Comfort offset added in the night period (local 22:00–07:00) by the closed-loop
    #: personalisation of :class:`~skynet.control.DevicePolicy` (:func:`skynet.control._personal.offset_for`):
    #: sleepers (0.8 met under bedding) feel cooler than the awake people whose votes the comfort
    #: model and the night offsets learn from, and hardly ever vote themselves. The worker (one
    #: personal offset a device, no periods) does not apply it yet.
    night_offset: float = -0.6
    target_scale: float = 1.0  # kelvin of temperature-target error worth one comfort unit
    humidity_scale: float = 5.0  # %RH of humidity-target error worth one comfort unit
    band_weight: float = 10.0  # per kelvin² outside the away / empty-home band
    #: Bounds (°C) for the "away" target and for an empty home under the "comfort" target (an
    #: empty home may drift warmer: cooling it for nobody cost 10 % of the energy in the
    #: closed-loop evaluation; the pull-down when someone comes home costs less).
    away_band: tuple[float, float] = (16.0, 30.0)
    empty_band: tuple[float, float] = (16.0, 32.0)
    #: Forecasts outside this band cost as outside a band even when the comfort model is calm
    #: about them (comfort target, someone home): the model is not asked to extrapolate, and
    #: the room stays under the top of ``comfort_band`` (what the degree-hours of
    #: ``skynet control evaluate`` count), whatever the personal model says.
    occupied_band: tuple[float, float] = (19.0, 26.0)
    # fallback thermostat (also the comfort-band baseline of `skynet control evaluate`)
    comfort_band: tuple[float, float] = (21.0, 26.0)
    hysteresis: float = 0.5
    # model time budgets (seconds); a slower call is discarded and the fallback decides
    estimator_budget: float = 0.25
    comfort_budget: float = 0.25
    # safety
    min_set_temperature: float = 16.0
    max_set_temperature: float = 30.0
    min_off_seconds: float = 180.0
    min_on_seconds: float = 300.0
    max_commands_per_hour: int = 6

    def __post_init__(self) -> None:
        bad = [m for m in self.modes if m not in AC_MODES] + [f for f in self.fans if f not in FAN_SPEEDS]
        if bad:
            raise ConfigError(f"control: unknown mode or fan {bad[0]!r}")
        if not self.horizons or self.set_temperature_step <= 0 or self.max_commands_per_hour < 1:
            raise ConfigError(
                "control: need horizons, a positive set-temperature step and >= 1 command per hour"
            )
        if self.min_set_temperature > self.max_set_temperature:
            raise ConfigError("control: min_set_temperature is above max_set_temperature")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ControlConfig:
        """Build from a mapping (lists become tuples); unknown keys raise :class:`ConfigError`."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"control: unknown setting {unknown[0]!r}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


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
    fallback: str | None = None
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
            "fallback": self.fallback,
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
