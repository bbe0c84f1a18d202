"""Benchmark: simulating 100 homes x 30 days (4.32 M home-minutes), pure and into SQLite.

    python benchmarks/bench_sim.py [--runs 3] [--devices 100] [--days 30]

* skynet.sim: ``simulate_fleet`` — the fleet stepped together (day-sized numpy blocks for
  everything the AC does not change, one compiled kernel call per minute for the physics).
* skynet sim generate: the same run written into a fresh embedded SQLite store
  (``skynet.api.sim.generate``: the readings stored by a background thread while the
  simulation runs, whole days per ``write_frame``, staged through ADBC; then the other kinds).
* simulate, then write (DBAPI cursor): the baseline in the same run, what ``generate`` did
  before: the whole simulation first, then ``write_frame`` home by home through the cursor's
  ``executemany`` (the store without its ADBC staging).
* one home at a time: the same simulator, a fleet of one per home (what the vectorization
  buys), timed on a few homes and extrapolated.
* naive: a per-home Python loop over the minutes, the physics in plain Python (the kernel's
  uncompiled source) and a pythermalcomfort call per home every 10 minutes, timed on a
  small sample and extrapolated.

Target: 100 homes x 30 days in under 60 s including the SQLite write. Each figure is the
median of ``--runs`` runs, wall and CPU time (the machine may be shared: CPU time says what
the run itself cost). The first run includes loading pythermalcomfort and the compiled
kernel's cache; the warm-up run before the timing absorbs that.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table  # noqa: E402

from skynet.api.sim import generate  # noqa: E402
from skynet.config import load_settings  # noqa: E402
from skynet.sim import Fleet, RulePolicy, run_policy, simulate_fleet  # noqa: E402
from skynet.sim import _kernel as kern  # noqa: E402
from skynet.storage.sql import dispose_engines  # noqa: E402


def timed(fn, runs: int, setup=None) -> tuple[float, float, object]:
    """Median wall and CPU seconds of ``runs`` calls (``setup`` before each, untimed)."""
    walls, cpus, result = [], [], None
    for _ in range(runs):
        if setup is not None:
            setup()
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def one_at_a_time(homes: int, days: float) -> None:
    """The same simulator, one fleet of one home per home (its own seed per home)."""
    for i in range(homes):
        fleet = Fleet(1, days, seed=1000 + i)
        run_policy(fleet, RulePolicy(), fleet.minutes)


def naive(homes: int, days: float) -> None:
    """Per home and minute in plain Python: the kernel's source uncompiled, a PMV call per 10 min."""
    from pythermalcomfort.models import pmv_ppd_iso

    fleet = Fleet(homes, days, seed=7, occupant_actions=False)  # inputs only: weather, people, noise
    step, read = kern.step_homes.py_func, kern.read_homes.py_func
    for i in range(homes):
        col = slice(i, i + 1)
        p, s, x = fleet._p[:, col].copy(), fleet._s[:, col].copy(), fleet._x[:, col].copy()
        s[kern.S_POWER], s[kern.S_MODE], s[kern.S_TSET] = 1.0, 0.0, 25.0  # cooling at 25 °C
        out, readings = np.zeros((len(kern.OUTPUTS), 1)), np.zeros((len(kern.READINGS), 1))
        pmv, people = np.zeros((1, 3)), np.ones((1, 3), dtype=bool)
        for k in range(fleet.minutes):
            fleet.k = k
            if k - fleet._block_k0 >= 1440:
                fleet._load_block(k)
            b, j = fleet._b, k - fleet._block_k0
            if k % 10 == 0:
                t = float(x[kern.X_TAIR, 0])
                pmv[:] = pmv_ppd_iso(tdb=t, tr=t, vr=0.1, rh=50.0, met=1.1, clo=0.6, limit_inputs=False).pmv
            read(x, b["t_noise"][j, col], b["rh_noise"][j, col], pmv, pmv, people, readings)
            step(p, s, x, b["inputs"][j][:, col], out)


def simulate_then_write(settings, n: int, days: float) -> float:
    """The baseline: simulate everything, then write every kind through the DBAPI cursor; returns
    the write's seconds."""
    from skynet.api._context import open_records
    from skynet.domain import ApplianceState, ControlTarget, Device, Feedback, SensorReading, User, Weather
    from skynet.storage.sql import _arrow

    result = simulate_fleet(n, days, seed=1, keep_truth=False)
    started, staged_rows = time.perf_counter(), _arrow.WRITE_ROWS
    _arrow.WRITE_ROWS = 10**12
    try:
        with open_records(settings) as store:
            for kind in (Device, User, ControlTarget, ApplianceState, Feedback, Weather, SensorReading):
                for frame in result.frames(kind, rows=250_000):
                    store.write_frame(kind, frame)
    finally:
        _arrow.WRITE_ROWS = staged_rows
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--days", type=float, default=30.0)
    args = parser.parse_args()
    n, days = args.devices, args.days
    home_minutes = n * days * 1440
    work = Path(tempfile.mkdtemp(prefix="skynet-bench-sim-"))
    settings = load_settings(None, environ={"SKYNET_GENERAL_DATA_DIR": str(work)})

    def fresh() -> None:
        dispose_engines()  # pooled connections would go on writing to the deleted file
        for path in work.glob("skynet.db*"):
            path.unlink()

    simulate_fleet(2, 0.05, seed=0)  # warm-up: imports, compiled-kernel cache
    pure_wall, pure_cpu, result = timed(lambda: simulate_fleet(n, days, seed=1, keep_truth=False), args.runs)
    rows = sum(result.counts().values())
    gen_wall, gen_cpu, summary = timed(
        lambda: generate(settings, n, days, seed=1, progress=False), args.runs, fresh
    )
    write_s = summary["write_seconds"]
    base_wall, base_cpu, base_write_s = timed(
        lambda: simulate_then_write(settings, n, days), args.runs, fresh
    )

    sample_homes, sample_days = 3, min(days, 2.0)
    one_wall, one_cpu, _ = timed(lambda: one_at_a_time(sample_homes, sample_days), 1)
    scale_one = home_minutes / (sample_homes * sample_days * 1440)
    naive_homes, naive_days = 2, min(days, 0.5)
    naive_wall, naive_cpu, _ = timed(lambda: naive(naive_homes, naive_days), 1)
    scale_naive = home_minutes / (naive_homes * naive_days * 1440)

    size = f"{n} homes x {days:g} days = {home_minutes / 1e6:.2f} M home-minutes"
    print_table(
        f"Simulation, {size}; {rows:,} records (median of {args.runs}; wall / CPU seconds)",
        [
            {"simulator": "skynet.sim simulate_fleet (pure)", "wall s": f"{pure_wall:.1f}",
             "CPU s": f"{pure_cpu:.1f}", "home-min/s": f"{home_minutes / pure_wall:,.0f}",
             "note": "fleet stepped together; compiled per-minute kernel"},
            {"simulator": "skynet sim generate (SQLite)", "wall s": f"{gen_wall:.1f}", "CPU s": f"{gen_cpu:.1f}",
             "home-min/s": f"{home_minutes / gen_wall:,.0f}",
             "note": f"target < 60 s; simulate {summary['simulate_seconds']} s, writing meanwhile "
                     f"{write_s} s ({rows / write_s:,.0f} rec/s), last run"},
            {"simulator": "  simulate, then write (DBAPI cursor)", "wall s": f"{base_wall:.1f}",
             "CPU s": f"{base_cpu:.1f}", "home-min/s": f"{home_minutes / base_wall:,.0f}",
             "note": f"baseline: generate before the overlap and ADBC staging; write {base_write_s:.1f} s, "
                     "last run"},
            {"simulator": "one home at a time (same code)", "wall s": f"{one_wall * scale_one:.0f}",
             "CPU s": f"{one_cpu * scale_one:.0f}", "home-min/s": f"{home_minutes / (one_wall * scale_one):,.0f}",
             "note": f"timed on {sample_homes} homes x {sample_days:g} days, extrapolated x{scale_one:.0f}"},
            {"simulator": "naive per-home Python loop", "wall s": f"{naive_wall * scale_naive:.0f}",
             "CPU s": f"{naive_cpu * scale_naive:.0f}", "home-min/s": f"{home_minutes / (naive_wall * scale_naive):,.0f}",
             "note": f"timed on {naive_homes} homes x {naive_days:g} days, extrapolated x{scale_naive:.0f}"},
        ],  # fmt: skip
    )
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
