"""Benchmark: importing ASHRAE DB II into the embedded SQLite store.

    python benchmarks/bench_import.py [--runs 3]

skynet's importer (vectorized read + validation, bulk idempotent ``write_frame``) against a
naive importer that builds one domain record per row and writes each vote's records with its
own ``store.write`` call. The naive one is timed on a sample of votes and extrapolated to the
full file (said in the table). Target: the full file in under 30 s.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ASHRAE_MEASUREMENTS, ASHRAE_METADATA, print_table, timed  # noqa: E402

from skynet.api.data import import_ashrae  # noqa: E402
from skynet.config import load_settings  # noqa: E402
from skynet.data import read_ashrae  # noqa: E402
from skynet.domain import Feedback, SensorReading  # noqa: E402
from skynet.storage import open_store  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sample", type=int, default=2000, help="votes for the naive importer")
    args = parser.parse_args()
    if not ASHRAE_MEASUREMENTS.exists():
        sys.exit(f"ASHRAE DB II not found at {ASHRAE_MEASUREMENTS}")
    work = Path(tempfile.mkdtemp(prefix="skynet-bench-import-"))
    settings = load_settings(None, environ={"SKYNET_GENERAL_DATA_DIR": str(work)})
    db = work / "skynet.db"

    def fresh() -> None:
        for p in work.glob("skynet.db*"):
            p.unlink()

    seconds, result = timed(
        lambda: import_ashrae(settings, ASHRAE_MEASUREMENTS, ASHRAE_METADATA, progress=False),
        args.runs,
        fresh,
    )
    again, second = timed(
        lambda: import_ashrae(settings, ASHRAE_MEASUREMENTS, ASHRAE_METADATA, progress=False), 1
    )
    votes = result["votes_imported"]

    data = read_ashrae(ASHRAE_MEASUREMENTS, ASHRAE_METADATA)
    sample = data.feedback.head(args.sample)
    readings = data.readings.head(args.sample)

    def naive() -> None:
        fresh()
        with open_store(f"sqlite:///{db}") as store:
            for fb, rd in zip(sample.itertuples(index=False), readings.itertuples(index=False), strict=True):
                store.write([Feedback(**fb._asdict()), SensorReading(**rd._asdict())])

    naive_s, _ = timed(naive, args.runs)
    naive_full = naive_s * votes / len(sample)
    print_table(
        f"ASHRAE DB II import into SQLite ({votes} votes, {result['rows_read']} rows; median of {args.runs})",
        [
            {"importer": "skynet (bulk, idempotent)", "seconds": f"{seconds:.1f}", "votes/s": f"{votes / seconds:,.0f}",
             "note": f"target < 30 s; added {sum(result['added'].values())} records"},
            {"importer": "skynet, second import", "seconds": f"{again:.1f}", "votes/s": f"{votes / again:,.0f}",
             "note": f"added {sum(second['added'].values())} (idempotent)"},
            {"importer": "naive (a write per vote)", "seconds": f"{naive_full:.1f}",
             "votes/s": f"{len(sample) / naive_s:,.0f}", "note": f"timed on {len(sample)} votes, extrapolated"},
        ],  # fmt: skip
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
