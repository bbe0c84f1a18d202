"""Benchmark: EnergyPlus prototype runs, zones x days x timestep (needs the energyplus extra).

    python benchmarks/bench_energyplus.py [--building apartment-midrise] [--weather miami]
        [--days 1 7 30] [--timestep 5 15]

Each row is one ``skynet.sim.energyplus.run_energyplus`` call (no store write), wall and CPU
time of this process (the machine may be shared: CPU time says what the run itself cost),
readings produced and CPU seconds per zone-day. A run pays sizing and warm-up once, so the
per-day cost is the slope between the day counts.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table  # noqa: E402

from skynet.sim.energyplus import run_energyplus  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--building", default="apartment-midrise")
    parser.add_argument("--weather", default="miami")
    parser.add_argument("--start", default="2025-07-01")
    parser.add_argument("--days", type=int, nargs="+", default=[1, 7, 30])
    parser.add_argument("--timestep", type=int, nargs="+", default=[5, 15])
    args = parser.parse_args()
    start = date.fromisoformat(args.start)
    rows = []
    for step in args.timestep:
        for days in args.days:
            cpu0, wall0 = os.times(), time.perf_counter()
            result = run_energyplus(args.building, args.weather, start, start + timedelta(days=days),
                                    timestep_minutes=step)  # fmt: skip
            cpu1, wall = os.times(), time.perf_counter() - wall0
            cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
            zones = len(result.zones)
            rows.append({"building": args.building, "zones": zones, "days": days, "timestep_min": step,
                         "readings": len(result.sensor_readings), "wall_s": round(wall, 1),
                         "cpu_s": round(cpu, 1), "cpu_ms_per_zone_day": round(1000 * cpu / (zones * days))})  # fmt: skip
            print_table("EnergyPlus runs (so far)", rows[-1:])
    print_table(f"EnergyPlus: {args.building} in {args.weather} from {start}", rows)


if __name__ == "__main__":
    main()
