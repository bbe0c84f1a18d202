"""What a controller reads from the fleet each minute, and what it sends back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

__all__ = ["Observation", "Commands"]


@dataclass
class Observation:
    """What the fleet looks like at one minute; arrays have one entry per home.

    The sensor fields are what a skynet device reports (noise, bias, 0.1 °C and 0.5 %RH
    steps; NaN when a reading is lost); ``true_*``, ``pmv``, ``sensation`` and the energy
    are ground truth for evaluating controllers.
    """

    minute: int
    timestamp: datetime
    temperature: np.ndarray
    humidity: np.ndarray
    luminosity: np.ndarray
    true_temperature: np.ndarray
    true_humidity: np.ndarray
    mass_temperature: np.ndarray
    outdoor_temperature: np.ndarray
    outdoor_humidity: np.ndarray
    occupants: np.ndarray  # people at home
    awake: np.ndarray  # people at home and up
    pmv: np.ndarray  # mean PMV of the people at home (NaN: nobody)
    sensation: np.ndarray  # mean PMV + personal offset of the people at home
    power: np.ndarray
    mode: np.ndarray  # codes: index in skynet.domain.AC_MODES
    set_temperature: np.ndarray
    fan: np.ndarray  # codes: index in skynet.domain.FAN_SPEEDS
    compressor: np.ndarray  # running during the last minute
    power_w: np.ndarray  # electric power during the last minute (W)
    heat_w: np.ndarray  # heat the AC put into the room air during the last minute (W; < 0 cooling)
    latent_w: np.ndarray  # latent heat the AC's coil removed during the last minute (W)
    energy_kwh: np.ndarray  # since the start
    target_mode: np.ndarray  # codes: index in skynet.domain.TARGET_MODES
    target_value: np.ndarray  # NaN when the target has no value
    user_hold: np.ndarray  # skynet's commands are ignored (a person just changed the AC)
    feedback: np.ndarray  # votes given during the last minute (NaN: none)
    user_changed: np.ndarray  # a person changed the AC during the last minute
    #: the outdoor running mean temperature a weather record reports (°C; None: not known)
    outdoor_running_mean: np.ndarray | None = None
    #: who gave ``feedback``: the voter's index among the home's people (user ``{device}-u{index}``,
    #: as the simulated votes are stored), -1 where nobody voted; None: not known
    voter: np.ndarray | None = None


@dataclass
class Commands:
    """AC settings a controller sends; only homes with ``send`` set are commanded."""

    power: np.ndarray
    mode: np.ndarray
    set_temperature: np.ndarray
    fan: np.ndarray
    send: np.ndarray

    @classmethod
    def keep(cls, obs: Observation) -> Commands:
        """The current settings, nothing sent: change entries and set ``send`` where you do."""
        return cls(obs.power.copy(), obs.mode.copy(), obs.set_temperature.copy(), obs.fan.copy(),
                   np.zeros(len(obs.power), dtype=bool))  # fmt: skip
