"""Plain domain records: what skynet stores and reads, independent of any storage backend.

All timestamps are naive UTC :class:`datetime.datetime` values. Every record carries the
device it belongs to; the pair ``(device_id, timestamp)`` identifies a time-stamped record,
so writing the same record twice stores it once.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from enum import IntEnum
from typing import ClassVar, Self

from skynet.errors import DataError

__all__ = [
    "Record",
    "Device",
    "User",
    "SensorReading",
    "Weather",
    "Feedback",
    "ApplianceState",
    "ControlTarget",
    "RECORD_KINDS",
    "Mode",
    "Fan",
    "AC_MODES",
    "FAN_SPEEDS",
    "TARGET_MODES",
    "ORIGINS",
    "FEEDBACK_VALUES",
    "field_names",
]


class _Named(IntEnum):
    """An enum whose stored name is its member name in lower case; its value is the code arrays carry."""

    @property
    def label(self) -> str:
        """The name records and events use (``"cool"``, ``"auto"``)."""
        return self.name.lower()

    @classmethod
    def of(cls, value: str | int) -> Self:
        """The member for a stored name (``"cool"``) or a code (``0``).

        Raises:
            DataError: an unknown name or code.
        """
        if isinstance(value, cls):
            return value
        try:
            return cls[value.upper()] if isinstance(value, str) else cls(int(value))
        except (KeyError, ValueError, TypeError):
            names = ", ".join(m.label for m in cls)
            raise DataError(f"{cls.__name__.lower()} {value!r} is not one of {names}") from None


class Mode(_Named):
    """An AC mode. The codes are what arrays carry: candidate commands, estimation features, the
    simulator's kernel and observations (``Mode.COOL == 0``); records store :attr:`label`."""

    COOL = 0
    HEAT = 1
    DRY = 2
    FAN = 3  # fan only
    AUTO = 4


class Fan(_Named):
    """An AC fan speed (codes as :class:`Mode`'s: what arrays carry; records store :attr:`label`)."""

    AUTO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3


#: The stored names, in code order (``AC_MODES[Mode.COOL] == "cool"``).
AC_MODES = tuple(m.label for m in Mode)
FAN_SPEEDS = tuple(f.label for f in Fan)
TARGET_MODES = ("comfort", "temperature", "humidity", "away", "off", "manual")
ORIGINS = ("user", "skynet")
#: The 7-point comfort scale: -3 freezing ... 0 comfy ... +3 too hot.
FEEDBACK_VALUES = (-3, -2, -1, 0, 1, 2, 3)


@dataclass
class Record:
    """Base of every stored record; ``kind`` names its table / collection."""

    kind: ClassVar[str] = "record"
    #: Fields that identify a record (its primary key in every backend).
    key: ClassVar[tuple[str, ...]] = ()
    #: Whether the record is a time series point (``device_id``, ``timestamp``).
    timed: ClassVar[bool] = True


@dataclass
class Device(Record):
    """An AC controller in one home (or, for imported field data, one building)."""

    kind: ClassVar[str] = "device"
    key: ClassVar[tuple[str, ...]] = ("device_id",)
    timed: ClassVar[bool] = False

    device_id: str
    name: str | None = None
    timezone: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    country: str | None = None
    city: str | None = None
    climate: str | None = None
    building_type: str | None = None
    cooling_type: str | None = None
    #: Lowest and highest set temperature the appliance accepts (°C).
    min_set_temperature: float = 16.0
    max_set_temperature: float = 30.0


@dataclass
class User(Record):
    """A person who gives comfort feedback on a device."""

    kind: ClassVar[str] = "user"
    key: ClassVar[tuple[str, ...]] = ("user_id",)
    timed: ClassVar[bool] = False

    user_id: str
    device_id: str | None = None
    name: str | None = None


@dataclass
class SensorReading(Record):
    """The indoor climate measured by a device's sensors."""

    kind: ClassVar[str] = "sensor_reading"
    key: ClassVar[tuple[str, ...]] = ("device_id", "timestamp")

    device_id: str
    timestamp: datetime
    temperature: float  # °C
    humidity: float | None = None  # %RH
    luminosity: float | None = None  # lux
    air_speed: float | None = None  # m/s


@dataclass
class Weather(Record):
    """Outdoor weather at a device's location."""

    kind: ClassVar[str] = "weather"
    key: ClassVar[tuple[str, ...]] = ("device_id", "timestamp")

    device_id: str
    timestamp: datetime
    temperature: float  # °C
    humidity: float | None = None  # %RH
    #: Running mean of the outdoor temperature over the last days (°C), where known.
    running_mean_temperature: float | None = None


@dataclass
class Feedback(Record):
    """A user's comfort vote on the 7-point scale (-3 … +3; decimals allowed)."""

    kind: ClassVar[str] = "feedback"
    key: ClassVar[tuple[str, ...]] = ("device_id", "timestamp")

    device_id: str
    timestamp: datetime
    value: float
    user_id: str | None = None
    clothing: float | None = None  # clo
    metabolic_rate: float | None = None  # met

    def __post_init__(self) -> None:
        if not -3.0 <= self.value <= 3.0:
            raise DataError(f"feedback value {self.value} is outside the scale -3 … +3")


@dataclass
class ApplianceState(Record):
    """The AC's state after a command, sent by the user or by skynet."""

    kind: ClassVar[str] = "appliance_state"
    key: ClassVar[tuple[str, ...]] = ("device_id", "timestamp")

    device_id: str
    timestamp: datetime
    power: bool
    mode: str | None = None  # one of AC_MODES
    set_temperature: float | None = None  # °C
    fan: str | None = None  # one of FAN_SPEEDS
    origin: str = "user"  # one of ORIGINS

    def __post_init__(self) -> None:
        _check_choice("mode", self.mode, AC_MODES, optional=True)
        _check_choice("fan", self.fan, FAN_SPEEDS, optional=True)
        _check_choice("origin", self.origin, ORIGINS)


@dataclass
class ControlTarget(Record):
    """What the user asked skynet to do for a device from ``timestamp`` on."""

    kind: ClassVar[str] = "control_target"
    key: ClassVar[tuple[str, ...]] = ("device_id", "timestamp")

    device_id: str
    timestamp: datetime
    mode: str  # one of TARGET_MODES
    value: float | None = None  # °C for temperature, %RH for humidity, None otherwise
    origin: str = "user"

    def __post_init__(self) -> None:
        _check_choice("mode", self.mode, TARGET_MODES)
        _check_choice("origin", self.origin, ORIGINS)
        if self.mode in ("temperature", "humidity") and self.value is None:
            raise DataError(f"a {self.mode} control target needs a value")


#: Every record kind by its ``kind`` name.
RECORD_KINDS: dict[str, type[Record]] = {
    cls.kind: cls for cls in (Device, User, SensorReading, Weather, Feedback, ApplianceState, ControlTarget)
}


def field_names(kind: type[Record]) -> list[str]:
    """Return the stored field names of a record kind, in declaration order."""
    return [f.name for f in fields(kind)]


def _check_choice(name: str, value: str | None, choices: tuple[str, ...], optional=False) -> None:
    if value is None and optional:
        return
    if value not in choices:
        raise DataError(f"{name} {value!r} is not one of {', '.join(choices)}")
