"""skynet's control: choose AC commands that keep people comfortable with little energy, safely.

The decision (:func:`decide_many`, pure)
----------------------------------------
``decide_many(requests, models, config) -> [Decision]``; ``decide(request, ...)`` is a batch of one.

A :class:`Request` is one device's decision to make:

- ``context`` (:class:`Context`): the newest indoor reading and its lags and half-hour means
  (computed by :func:`skynet.data.recent_inputs`, the estimation frame's own code), the
  outdoor weather, the local hour, occupancy when known, the device's personal comfort offset
  and facts. :func:`build_context` makes one from :class:`~skynet.domain.SensorReading` records
  (the last ~30 minutes), the newest :class:`~skynet.domain.Weather` and the
  :class:`~skynet.domain.Device`.
- ``target`` (:class:`~skynet.domain.ControlTarget` or None): comfort (keep the predicted
  feedback at 0), temperature (hold ``value`` °C), humidity (hold ``value`` %RH), away (stay in
  ``config.away_band`` at least energy), off (AC off), manual or None (do nothing).
- ``appliance`` (:class:`Appliance`): set-temperature range and step, modes, fan speeds
  (:meth:`Appliance.from_device`).
- ``state``: the AC's current :class:`~skynet.domain.ApplianceState` (None: unknown).
- ``now`` and ``safety``: the device's :class:`SafetyState` (None: fresh).

``models`` (:class:`Models`): ``estimator`` with ``predict_candidates_many(states,
candidates)`` and ``comfort`` with ``predict_many(groups, offsets)`` — :mod:`skynet.models`
classes (models with only the one-room call are asked room by room). ``config`` is
:class:`ControlConfig`, the settings' ``control:`` section.

It enumerates candidate commands (:class:`Candidates`: off + mode × set-point grid × fan),
forecasts every candidate of every device of the batch in ONE estimation call, predicts
comfort at the forecast climates in ONE comfort call, picks each device's least cost (comfort
or target error + energy proxy + switching penalty), falls back to a thermostat with
hysteresis when a model is missing, raises, is too slow or returns NaN (a typed
:class:`Fallback` in the decision), and applies the safety rules (:func:`apply_safety`), which
no model overrides. :class:`Controller` binds the models and the configuration;
:func:`decide_by_rules` is the thermostat alone. :class:`Personalizer` learns each device's
personal comfort offset from its votes (the worker, ``skynet control decide`` and the closed
loop all use it).

For the control worker
----------------------
Per batch (at most one request per device): ``controller.decide_many([Request(context,
target, appliance, state, now, safety), ...])``.

- ``decision.command`` is None ("no change") or an ApplianceState with origin "skynet" to send.
- ``decision.safety`` is the device's new :class:`SafetyState`: keep it
  (``safety.to_json()`` / ``SafetyState.from_json(text)``) and pass it to the next decision.
  When the command is not delivered, keep the previous one instead.
- ``decision.to_dict()`` is the JSON-friendly decision log document (reason, fallback cause and
  kind, latency). ``decision.fallback`` is the typed cause when the thermostat decided.
- A person's change at the remote needs no call: the next decision's ``state`` carries it
  (``SafetyState.observe`` is applied inside ``decide``).

Evaluation
----------
:func:`closed_loop` runs controllers against the simulator (:class:`skynet.sim.Fleet`) and
measures comfort, degree-hours, energy and commands; :class:`DevicePolicy` (skynet, or the
comfort-band thermostat) and :class:`FixedThermostat` drive a fleet. They import the simulator,
so they load on first use.
"""

from typing import Any

from skynet.config import ControlConfig
from skynet.control._candidates import Candidates
from skynet.control._context import build_context, local_hour, local_time
from skynet.control._decide import Controller, decide, decide_by_rules, decide_many
from skynet.control._fallback import thermostat
from skynet.control._features import AIR_SPEED_BY_FAN, AIR_SPEED_OFF, air_speed, vote_row
from skynet.control._occupancy import OccupancyProfile
from skynet.control._personal import Personalizer
from skynet.control._predict import ModelFailure, Models
from skynet.control._safety import (
    DEVICE_FAULT,
    SafetyResult,
    SafetyState,
    allowed_set_range,
    apply_safety,
    range_fault,
)
from skynet.control._types import (
    Appliance,
    Context,
    Decision,
    FailureKind,
    Fallback,
    Request,
    same_setting,
)

__all__ = [
    "decide",
    "decide_many",
    "decide_by_rules",
    "Controller",
    "Models",
    "ModelFailure",
    "Request",
    "Candidates",
    "Appliance",
    "Context",
    "ControlConfig",
    "Decision",
    "Fallback",
    "FailureKind",
    "Personalizer",
    "OccupancyProfile",
    "build_context",
    "local_hour",
    "local_time",
    "thermostat",
    "SafetyState",
    "SafetyResult",
    "apply_safety",
    "allowed_set_range",
    "range_fault",
    "DEVICE_FAULT",
    "same_setting",
    "AIR_SPEED_BY_FAN",
    "AIR_SPEED_OFF",
    "air_speed",
    "vote_row",
    "closed_loop",
    "run_controller",
    "Evaluation",
    "PolicyResult",
    "DevicePolicy",
    "FixedThermostat",
]

_LAZY = {
    "closed_loop": "skynet.control._evaluate",
    "run_controller": "skynet.control._evaluate",
    "Evaluation": "skynet.control._evaluate",
    "PolicyResult": "skynet.control._evaluate",
    "DevicePolicy": "skynet.control._policies",
    "FixedThermostat": "skynet.control._policies",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'skynet.control' has no attribute {name!r}")
