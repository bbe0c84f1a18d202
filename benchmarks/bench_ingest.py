"""Benchmark: ingestion from Redis into SQLite, and what a second consumer group costs the workers' commit.

    python benchmarks/bench_ingest.py [--runs 3] [--events 20000] [--devices 500] [--batch 1000]
                                      [--redis redis://127.0.0.1:6379/15] [--json]

* **ingest**: ``--events`` readings (each with the outdoor temperature: a sensor reading and a
  weather record) queued on Redis, drained by one in-process :class:`~skynet.api._ingester.Ingester`
  into a fresh SQLite store: Redis reads, parsing, one write per kind per batch, acknowledgements.
  **baseline**: the same records written straight to a fresh store with ``write`` in the same
  batches (the floor: what the database alone costs).
* **ingest, all duplicates**: the same events again (a redelivery): nothing new is stored.
* **workers' commit**: acknowledging ``--batch`` events in the workers' fenced commit, with no
  other group (**baseline**: the commit as it was, plus one XINFO), with an ingest group that has
  not read them yet (they are kept), and with one that already acknowledged them (they are deleted).

Every figure is the median of ``--runs`` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table  # noqa: E402

from skynet.api._ingester import INGEST_GROUP, Ingester, IngestOptions, records_of  # noqa: E402
from skynet.storage import open_store  # noqa: E402
from skynet.storage.live import open_live_store  # noqa: E402
from skynet.worker import make_event, parse_event  # noqa: E402

T0 = datetime(2025, 7, 1)


def events(n: int, devices: int) -> list[tuple[str, str]]:
    out = []
    for i in range(n):
        device = f"dev-{i % devices:04d}"
        at = T0 + timedelta(minutes=i // devices)
        out.append((device, make_event(device, "reading", time=at, event_id=f"e{i}", temperature=24.0,
                                       humidity=50.0, outdoor_temperature=30.0)))  # fmt: skip
    return out


def live_store(redis: str):
    return open_live_store(f"{redis}{'&' if '?' in redis else '?'}namespace=bench-{uuid.uuid4().hex[:10]}")


def drop(live, redis: str) -> None:
    """Delete every key of the store's namespace (``clear`` would set it up again) and close it."""
    import redis as client

    server = client.Redis.from_url(redis)
    try:
        keys = list(server.scan_iter(match=f"{live.namespace}:*", count=1000))
        for lo in range(0, len(keys), 500):
            server.delete(*keys[lo : lo + 500])
    finally:
        server.close()
        live.close()


def ingest_run(redis: str, folder: Path, queued: list[tuple[str, str]], batch: int) -> dict:
    live, url = live_store(redis), f"sqlite:///{folder / f'{uuid.uuid4().hex}.db'}"
    try:
        with open_store(url) as store:
            live.join_group(INGEST_GROUP)
            rates = []
            for _ in range(2):  # the second pass: every event a duplicate
                for lo in range(0, len(queued), 5000):
                    live.append_events(queued[lo : lo + 5000])
                ingester = Ingester(live, store, "bench", IngestOptions(batch=batch, fail_fast=True))
                started = time.perf_counter()
                stats = ingester.run(drain=True)
                rates.append(stats.events / (time.perf_counter() - started))
            assert live.backlog(group=INGEST_GROUP) == 0
        return {"first": rates[0], "again": rates[1]}
    finally:
        drop(live, redis)


def baseline_run(folder: Path, queued: list[tuple[str, str]], batch: int) -> float:
    records = [[r for _, text in queued[lo : lo + batch] for r in records_of(parse_event(text), parse_event(text).time)]
               for lo in range(0, len(queued), batch)]  # fmt: skip
    with open_store(f"sqlite:///{folder / f'{uuid.uuid4().hex}.db'}") as store:
        started = time.perf_counter()
        for chunk in records:
            for kind in ("sensor_reading", "weather"):
                store.write([r for r in chunk if r.kind == kind])
        return len(queued) / (time.perf_counter() - started)


def commit_run(redis: str, batch: int, group: str | None, ingest_first: bool) -> float:
    """µs per acknowledged event in the workers' commit."""
    live = live_store(redis)
    try:
        if group:
            live.join_group(group)
        device = "dev-0"
        partition = live.partition_of(device)
        times = []
        for _ in range(20):
            ids = live.append_events([(device, "x")] * batch)
            live.read_events("w", [partition], batch)
            if ingest_first:
                live.read_events("i", [partition], batch, group=INGEST_GROUP)
                live.ack(INGEST_GROUP, partition, ids)
            live.acquire("w", [partition], 5000)
            started = time.perf_counter()
            assert live.commit("w", partition, acks=ids)
            times.append(time.perf_counter() - started)
        return statistics.median(times) / batch * 1e6
    finally:
        drop(live, redis)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = parser.parse_args()

    queued = events(args.events, args.devices)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ingest_run(args.redis, folder, queued[:2000], args.batch)  # warm-up: imports, caches
        runs = [ingest_run(args.redis, folder, queued, args.batch) for _ in range(args.runs)]
        floor = [baseline_run(folder, queued, args.batch) for _ in range(args.runs)]
    commits = {
        "no other group (baseline)": (None, False),
        "ingest group, not read yet (kept)": (INGEST_GROUP, False),
        "ingest group, acknowledged (deleted)": (INGEST_GROUP, True),
    }
    commit_us = {name: statistics.median(commit_run(args.redis, 256, *how) for _ in range(args.runs))
                 for name, how in commits.items()}  # fmt: skip
    figures = {
        "ingest_events_per_s": round(statistics.median(r["first"] for r in runs)),
        "ingest_duplicates_events_per_s": round(statistics.median(r["again"] for r in runs)),
        "baseline_write_events_per_s": round(statistics.median(floor)),
        "commit_us_per_event": {k: round(v, 2) for k, v in commit_us.items()},
    }
    load = os.getloadavg()[0]
    print_table(f"ingestion, {args.events:,} readings of {args.devices} devices, batches of {args.batch}, SQLite "
                f"(median of {args.runs} runs; {os.cpu_count()} cores, load {load:.1f})", [
        {"path": "ingest: Redis -> parse -> write per kind -> ack", "events/s": f"{figures['ingest_events_per_s']:,}"},
        {"path": "ingest again: all duplicates", "events/s": f"{figures['ingest_duplicates_events_per_s']:,}"},
        {"path": "baseline: the same records written straight", "events/s": f"{figures['baseline_write_events_per_s']:,}"},
    ])  # fmt: skip
    print_table("workers' commit of 256 acknowledgements", [
        {"consumer groups": name, "µs per event": f"{us:.2f}"} for name, us in commit_us.items()
    ])  # fmt: skip
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
