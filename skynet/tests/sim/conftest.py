"""Fixtures of the simulator tests: small fleets, run once per session where they are only read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import numpy as np
import pytest

from skynet.domain import Mode
from skynet.sim import Commands, Fleet, SimulationResult, simulate_fleet


@pytest.fixture(scope="session")
def small_run() -> SimulationResult:
    """Six homes for three days under the built-in controller, people acting (seed 11)."""
    return simulate_fleet(6, 3, seed=11)


@pytest.fixture(scope="session")
def hot_run() -> SimulationResult:
    """Eight homes for four days of a hot-humid July: lots of AC use, votes and user changes."""
    return simulate_fleet(8, 4, seed=5, climate="hot-humid")


def hold(
    fleet: Fleet, power: bool, mode: str = "cool", set_temperature: float = 24.0, fan: int = 3
) -> Commands:
    """Commands putting every home's AC at the same settings."""
    n = fleet.n
    return Commands(
        power=np.full(n, power),
        mode=np.full(n, Mode.of(mode)),
        set_temperature=np.full(n, set_temperature),
        fan=np.full(n, fan),
        send=np.ones(n, dtype=bool),
    )


@pytest.fixture
def run_fixed() -> Callable[..., tuple[Fleet, dict[str, np.ndarray]]]:
    """Run a fleet with every AC held at fixed settings (no people acting); returns minute arrays."""

    def run(n: int = 4, hours: float = 6, seed: int = 3, climate: str = "hot-dry",
            start: datetime | None = None, room: tuple[float, float | None] | None = None,
            **settings) -> tuple[Fleet, dict[str, np.ndarray]]:  # fmt: skip
        fleet = Fleet(n, hours / 24, seed, climate=climate, start=start, occupant_actions=False)
        if room is not None:
            fleet.set_room(*room)
        command = hold(fleet, **settings)
        names = ("true_temperature", "true_humidity", "outdoor_temperature", "power_w", "heat_w", "latent_w",
                 "compressor", "energy_kwh", "power")  # fmt: skip
        series: dict[str, list] = {name: [] for name in names}
        obs = fleet.observe()
        first = {name: np.array(getattr(obs, name), copy=True) for name in names}
        for k in range(fleet.minutes):
            obs = fleet.step(command if k == 0 else None)
            for name in names:
                series[name].append(np.array(getattr(obs, name), copy=True))
        out = {name: np.array(values) for name, values in series.items()}
        out["first_temperature"], out["first_humidity"] = first["true_temperature"], first["true_humidity"]
        return fleet, out

    return run
