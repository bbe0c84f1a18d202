"""The REST service's request and response bodies (pydantic): what the OpenAPI schema shows.

Physical ranges come from where skynet keeps them, so the schema and the checks behind it
agree: comfort rows from :data:`skynet.data.PREDICT_RANGES`, a room's state from
:func:`skynet.api.estimation.state_ranges`, set temperatures from
:data:`skynet.data.SET_TEMPERATURE`, a control context's events from the worker's
:data:`skynet.worker.LIMITS`. A value outside them is a 422 naming the field before any
model runs; the application functions check again (they are the one check of every way in).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from skynet.api.estimation import state_ranges
from skynet.data import PREDICT_RANGES, SET_TEMPERATURE
from skynet.domain import AC_MODES, FAN_SPEEDS
from skynet.worker import LIMITS

__all__ = [
    "ComfortRequest",
    "ComfortResponse",
    "ForecastRequest",
    "ForecastResponse",
    "DecideRequest",
    "DecideResponse",
    "ErrorBody",
    "Readiness",
]

#: The longest id or text field accepted (device ids, user ids, labels).
MAX_TEXT = 128
#: Rows of one comfort request, commands of one forecast, readings of one context.
MAX_ROWS = 10_000
MAX_COMMANDS = 500
MAX_READINGS = 500

_FORBID = ConfigDict(extra="forbid")
# Numbers and booleans are strict (``false`` is no number, ``"1"`` no boolean), as JSON Schema reads them.
Mode = Literal[AC_MODES]  # type: ignore[valid-type]
FanSpeed = Literal[FAN_SPEEDS]  # type: ignore[valid-type]


def _text(description: str, default: Any = None) -> Any:
    return Field(default, min_length=1, max_length=MAX_TEXT, description=description)


def _ranged(low: float, high: float, label: str, required: bool = False) -> Any:
    return Field(
        ... if required else None, ge=low, le=high, allow_inf_nan=False, description=label, strict=True
    )


def _number_fields(ranges: dict[str, Any]) -> dict[str, Any]:
    return {
        name: (float if rng.required else float | None, _ranged(rng.low, rng.high, rng.label, rng.required))
        for name, rng in ranges.items()
    }


# -- user comfort -----------------------------------------------------------------------------
ComfortRow = create_model(
    "ComfortRow",
    __config__=_FORBID,
    __doc__="One situation to predict comfort in: a comfort frame's values (temperature required).",
    **_number_fields(PREDICT_RANGES),
    device_id=(str | None, _text("the row's device (a device in the request body wins)")),
    user_id=(str | None, _text("the person (personalized where the model tells people apart)")),
    timestamp=(datetime | None, Field(None, description="when (ISO 8601; naive means UTC)")),
    climate=(str | None, _text("Köppen climate of the site")),
    building_type=(str | None, _text("building type")),
    cooling_type=(str | None, _text("cooling type")),
)


class ComfortRequest(BaseModel):
    """Rows to predict comfort for; with ``device_id``, personalized with the device's stored votes."""

    model_config = _FORBID
    rows: list[ComfortRow] = Field(..., min_length=1, max_length=MAX_ROWS)  # type: ignore[valid-type]
    device_id: str | None = _text("personalize with this device's stored votes")


ComfortPrediction = create_model(  # type: ignore[call-overload]
    "ComfortPrediction",
    __config__=ConfigDict(extra="allow", populate_by_name=True),
    __doc__="One row's answer: its inputs, the expected and median vote and each vote's probability.",
    expected=(float, Field(..., description="expected vote (-3 cold … +3 hot)")),
    median=(float, Field(..., description="median vote")),
    **{
        f"p_{'m' if v < 0 else ''}{abs(v)}": (float, Field(..., alias=f"p_{v}", description=f"P(vote = {v})"))
        for v in range(-3, 4)
    },
)


class ComfortResponse(BaseModel):
    """The model that answered and one prediction per row, in order."""

    model: str
    rows: list[ComfortPrediction]  # type: ignore[valid-type]


# -- estimation -------------------------------------------------------------------------------
RoomState = create_model(
    "RoomState",
    __config__=_FORBID,
    __doc__=(
        "The room now: readings (lags and 30-minute means may be left out), the weather, the local "
        "hour and the AC in force."
    ),
    **_number_fields(state_ranges()),
    power=(bool, Field(..., description="whether the AC in force is on", strict=True)),
    mode=(Mode | None, Field(None, description="its mode (needed when on)")),
    fan=(FanSpeed | None, Field(None, description="its fan speed (default auto)")),
)


class Command(BaseModel):
    """An AC command to forecast the room under."""

    model_config = _FORBID
    power: bool = Field(True, strict=True)
    mode: Mode | None = None
    set_temperature: float | None = _ranged(SET_TEMPERATURE.low, SET_TEMPERATURE.high, SET_TEMPERATURE.label)
    fan: FanSpeed | None = None


class ForecastRequest(BaseModel):
    """A room (its state, or a stored device's newest readings) and the commands to forecast it under."""

    model_config = _FORBID
    state: RoomState | None = Field(None, description="the room now (else the stored device's readings)")  # type: ignore[valid-type]
    device_id: str | None = _text("a stored device (its newest readings), or a label for the state")
    at: datetime | None = Field(None, description="with device_id: forecast from its readings at this time")
    commands: list[Command | str] = Field(
        default_factory=list,
        max_length=MAX_COMMANDS,
        description="commands (objects or text: off, cool:24:auto); none: keep the AC in force",
    )


class ForecastResponse(BaseModel):
    """The model, the inputs it used and one forecast per command."""

    model_config = ConfigDict(extra="allow")
    model: str
    device_id: str | None
    state: dict[str, Any]
    rows: list[dict[str, Any]]


# -- control ----------------------------------------------------------------------------------
def _limit(name: str, kind: str = "") -> Any:
    low, high, unit = LIMITS[name]
    return _ranged(low, high, f"{kind or name} ({unit})")


class _Event(BaseModel):
    model_config = _FORBID
    time: datetime | None = Field(None, description="when (ISO 8601; naive means UTC; default now)")


class Reading(_Event):
    """A sensor reading (the worker's ``reading`` event)."""

    temperature: float = Field(
        ..., ge=LIMITS["temperature"][0], le=LIMITS["temperature"][1], allow_inf_nan=False
    )
    humidity: float | None = _limit("humidity")
    luminosity: float | None = _limit("luminosity")
    air_speed: float | None = _limit("air_speed")
    occupancy: int | None = Field(None, ge=LIMITS["occupancy"][0], le=LIMITS["occupancy"][1], strict=True)
    outdoor_temperature: float | None = _limit("outdoor_temperature")
    outdoor_humidity: float | None = _limit("outdoor_humidity")


class WeatherNow(_Event):
    """The outdoor weather (the worker's ``weather`` event)."""

    temperature: float = Field(
        ...,
        ge=LIMITS["outdoor_temperature"][0],
        le=LIMITS["outdoor_temperature"][1],
        allow_inf_nan=False,
        strict=True,
    )
    humidity: float | None = _limit("outdoor_humidity")
    running_mean_temperature: float | None = _limit("running_mean_temperature")


class Vote(_Event):
    """A comfort vote (the worker's ``feedback`` event)."""

    value: float = Field(..., ge=-3, le=3, allow_inf_nan=False, strict=True)
    user_id: str | None = _text("who voted")
    clothing: float | None = _limit("clothing")
    metabolic_rate: float | None = _limit("metabolic_rate")


class Target(_Event):
    """The control target (the worker's ``target`` event)."""

    mode: Literal["comfort", "temperature", "humidity", "away", "off", "manual"]
    value: float | None = Field(None, ge=0, le=100, allow_inf_nan=False, description="°C or %RH", strict=True)
    origin: str | None = _text("who set it")


class ApplianceNow(_Event):
    """The AC's state in force (the worker's ``appliance`` event)."""

    power: bool = Field(..., strict=True)
    mode: Mode | None = None
    set_temperature: float | None = _limit("set_temperature")
    fan: FanSpeed | None = None
    origin: str | None = _text("who set it (user, skynet, ...)")


class DeviceFacts(_Event):
    """The device's time zone and set-temperature range (the worker's ``device`` event)."""

    timezone: str | None = _text("IANA time zone")
    min_set_temperature: float | None = _limit("min_set_temperature")
    max_set_temperature: float | None = _limit("max_set_temperature")


class DecideRequest(BaseModel):
    """A device's context: what the control worker would have received from it."""

    model_config = _FORBID
    device_id: str = Field(..., min_length=1, max_length=64)
    readings: list[Reading] = Field(
        ..., min_length=1, max_length=MAX_READINGS, description="the newest decides"
    )
    weather: WeatherNow | None = None
    target: Target | None = None
    appliance: ApplianceNow | None = None
    device: DeviceFacts | None = None
    feedback: list[Vote] = Field(default_factory=list, max_length=20)
    state: dict[str, Any] | None = Field(None, description="the state a previous decision returned")


class DecideResponse(BaseModel):
    """The decision document (the worker logs the same) and the device's new state."""

    decision: dict[str, Any]
    state: dict[str, Any]


# -- service ----------------------------------------------------------------------------------
class ErrorBody(BaseModel):
    """Why a request was refused: one line, and the field where one is to blame."""

    error: str
    field: str | None = None


class Readiness(BaseModel):
    """Whether the service can answer: its models and the record store."""

    ready: bool
    models: dict[str, Any]
    store: str
