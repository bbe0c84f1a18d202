"""skynet's control: choose AC commands that keep people comfortable with little energy, safely.

The decision (:func:`decide`, pure)
-----------------------------------
``decide(context, target, appliance, state, models, config, now, safety=None) -> Decision``

- ``context`` (:class:`Context`): the newest indoor reading and its 5/15/30-minute lags, the
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
- ``models`` (:class:`Models`): ``estimator`` with ``predict_candidates(state, candidates)``
  and ``comfort`` with ``predict(frame)`` — :mod:`skynet.models` classes or anything alike.
- ``safety``: the device's :class:`SafetyState` (None: fresh).

It enumerates candidate commands (off + mode × set-point grid × fan), forecasts them in ONE
batched estimation call, predicts comfort at the forecast climate in ONE batched comfort call,
picks the least cost (comfort or target error + energy proxy + switching penalty), falls back
to a thermostat with hysteresis when a model is missing, raises, is too slow or returns NaN
(logged on the ``skynet.control`` logger with the cause), and applies the safety rules
(:func:`apply_safety`), which no model overrides. :class:`Controller` binds the models and the
configuration; :func:`decide_by_rules` is the thermostat alone (no models, no fallback logs).
:func:`decide_many` (``Controller.decide_many``) decides several devices at once with the same
result, asking each model once for all of them (what the worker does with a batch).

For the control worker
----------------------
Per event: ``decision = controller.decide(context, target, appliance, state, now, safety)``;
per batch (at most one event per device): ``controller.decide_many([(context, target,
appliance, state, now, safety), ...])``.

- ``decision.command`` is None ("no change") or an ApplianceState with origin "skynet" to send.
- ``decision.safety`` is the device's new :class:`SafetyState`: keep it
  (``safety.to_json()`` / ``SafetyState.from_json(text)``) and pass it to the next decision.
  When the command is not delivered, keep the previous one instead.
- ``decision.to_dict()`` is the JSON-friendly decision log document (reason, fallback cause,
  latency). ``decision.fallback`` is the cause when the thermostat decided.
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

from skynet.control._batch import decide_many
from skynet.control._context import build_context, local_hour
from skynet.control._decide import Controller, Models, decide, decide_by_rules
from skynet.control._fallback import thermostat
from skynet.control._personal import live_offset
from skynet.control._predict import AIR_SPEED_BY_FAN, AIR_SPEED_OFF
from skynet.control._safety import (
    DEVICE_FAULT,
    SafetyResult,
    SafetyState,
    allowed_set_range,
    apply_safety,
    range_fault,
)
from skynet.control._types import Appliance, Context, ControlConfig, Decision, same_setting

__all__ = [
    "decide",
    "decide_many",
    "decide_by_rules",
    "Controller",
    "Models",
    "Appliance",
    "Context",
    "ControlConfig",
    "Decision",
    "build_context",
    "local_hour",
    "live_offset",
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
    "closed_loop",
    "Evaluation",
    "PolicyResult",
    "DevicePolicy",
    "FixedThermostat",
]

_LAZY = {
    "closed_loop": "skynet.control._evaluate",
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
