"""Read and rewrite EnergyPlus IDF text just enough to run a prototype under skynet's control.

An IDF file is a list of objects ``Type, field1, field2, ..., fieldN;`` with ``!`` comments to
the end of a line. :func:`parse_idf` finds every object with its place in the text, so edits
cut and insert whole objects and leave the rest of the file byte for byte.

:func:`prepare_idf` makes a prototype ready for a skynet run:

- one ``RunPeriod`` for the requested days (with the calendar year, so weekdays and holidays
  fall right) replaces the prototype's run periods, and ``Timestep`` sets the zone timestep;
  ``SimulationControl`` runs that period and not the design days (the DOE reference 2004
  models ship with weather-file runs switched off: they ran zero timesteps before);
- every ``ZoneControl:Thermostat`` becomes a dual-setpoint thermostat whose set points
  skynet actuates each timestep (EnergyPlus's ``Zone Temperature Control`` actuator), so
  the prototype's own set point schedules, including EMS set point resets, no longer apply;
- scheduled and night-cycle availability managers become always-available, so an air system
  runs whenever a zone's set points call for it (offices otherwise shut down at night);
- optionally, the equipment is sized on the weather file's own hottest and coldest days
  instead of the prototype's design days (the prototypes are sized for Denver or Chicago,
  so a Miami run would otherwise get a Denver-sized air conditioner);
- reports skynet does not read (monthly and summary tables, surface drawings, meter files)
  are dropped and only the error file and a few small files are written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from skynet.errors import DataError

__all__ = ["IdfObject", "parse_idf", "prepare_idf", "thermostat_zones", "VALID_TIMESTEPS"]

#: Zone timesteps EnergyPlus accepts, in minutes (60 / timesteps per hour).
VALID_TIMESTEPS = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)

#: Set points (°C) that keep a zone's equipment idle: the thermostat's "off".
OFF_HEATING = -30.0
OFF_COOLING = 60.0
#: The thermostat's own schedules (°C), used only for sizing: skynet actuates the set points
#: of every simulated timestep.
SIZING_HEATING = 21.0
SIZING_COOLING = 24.0

_DROP = {
    "runperiod",
    "timestep",
    "output:table:monthly",
    "output:table:summaryreports",
    "output:table:timebins",
    "output:surfaces:drawing",
    "output:surfaces:list",
    "output:meter:meterfileonly",
    "output:meter",
    "output:variable",
    "output:sqlite",
    "output:json",
    "outputcontrol:table:style",
    "outputcontrol:files",
    "output:variabledictionary",
}
_ALWAYS_ON = "skynet always on"
_CONTROL_TYPE = "skynet dual setpoint control type"
_DUAL = "skynet dual setpoint"
_HEAT_SCHEDULE = "skynet heating setpoint"
_COOL_SCHEDULE = "skynet cooling setpoint"


@dataclass(frozen=True)
class IdfObject:
    """One IDF object: its type, fields (comments stripped) and span in the text."""

    type: str
    fields: tuple[str, ...]
    start: int
    end: int  # just after the terminating ";"

    @property
    def key(self) -> str:
        """The object type, lower case (IDF types are case-insensitive)."""
        return self.type.lower()


def parse_idf(text: str, source: str = "IDF") -> list[IdfObject]:
    """Every object of an IDF text, in order.

    Raises:
        DataError: the text has no objects or ends inside one (names ``source`` and the line).
    """
    objects: list[IdfObject] = []
    fields: list[str] = []
    pieces: list[str] = []  # the current field, cut by comments
    start, at = -1, 0
    for match in _TOKEN.finditer(text):
        pieces.append(text[at : match.start()])
        at = match.end()
        if match[0][0] == "!":
            continue
        value = "".join(pieces).strip()
        pieces = []
        if start < 0:
            start = _first_code(text, match.start(), fields, value)
        fields.append(value)
        if match[0] == ";":
            objects.append(IdfObject(fields[0], tuple(fields[1:]), start, match.end()))
            fields, start = [], -1
    tail = "".join(pieces + [text[at:]]).strip()
    if fields or tail:
        line = text.count("\n", 0, start if start >= 0 else at) + 1
        raise DataError(f"{source}:{line}: object {(fields or [tail])[0][:40]!r} is not closed with ';'")
    if not objects:
        raise DataError(f"{source}: no IDF objects found (is it an EnergyPlus input file?)")
    return objects


_TOKEN = re.compile(r"![^\n]*|[,;]")


def _first_code(text: str, delimiter: int, fields: list[str], value: str) -> int:
    """Where an object's type name starts: search back from its first delimiter."""
    found = text.rfind(value, 0, delimiter) if value else delimiter
    return found if found >= 0 else delimiter


def thermostat_zones(objects: list[IdfObject]) -> list[str]:
    """The zones under a thermostat (a ``ZoneList`` named by a thermostat is expanded), in order."""
    lists = {
        o.fields[0].lower(): [f for f in o.fields[1:] if f]
        for o in objects
        if o.key == "zonelist" and o.fields
    }
    zones = {o.fields[0].lower(): o.fields[0] for o in objects if o.key == "zone" and o.fields}
    found: list[str] = []
    for obj in objects:
        if obj.key != "zonecontrol:thermostat" or len(obj.fields) < 2:
            continue
        target = obj.fields[1]
        for zone in lists.get(target.lower(), [target]):
            name = zones.get(zone.lower(), zone)
            if name not in found:
                found.append(name)
    return found


def prepare_idf(text: str, start: date, end: date, timestep_minutes: int, source: str = "IDF",
                sizing_days: Sequence[tuple[int, int]] = ()) -> tuple[str, list[str]]:  # fmt: skip
    """Rewrite a prototype's IDF for a skynet run (see the module docstring).

    Args:
        text: the IDF text.
        start: first simulated day; ``end``: the first day not simulated.
        timestep_minutes: the zone timestep, one of :data:`VALID_TIMESTEPS`.
        source: what to call the text in errors.
        sizing_days: (month, day) of weather-file days to size the equipment on, replacing
            the prototype's design days; empty keeps the design days.

    Returns:
        The new IDF text and the thermostat-controlled zones (skynet's devices).

    Raises:
        DataError: not an IDF, no thermostat, a bad period or timestep.
    """
    if timestep_minutes not in VALID_TIMESTEPS:
        raise DataError(
            f"timestep_minutes must be one of {', '.join(map(str, VALID_TIMESTEPS))}, got {timestep_minutes}"
        )
    if end <= start:
        raise DataError(f"the end date {end} must come after the start date {start}")
    objects = parse_idf(text, source)
    zones = thermostat_zones(objects)
    if not zones:
        raise DataError(f"{source}: no ZoneControl:Thermostat, so no zone skynet could control")
    pieces: list[str] = []
    at = 0
    for obj in objects:
        replacement = "" if sizing_days and obj.key == "sizingperiod:designday" else _replacement(obj)
        if replacement is None:
            continue
        pieces.append(text[at : obj.start])
        pieces.append(replacement)
        at = obj.end
    pieces.append(text[at:])
    last = end - timedelta(days=1)
    added = f"""

! ---- added by skynet (skynet.sim.energyplus) ----
Timestep, {60 // timestep_minutes};
RunPeriod, skynet, {start.month}, {start.day}, {start.year}, {last.month}, {last.day}, {last.year},
    , No, No, Yes, Yes, Yes;
ScheduleTypeLimits, skynet any number;
Schedule:Constant, {_ALWAYS_ON}, skynet any number, 1;
Schedule:Constant, {_CONTROL_TYPE}, skynet any number, 4;
Schedule:Constant, {_HEAT_SCHEDULE}, skynet any number, {SIZING_HEATING};
Schedule:Constant, {_COOL_SCHEDULE}, skynet any number, {SIZING_COOLING};
ThermostatSetpoint:DualSetpoint, {_DUAL}, {_HEAT_SCHEDULE}, {_COOL_SCHEDULE};
OutputControl:Files, No, No, No, No, No, No, No, No, No, No, No, No, No, No, No, No, No, No, No, No, No;
"""
    for month, day in sizing_days:
        added += f"SizingPeriod:WeatherFileDays, skynet sizing {month}-{day}, {month}, {day}, {month}, {day}, Monday, No, No;\n"
    return "".join(pieces) + added, zones


def _replacement(obj: IdfObject) -> str | None:
    """New text for an object ("" drops it), or None to keep it as it is."""
    key = obj.key
    if key in _DROP:
        return ""
    if key == "simulationcontrol" and len(obj.fields) >= 5:
        # size as the prototype does, then run the weather-file period (not the design days): the
        # DOE reference 2004 models ship with the weather-file run switched off
        fields = [*obj.fields[:3], "No", "Yes", *obj.fields[5:]]
        return f"SimulationControl, {', '.join(fields)};"
    if key == "zonecontrol:thermostat" and len(obj.fields) >= 2:
        return f"ZoneControl:Thermostat, {obj.fields[0]}, {obj.fields[1]}, {_CONTROL_TYPE},\n    ThermostatSetpoint:DualSetpoint, {_DUAL};"
    if key == "availabilitymanager:scheduled" and obj.fields:
        return f"AvailabilityManager:Scheduled, {obj.fields[0]}, {_ALWAYS_ON};"
    if key == "availabilitymanager:nightcycle" and obj.fields:
        return f"AvailabilityManager:Scheduled, {obj.fields[0]}, {_ALWAYS_ON};"
    if key == "availabilitymanagerassignmentlist":
        fields = [
            "AvailabilityManager:Scheduled" if f.lower() == "availabilitymanager:nightcycle" else f
            for f in obj.fields
        ]
        return f"AvailabilityManagerAssignmentList, {', '.join(fields)};"
    return None
