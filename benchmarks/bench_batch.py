"""Benchmark: batch predictions (``skynet predict batch``), rows/s of the local engine and of Dask.

    python benchmarks/bench_batch.py [--files 8] [--rows 25000] [--runs 3] [--chunk-size 10000] [--json]

A user model (default parameters) fitted on 5,000 synthetic votes predicts ``--files`` parquet
files of ``--rows`` comfort rows each into a parquet folder, through ``run_batch`` itself:

- ``local``: the baseline, every file one after the other in this process;
- ``dask``: a LocalCluster of 1 and of 2 worker processes (one thread each), one task per file,
  reached through ``--scheduler`` as a remote cluster would be, so the cluster (and each
  worker's compiled model) outlives the runs and only the job is timed.

Each configuration runs once cold (printed: it includes compiling the model in each worker),
then ``--runs`` times; the table gives the median. The machine's load average is printed too:
on a shared 2-core machine the second worker competes with the neighbours as much as with the
first.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table, timed  # noqa: E402


def _setup(folder: Path, files: int, rows: int) -> tuple[object, str]:
    """Settings with a saved user model under ``folder``, and the input folder's path."""
    os.environ["SKYNET_GENERAL_DATA_DIR"] = str(folder / "data")
    from skynet.api.models import register_trained
    from skynet.config import load_settings
    from skynet.models.user_model import UserModel, sample_data

    settings = load_settings(None)
    register_trained(settings, UserModel(random_state=0).fit(sample_data(5000, seed=1)), {})
    inputs = folder / "rows"
    inputs.mkdir()
    for i in range(files):
        sample_data(rows, seed=100 + i).drop(columns=["value"]).to_parquet(inputs / f"part-{i:03d}.parquet")
    return settings, str(inputs)


def _measure(settings, inputs: str, folder: Path, runs: int, chunk_size: int, **engine) -> dict[str, float]:
    """Cold seconds, median seconds and rows of ``run_batch`` on one engine configuration."""
    from skynet.api.batch import BatchRequest, run_batch

    count = iter(range(10_000))

    def once() -> dict:
        request = BatchRequest("user_model", inputs, output=str(folder / f"out-{next(count)}"),
                               chunk_size=chunk_size, date=date(2027, 1, 5), **engine)  # fmt: skip
        return run_batch(settings, request, progress=False)

    started = time.perf_counter()
    once()
    cold = time.perf_counter() - started
    seconds, summary = timed(once, runs)
    return {"cold_s": cold, "median_s": seconds, "rows": summary["rows"]}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=8, help="input files (one Dask task each)")
    parser.add_argument("--rows", type=int, default=25_000, help="rows per file")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chunk-size", type=int, default=10_000)
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of the table")
    args = parser.parse_args()
    from dask.distributed import LocalCluster

    load = os.getloadavg()[0]
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        folder = Path(tmp)
        settings, inputs = _setup(folder, args.files, args.rows)
        local = _measure(settings, inputs, folder, args.runs, args.chunk_size)
        results.append({"engine": "local", "workers": 1, **local})
        for workers in (1, 2):
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                              silence_logs=50) as cluster:  # fmt: skip
                measured = _measure(settings, inputs, folder, args.runs, args.chunk_size, engine="dask",
                                    scheduler=cluster.scheduler_address)  # fmt: skip
            results.append({"engine": "dask", "workers": workers, **measured})
    for row in results:
        row["rows_per_s"] = row["rows"] / row["median_s"]
        row["vs_local"] = row["rows_per_s"] / results[0]["rows_per_s"]
    if args.json:
        print(json.dumps({"benchmark": "batch", "files": args.files, "rows_per_file": args.rows,
                          "runs": args.runs, "chunk_size": args.chunk_size, "cores": os.cpu_count(),
                          "load_before": load, "load_after": os.getloadavg()[0], "results": results}))  # fmt: skip
        return
    print_table(
        f"skynet predict batch: {args.files} files x {args.rows:,} rows, chunks of {args.chunk_size:,} "
        f"(median of {args.runs} runs; {os.cpu_count()} cores; load average {load:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after)",
        [{"engine": r["engine"] if r["engine"] == "local" else f"dask, {r['workers']} worker(s)",
          "rows": f"{r['rows']:,}", "cold run": f"{r['cold_s']:.2f} s", "median": f"{r['median_s']:.2f} s",
          "rows/s": f"{r['rows_per_s']:,.0f}", "vs local": f"{r['vs_local']:.2f}x"} for r in results],
    )  # fmt: skip


if __name__ == "__main__":
    main()
