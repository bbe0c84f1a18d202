"""Closed-loop evaluation: controllers against simulated homes, compared side by side.

:func:`closed_loop` runs each controller (any object with ``decide(observation)``, see
:class:`skynet.sim.Policy`) on its own fresh copy of the same fleet — same homes, weather,
people and sensor noise (the simulator draws them independently of what a controller does) —
and measures, from the simulator's ground truth:

- **uncomfortable**: share of occupied home-minutes with the occupants' mean thermal sensation
  (PMV + personal offset) beyond ±0.5;
- **mean |sensation|** and **mean sensation** over occupied minutes;
- **degree-hours** outside the comfort band while occupied, per home and day (true air temperature);
- **AC energy** (kWh, total and per home and day) and **commands** per home and day (the
  mean, and the median home's).

:func:`run_controller` runs one controller (what :func:`closed_loop` does for each);
:meth:`PolicyResult.save` / :meth:`PolicyResult.load` keep a result in a folder (a baseline's
result does not change while skynet is tuned, and an EnergyPlus run takes minutes).
Pure otherwise: it takes a fleet factory and the controllers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from skynet.sim import Commands, Fleet, Observation, run_policy

__all__ = ["PolicyResult", "Evaluation", "closed_loop", "run_controller"]

Progress = Callable[[str, int, int], None]
#: Minutes between the samples kept for plots.
TRACE_STEP = 5


@dataclass
class PolicyResult:
    """What one controller achieved on the fleet (see the module docstring)."""

    name: str
    n_devices: int
    days: float
    energy_kwh: np.ndarray
    occupied_minutes: int
    uncomfortable_minutes: int
    abs_sensation: float
    sensation: float
    degree_hours: float
    commands: int
    decisions: int = 0
    #: commands sent to each home
    commands_by_home: list[int] = field(default_factory=list)
    fallbacks: dict[str, int] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    #: Every home every ``TRACE_STEP`` minutes: temperature, set_temperature (NaN: AC off),
    #: sensation (NaN: nobody home), outdoor_temperature; arrays (samples, homes).
    traces: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def home_days(self) -> float:
        return self.n_devices * self.days

    @property
    def uncomfortable(self) -> float:
        """Share of occupied home-minutes with the occupants' mean sensation beyond ±0.5."""
        return self.uncomfortable_minutes / max(self.occupied_minutes, 1)

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Write the result to ``folder`` (``result.json`` and ``arrays.npz``; renamed into place)."""
        folder = Path(folder)
        tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        plain = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("energy_kwh", "traces")}
        (tmp / "result.json").write_text(json.dumps(plain))
        np.savez(
            tmp / "arrays.npz",
            energy_kwh=self.energy_kwh,
            **{f"trace_{k}": v for k, v in self.traces.items()},
        )
        if folder.exists():
            import shutil

            shutil.rmtree(folder)
        os.replace(tmp, folder)
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> PolicyResult:
        """Read a result :meth:`save` wrote."""
        folder = Path(folder)
        plain = json.loads((folder / "result.json").read_text())
        with np.load(folder / "arrays.npz") as arrays:
            traces = {k[len("trace_") :]: arrays[k] for k in arrays.files if k.startswith("trace_")}
            return cls(**plain, energy_kwh=arrays["energy_kwh"], traces=traces)

    def row(self, reference: PolicyResult | None = None) -> dict[str, Any]:
        """One line of the comparison table (energy change against ``reference``)."""
        total = float(self.energy_kwh.sum())
        out = {
            "controller": self.name,
            "uncomfortable_%": round(100.0 * self.uncomfortable_minutes / max(self.occupied_minutes, 1), 1),
            "mean_abs_sensation": round(self.abs_sensation, 3),
            "mean_sensation": round(self.sensation, 3),
            "degree_hours_per_home_day": round(self.degree_hours / self.home_days, 2),
            "energy_kwh": round(total, 1),
            "kwh_per_home_day": round(total / self.home_days, 2),
            "energy_vs_reference_%": None,
            "commands_per_home_day": round(self.commands / self.home_days, 1),
            "commands_median_home_day": (
                round(float(np.median(self.commands_by_home)) / self.days, 1)
                if self.commands_by_home
                else None
            ),
        }
        if reference is not None and reference.energy_kwh.sum() > 0:
            out["energy_vs_reference_%"] = round(100.0 * (total / float(reference.energy_kwh.sum()) - 1.0), 1)
        return out


@dataclass
class Evaluation:
    """The results of every controller on the same fleet."""

    results: list[PolicyResult]
    start: datetime
    minutes: int
    device_ids: list[str]
    plotted: list[str]
    band: tuple[float, float]
    reference: str | None = None

    def table(self) -> list[dict[str, Any]]:
        ref = next((r for r in self.results if r.name == self.reference), None)
        return [r.row(ref) for r in self.results]


class _Counting:
    """Wraps a controller to count the commands the fleet will apply."""

    def __init__(self, policy: Any) -> None:
        self.policy, self.commands, self.by_home = policy, 0, None

    def bind(self, fleet: Fleet) -> None:
        self.by_home = np.zeros(fleet.n, dtype=np.int64)
        if hasattr(self.policy, "bind"):
            self.policy.bind(fleet)

    def decide(self, obs: Observation) -> Commands | None:
        cmd = self.policy.decide(obs)
        if cmd is not None:
            sent = np.asarray(cmd.send, dtype=bool) & ~obs.user_hold
            self.commands += int(np.count_nonzero(sent))
            if self.by_home is None:
                self.by_home = np.zeros(len(sent), dtype=np.int64)
            self.by_home += sent
        return cmd


def closed_loop(
    make_fleet: Callable[[], Fleet | Any],
    policies: Mapping[str, Any],
    band: tuple[float, float] = (21.0, 26.0),
    plot_devices: int = 3,
    reference: str | None = None,
    progress: Progress | None = None,
) -> Evaluation:
    """Run every controller on a fresh fleet from ``make_fleet`` and measure it.

    Args:
        make_fleet: builds the fleet (called once per controller; must give identical fleets):
            a :class:`skynet.sim.Fleet`, or homes with their own ``run(policy, minutes,
            before_step)`` such as :class:`skynet.sim.energyplus.EnergyPlusHomes`.
        policies: controller name -> controller.
        band: the comfort band (°C) of the degree-hours.
        plot_devices: how many homes to plot: those occupied longest.
        reference: the controller others' energy is compared with.
        progress: called as ``progress(name, minutes_done, minutes_total)``.

    Returns:
        The results, in the order of ``policies``.
    """
    results, fleet = [], None
    for name, policy in policies.items():
        fleet = make_fleet()
        results.append(_run(name, fleet, policy, band, progress))
    assert fleet is not None, "no controller to evaluate"
    return evaluation_of(results, fleet, band, plot_devices, reference)


def evaluation_of(
    results: list[PolicyResult],
    fleet: Any,
    band: tuple[float, float],
    plot_devices: int,
    reference: str | None,
) -> Evaluation:
    """The evaluation of results on ``fleet``'s homes (plotting the homes occupied longest)."""
    occupied = np.isfinite(results[0].traces["sensation"]).sum(axis=0)
    plotted = [fleet.device_ids[i] for i in np.argsort(-occupied, kind="stable")[:plot_devices]]
    return Evaluation(results, fleet.start, fleet.minutes, fleet.device_ids, plotted, band, reference)


def run_controller(
    name: str,
    fleet: Fleet | Any,
    policy: Any,
    band: tuple[float, float] = (21.0, 26.0),
    progress: Progress | None = None,
) -> PolicyResult:
    """Run one controller on ``fleet`` (fresh: as :func:`closed_loop` makes it) and measure it."""
    return _run(name, fleet, policy, band, progress)


def _run(
    name: str, fleet: Fleet, policy: Any, band: tuple[float, float], progress: Progress | None
) -> PolicyResult:
    n, t = fleet.n, fleet.minutes
    traces = {
        k: np.full(((t - 1) // TRACE_STEP + 1, n), np.nan)
        for k in ("temperature", "set_temperature", "sensation", "outdoor_temperature")
    }
    acc = {"occupied": 0, "bad": 0, "abs": 0.0, "sum": 0.0, "dh": 0.0}

    def record(obs: Observation) -> None:
        k, home = obs.minute, obs.occupants > 0
        s = obs.sensation[home]
        s = s[np.isfinite(s)]
        acc["occupied"] += len(s)
        acc["bad"] += int(np.count_nonzero(np.abs(s) > 0.5))
        acc["abs"] += float(np.abs(s).sum())
        acc["sum"] += float(s.sum())
        temp = obs.true_temperature[home]
        acc["dh"] += float((np.maximum(temp - band[1], 0.0) + np.maximum(band[0] - temp, 0.0)).sum()) / 60.0
        if k % TRACE_STEP == 0:
            j = k // TRACE_STEP
            traces["temperature"][j] = obs.true_temperature
            traces["set_temperature"][j] = np.where(obs.power, obs.set_temperature, np.nan)
            traces["sensation"][j] = np.where(home, obs.sensation, np.nan)
            traces["outdoor_temperature"][j] = obs.outdoor_temperature
        if progress is not None and k % 60 == 0:
            progress(name, k, t)

    counting = _Counting(policy)
    from threadpoolctl import threadpool_limits

    # one BLAS thread, as the control worker: the models' matrices are small, and threads that wait
    # for each other at every product make each decision several times slower on a busy machine
    with threadpool_limits(1, user_api="blas"):
        if hasattr(fleet, "run"):  # homes that run themselves (EnergyPlus calls the controller back)
            fleet.run(counting, t, before_step=record)
        else:
            run_policy(fleet, counting, t, before_step=record)
    if progress is not None:
        progress(name, t, t)
    latencies = np.asarray(getattr(policy, "latencies", []), dtype=float) * 1000.0
    latency = {}
    if len(latencies):
        latency = {
            "p50": round(float(np.percentile(latencies, 50)), 3),
            "p99": round(float(np.percentile(latencies, 99)), 3),
        }
    occupied = max(acc["occupied"], 1)
    return PolicyResult(
        name=name, n_devices=n, days=t / 1440.0, energy_kwh=fleet.energy_kwh.copy(), occupied_minutes=acc["occupied"],
        uncomfortable_minutes=acc["bad"], abs_sensation=acc["abs"] / occupied, sensation=acc["sum"] / occupied,
        degree_hours=acc["dh"], commands=counting.commands, decisions=int(getattr(policy, "decisions", 0)),
        commands_by_home=[int(c) for c in (counting.by_home if counting.by_home is not None else [])],
        fallbacks=dict(getattr(policy, "fallbacks", {})), latency_ms=latency, traces=traces,
    )  # fmt: skip
