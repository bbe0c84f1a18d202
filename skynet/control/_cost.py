"""Small pieces of the plan's cost (:mod:`skynet.control._plan`) that stand on their own.

- :data:`LATENT_K_PER_RH`: the sensible-heat equivalent of the moisture a cooling coil removes,
  so drying the air counts as energy;
- :func:`dwell`: how much dearer a young setting makes the next command: sensor readings swing
  while a compressor starts or stops, and a command five minutes after another undoes it.
"""

from __future__ import annotations

from datetime import datetime

from skynet.config import ControlConfig
from skynet.domain import ApplianceState

__all__ = ["dwell", "LATENT_K_PER_RH"]

#: Sensible-heat equivalent of removing 1 %RH near 25 °C (1 g/kg ≈ 2.5 K ≈ 4.8 %RH).
LATENT_K_PER_RH = 0.5


def dwell(state: ApplianceState | None, now: datetime, config: ControlConfig) -> float:
    """Extra "recent commands" for a young setting: ``dwell_weight`` when it just began, falling
    linearly to 0 at ``dwell_minutes`` (a reading taken while the compressor just started or
    stopped does not undo a command five minutes later; the last-hour count alone let a set
    point go up and back down within ten minutes)."""
    if state is None or config.dwell_minutes <= 0:
        return 0.0
    age = (now - state.timestamp).total_seconds() / 60.0
    return config.dwell_weight * max(0.0, 1.0 - age / config.dwell_minutes)
