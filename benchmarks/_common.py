"""Helpers shared by the benchmark scripts: timing, medians, and the printed table."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ASHRAE_DIR = REPO.parent / "shared" / "data" / "ashrae_db2"
ASHRAE_MEASUREMENTS = ASHRAE_DIR / "db_measurements_v2.1.0.csv.gz"
ASHRAE_METADATA = ASHRAE_DIR / "db_metadata.csv"


def timed(fn: Callable[[], Any], runs: int, setup: Callable[[], Any] | None = None) -> tuple[float, Any]:
    """Median wall time (s) of ``runs`` calls of ``fn`` (``setup`` before each, untimed)."""
    times, result = [], None
    for _ in range(runs):
        if setup is not None:
            setup()
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    """Print rows of dicts as an aligned table under a title."""
    cols = list(dict.fromkeys(k for r in rows for k in r))
    cells = [[str(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    print(f"\n{title}")
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
