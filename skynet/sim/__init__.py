"""skynet's home simulator: a fleet of AC-equipped rooms, fast enough for demos and tests.

Each home is a 2R2C room (air and building mass, envelope, solar and internal gains, a
moisture balance) with a split heat-pump AC (cool / heat / dry / fan / auto, set point, fan
speed, capacity limits, coil dehumidification, compressor cycling, COP-based electric power),
outdoor weather from a synthetic climate or an EPW file, and a household whose people come
and go on realistic schedules, vote on the 7-point comfort scale from PMV (pythermalcomfort)
plus a personal offset and noise, and change the AC themselves when uncomfortable.

Two ways in:

- :func:`simulate_fleet` runs a whole fleet for some days under a controller (the built-in
  :class:`RulePolicy` by default) and returns a :class:`SimulationResult` with one DataFrame
  per record kind (columns from :func:`skynet.domain.field_names`) and the ground truth.
- :class:`Fleet` is the stepping API for closed-loop control: read an :class:`Observation`,
  send :class:`Commands`, ``fleet.step(commands)``; :func:`run_policy` is that loop.

The physical parameters and their sources are documented in the private modules
(``_room``, ``_ac``, ``_climate``, ``_occupants``). Pure: nothing here touches storage.
"""

from skynet.sim._ac import AcParams
from skynet.sim._climate import CLIMATES, Climate, EpwWeather, read_epw
from skynet.sim._fleet import DEFAULT_START, Fleet
from skynet.sim._generate import run_policy, simulate_fleet
from skynet.sim._observation import Commands, Observation
from skynet.sim._occupants import TARGET as TARGET_CODES
from skynet.sim._policy import Policy, RulePolicy
from skynet.sim._result import TRUTH_COLUMNS, SimulationResult
from skynet.sim._room import RoomParams

__all__ = [
    "simulate_fleet",
    "SimulationResult",
    "TRUTH_COLUMNS",
    "Fleet",
    "Observation",
    "Commands",
    "Policy",
    "RulePolicy",
    "run_policy",
    "Climate",
    "CLIMATES",
    "EpwWeather",
    "read_epw",
    "RoomParams",
    "AcParams",
    "TARGET_CODES",
    "DEFAULT_START",
]
