"""Benchmark: wall time of a 16-point hyper-parameter search with 1 and with 2 worker processes.

    python benchmarks/bench_search.py [--runs 3] [--rows 2000] [--devices 16] [--json]

A real ``skynet train worker --concurrency N`` (N = 1, then 2 pool processes; each process
gets its share of the cores as BLAS/OpenMP threads, so both use the whole machine) on the
RabbitMQ broker of ``$SKYNET_TEST_AMQP_URL`` (install/servers.sh starts it), and a real
search: ``start_search`` + ``wait_search`` of 16 user-model points (max_iter x learning_rate,
3-fold device-grouped cross-validation each) on simulated votes (``sample_data``), then the
best point trained on all of them and registered. Each setting first runs an untimed 2-point
search (imports, numba's compiled tree walk). Times are medians of ``--runs``; the speedup is
1 process's median over 2 processes'. The load average is printed: on a shared machine the
wall time measures the neighbours too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table, timed  # noqa: E402

BROKER = os.environ.get("SKYNET_TEST_AMQP_URL", "amqp://skynet:skynet@127.0.0.1:5672/skynet_test")
GRID = {"max_iter": [10, 20, 30, 40], "learning_rate": [0.05, 0.1, 0.2, 0.3]}
FIXED = {"min_samples_leaf": 20, "calibration_folds": 2}


def _grid(path: Path, params: dict) -> Path:
    import yaml

    path.write_text(yaml.safe_dump({"kind": "grid", "folds": 3, "params": params, "fixed": FIXED}))
    return path


def _worker(env: dict[str, str], concurrency: int, log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "skynet", "train", "worker", "--concurrency", str(concurrency), "--hostname",
            f"bench{concurrency}@%h", "--loglevel", "WARNING"]  # fmt: skip
    proc = subprocess.Popen(
        argv, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=2000, help="simulated votes in the data slice")
    parser.add_argument("--devices", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds one search may take")
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    args = parser.parse_args()

    from skynet.api._queue import check_broker, client
    from skynet.api.search import start_search, wait_search
    from skynet.config import load_settings
    from skynet.models.user_model import sample_data

    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        folder = Path(tmp)
        env = {
            k: v for k, v in os.environ.items() if not k.startswith("SKYNET_") or k.startswith("SKYNET_TEST_")
        }
        env.update(SKYNET_GENERAL_DATA_DIR=str(folder / "data"), SKYNET_TRAIN_BROKER_URL=BROKER)
        os.environ.update(
            SKYNET_GENERAL_DATA_DIR=env["SKYNET_GENERAL_DATA_DIR"], SKYNET_TRAIN_BROKER_URL=BROKER
        )
        settings = load_settings(None)
        app = client(settings)
        check_broker(app)
        app.control.purge()
        votes = folder / "votes.parquet"
        sample_data(args.rows, n_devices=args.devices).to_parquet(votes, index=False)
        grid, warm = _grid(folder / "grid.yml", GRID), _grid(folder / "warm.yml", {"max_iter": [5, 10]})

        def search(path: Path) -> dict:
            found = start_search(settings, "user_model", path, dataset=votes, progress=False)
            summary = wait_search(settings, found.id, timeout=args.timeout, progress=False)
            if summary["counts"]["done"] != found.spec["points"] or summary["search"]["status"] != "done":
                raise SystemExit(f"search {found.id} did not complete: {summary['search']}")
            return summary

        rows, medians = [], {}
        for processes in (1, 2):
            proc = _worker(env, processes, folder / f"worker{processes}.log")
            try:
                search(warm)  # untimed: imports and numba's compile in each pool process
                seconds, summary = timed(lambda: search(grid), args.runs)
            finally:
                _stop(proc)
            medians[processes] = seconds
            workers = {p["worker"] for p in summary["points"]}
            rows.append({"worker processes": processes, "points": len(summary["points"]),
                         "median s": f"{seconds:.1f}", "s per point": f"{seconds / len(summary['points']):.2f}",
                         "best": f"{summary['best']['value']:.4f}", "nodes": ",".join(sorted(workers)),
                         "load avg": f"{os.getloadavg()[0]:.1f}"})  # fmt: skip
        speedup = medians[1] / medians[2]
        print_table(
            f"16-point search, {args.rows} votes, {os.cpu_count()} cores (median of {args.runs} runs)", rows
        )
        print(f"\nspeedup with 2 worker processes: {speedup:.2f}x")
        if args.json:
            print(json.dumps({"benchmark": "search", "points": 16, "rows": args.rows, "runs": args.runs,
                              "seconds_1": round(medians[1], 2), "seconds_2": round(medians[2], 2),
                              "speedup": round(speedup, 2), "cores": os.cpu_count(),
                              "load": round(os.getloadavg()[0], 2)}))  # fmt: skip


if __name__ == "__main__":
    main()
