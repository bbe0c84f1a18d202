"""EnergyPlus as a data source: DOE prototype buildings whose zones are skynet devices.

Needs the ``energyplus`` extra (``pip install 'skynet[energyplus]'``): PyPI's
``pyenergyplus-lbnl`` ships the EnergyPlus engine, the DOE prototype building models and TMY3
weather files of U.S. cities. :func:`run_energyplus` runs a prototype through the EnergyPlus
Python API, drives each thermostat-controlled zone with a seeded schedule of set points and
on/off periods, and returns the same record frames as :func:`skynet.sim.simulate_fleet`
(devices, sensor readings, weather, appliance states) at the EnergyPlus timestep.
:class:`EnergyPlusHomes` runs the zones in closed loop as homes with people, the controller's
commands setting each zone's thermostat minute by minute (``skynet control evaluate --engine
energyplus``).

:func:`list_buildings` and :func:`list_weather` tell what the installed package ships.
Nothing here touches storage. How the IDF is rewritten, how the engine is driven and how the
schedules are drawn is documented in the private modules (``_idf``, ``_engine``, ``_schedule``).
"""

from skynet.sim.energyplus._catalog import INSTALL_HINT, EnergyPlusError
from skynet.sim.energyplus._homes import COP, EnergyPlusHomes
from skynet.sim.energyplus._idf import VALID_TIMESTEPS
from skynet.sim.energyplus._result import TRUTH_COLUMNS, EnergyPlusResult
from skynet.sim.energyplus._run import (
    DEFAULT_START,
    list_buildings,
    list_weather,
    run_energyplus,
    zone_devices,
)

__all__ = [
    "run_energyplus",
    "EnergyPlusHomes",
    "COP",
    "list_buildings",
    "list_weather",
    "zone_devices",
    "EnergyPlusResult",
    "EnergyPlusError",
    "TRUTH_COLUMNS",
    "VALID_TIMESTEPS",
    "DEFAULT_START",
    "INSTALL_HINT",
]
