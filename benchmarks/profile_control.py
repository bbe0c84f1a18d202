"""Profile: where a control decision's time goes (cProfile of one worker process on a real Redis).

    python benchmarks/profile_control.py [--batch-size 16] [--events 2000] [--redis redis://127.0.0.1:6379/14]
                                         [--no-profile] [--top 45]

The models and device states of ``bench_control.py`` (models trained on simulated homes, 1,000
devices with half an hour of readings); ``--events`` readings are queued and one in-process
worker drains them under cProfile. Prints decisions, wall seconds, decisions/s and CPU µs per
decision, then the profile by cumulative and by own time (``--top`` rows each). The README's
"Where a control decision's time goes" table is read from this output. ``--no-profile`` gives
the same figures without cProfile's overhead (about 15 %).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_control as bench  # noqa: E402

from skynet.worker import Processor, Worker, WorkerOptions  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=16, help="devices planned together")
    parser.add_argument("--events", type=int, default=2000, help="readings drained")
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--no-profile", action="store_true", help="time only (no cProfile)")
    parser.add_argument("--top", type=int, default=45, help="rows of each profile listing")
    args = parser.parse_args()

    estimator, comfort, seconds = bench.train_models(30, 5.0)
    print(f"models trained on 30 simulated homes x 5 days in {seconds:.1f} s")
    controller = bench.controllers(estimator, comfort, args.batch_size)["worker + models (skynet)"]
    live, log = bench.open_stores(args.redis, Path(tempfile.mkdtemp()))
    try:
        names = [f"dev-{i:05d}" for i in range(args.devices)]
        bench.seed_states(live, names)
        live.append_events(bench.reading_events(names, args.events))
        options = WorkerOptions(batch=256, block_ms=20, lease_ms=20_000, heartbeat_ms=200)
        worker = Worker(live, log, Processor(controller, "profile"), "profile", options)
        profile = cProfile.Profile()
        wall, cpu = time.perf_counter(), time.process_time()
        if not args.no_profile:
            profile.enable()
        stats = worker.run(until=lambda: live.backlog() == 0)
        if not args.no_profile:
            profile.disable()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        live.clear()
        log.close()
    n = max(stats.decisions, 1)
    print(f"decisions {stats.decisions}  wall {wall:.2f} s  {stats.decisions / wall:.0f} decisions/s  "
          f"CPU {1e6 * cpu / n:.0f} µs/decision  (batch_size {args.batch_size})")  # fmt: skip
    if not args.no_profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
