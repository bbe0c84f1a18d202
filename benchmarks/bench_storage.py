"""Benchmark: the record store's bulk paths against naive code (SQLite; Cassandra where named).

    python benchmarks/bench_storage.py [--runs 5] [--devices 5] [--sample 500]

* write: ``write_frame`` of sensor readings (one month of minute data per device) into a
  fresh database, in rows/s: staged through ADBC (Arrow ingested in C into a scratch file,
  copied by one ``INSERT ... SELECT``), and the same call on the DBAPI cursor (``executemany``,
  what it does without ``adbc-driver-sqlite``); the naive baseline adds one ORM object and
  commits per row (``session.add`` + ``commit``), timed on ``--sample`` rows.
* read: ``read_frame`` of one device's 30 days of minute data (43,200 rows) from a database
  holding ``--devices`` such devices, in ms; the naive baseline loads ORM objects and builds
  the DataFrame from them. ``read_frame`` reads through the DBAPI cursor (ADBC's own SQLite
  must not open the store's file, see ``skynet/storage/sql/_arrow.py``); the bare ``sqlite3``
  ``fetchall`` of the rows (no conversion: the floor of any reader building Python rows) is
  shown beside it.
* Cassandra, where ``SKYNET_TEST_CASSANDRA_HOSTS`` names a server (keyspace
  ``skynet_bench``, emptied first): the same write and read through the adapter, against
  one synchronous INSERT per row and one unprepared SELECT per day into ORM-less dicts.

Targets on SQLite: write >= 50,000 rows/s; read < 50 ms. Each figure is the median of
``--runs`` runs, as wall time and, in brackets, CPU time of this process (the machine may be
shared: the CPU time says what the code costs, the wall time what a user waited).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table  # noqa: E402

from skynet.domain import SensorReading, field_names  # noqa: E402
from skynet.storage import open_store  # noqa: E402
from skynet.storage.sql import _arrow, dispose_engines, upgrade  # noqa: E402
from skynet.storage.sql._tables import SensorReadingRow  # noqa: E402

START = datetime(2024, 1, 1)
MONTH = 30 * 24 * 60  # minutes


def month_of_readings(device: str, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "device_id": device,
            "timestamp": pd.date_range(START, periods=MONTH, freq="1min"),
            "temperature": rng.normal(24, 2, MONTH),
            "humidity": rng.uniform(30, 70, MONTH),
            "luminosity": rng.uniform(0, 500, MONTH),
            "air_speed": np.nan,
        }
    )


def cpu_timed(fn, runs: int, setup=None) -> tuple[float, float, object]:
    """Median wall time and median CPU time (s) of ``runs`` calls: on a shared, busy machine the
    CPU time says what the code costs, the wall time what a user waited."""
    walls, cpus, result = [], [], None
    for _ in range(runs):
        if setup is not None:
            setup()
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def naive_session(url: str):
    from sqlalchemy import create_engine, event
    from sqlalchemy.orm import Session

    from skynet.storage.sql._store import _sqlite_pragmas

    engine = create_engine(url)
    event.listen(engine, "connect", _sqlite_pragmas)  # same pragmas: compare the code, not the settings
    return engine, Session(engine)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--devices", type=int, default=5, help="devices (months of minute data) in the database"
    )
    parser.add_argument("--sample", type=int, default=500, help="rows for the naive row-by-row writer")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="skynet-bench-storage-"))
    frames = [month_of_readings(f"device-{i}", i) for i in range(args.devices)]
    everything = pd.concat(frames, ignore_index=True)
    rows = len(everything)

    # -- write ------------------------------------------------------------------------------
    counter = iter(range(10**6))
    state: dict[str, str] = {}

    def fresh() -> None:
        dispose_engines()
        state["url"] = f"sqlite:///{work / f'write-{next(counter)}.db'}"
        upgrade(state["url"])

    def bulk_write() -> int:
        with open_store(state["url"]) as store:
            return store.write_frame(SensorReading, everything)

    write_s, write_cpu, added = cpu_timed(bulk_write, args.runs, fresh)
    assert added == rows, (added, rows)

    staged_rows, _arrow.WRITE_ROWS = _arrow.WRITE_ROWS, 10**12  # the DBAPI cursor path, as without ADBC
    cursor_write_s, cursor_write_cpu, added = cpu_timed(bulk_write, args.runs, fresh)
    _arrow.WRITE_ROWS = staged_rows
    assert added == rows, (added, rows)

    sample = everything.head(args.sample).to_dict("records")

    def naive_write() -> None:
        engine, session = naive_session(state["url"])
        with session:
            for row in sample:
                session.add(SensorReadingRow(**{k: (None if pd.isna(v) else v) for k, v in row.items()}))
                session.commit()
        engine.dispose()

    naive_write_s, naive_write_cpu, _ = cpu_timed(naive_write, args.runs, fresh)

    # -- read -------------------------------------------------------------------------------
    url = f"sqlite:///{work / 'read.db'}"
    with open_store(url) as store:
        store.write_frame(SensorReading, everything)
    device, end = "device-2" if args.devices > 2 else "device-0", START + timedelta(minutes=MONTH)
    store = open_store(url)
    read_s, read_cpu, frame = cpu_timed(
        lambda: store.read_frame(SensorReading, [device], START, end), args.runs
    )
    assert len(frame) == MONTH and list(frame.columns) == field_names(SensorReading)

    def naive_read() -> pd.DataFrame:
        from sqlalchemy import select

        engine, session = naive_session(url)
        with session:
            table = SensorReadingRow
            objects = session.scalars(
                select(table)
                .where(table.device_id == device, table.timestamp >= START, table.timestamp < end)
                .order_by(table.device_id, table.timestamp)
            ).all()
            out = pd.DataFrame([{c: getattr(o, c) for c in field_names(SensorReading)} for o in objects])
        engine.dispose()
        return out

    naive_read_s, naive_read_cpu, naive_frame = cpu_timed(naive_read, args.runs)
    assert len(naive_frame) == MONTH

    connection = sqlite3.connect(work / "read.db")
    floor_sql = (
        "SELECT timestamp, temperature, humidity, luminosity, air_speed FROM sensor_readings "
        "WHERE device_id = ? AND timestamp >= ? AND timestamp < ? ORDER BY device_id, timestamp"
    )
    bounds = (device, f"{START:%Y-%m-%d %H:%M:%S}.000000", f"{end:%Y-%m-%d %H:%M:%S}.000000")
    floor_s, floor_cpu, fetched = cpu_timed(
        lambda: connection.execute(floor_sql, bounds).fetchall(), args.runs
    )
    assert len(fetched) == MONTH
    connection.close()

    print_table(
        f"SQLite record store (median of {args.runs} runs; wall time, CPU time in brackets)",
        [
            {"operation": f"write_frame {rows:,} readings",
             "skynet": f"{rows / write_s:,.0f} rows/s ({rows / write_cpu:,.0f})",
             "naive baseline": f"{args.sample / naive_write_s:,.0f} rows/s ({args.sample / naive_write_cpu:,.0f})",
             "speed-up": f"{(rows / write_s) / (args.sample / naive_write_s):,.0f}x",
             "note": f"target >= 50,000 rows/s; naive = ORM add + commit per row, {args.sample} rows"
                     + ("" if staged_rows < rows and _arrow.available() else "; ADBC NOT used: DBAPI path")},
            {"operation": "  same, DBAPI cursor (no ADBC staging)",
             "skynet": f"{rows / cursor_write_s:,.0f} rows/s ({rows / cursor_write_cpu:,.0f})",
             "note": "executemany of Python tuples, as without adbc-driver-sqlite"},
            {"operation": f"read_frame 1 device x 30 days ({MONTH:,} rows)",
             "skynet": f"{read_s * 1e3:.0f} ms ({read_cpu * 1e3:.0f})",
             "naive baseline": f"{naive_read_s * 1e3:.0f} ms ({naive_read_cpu * 1e3:.0f})",
             "speed-up": f"{naive_read_s / read_s:.1f}x",
             "note": "target < 50 ms; DBAPI cursor (ADBC must not open the store's file: see sql/_arrow.py)"},
            {"operation": "  floor: bare sqlite3 fetchall of the rows",
             "skynet": f"{floor_s * 1e3:.0f} ms ({floor_cpu * 1e3:.0f})",
             "note": "the same columns (a single device's id is not fetched), no conversion: what any "
                     "reader building Python rows pays"},
        ],  # fmt: skip
    )
    cassandra_figures(args, everything, device)
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    store.close()
    dispose_engines()
    shutil.rmtree(work, ignore_errors=True)


def cassandra_figures(args: argparse.Namespace, everything: pd.DataFrame, device: str) -> None:
    """The Cassandra figures, where ``SKYNET_TEST_CASSANDRA_HOSTS`` names a server."""
    hosts = os.environ.get("SKYNET_TEST_CASSANDRA_HOSTS")
    if not hosts:
        print("Cassandra: not measured (no server here; set SKYNET_TEST_CASSANDRA_HOSTS=host[,host][:port])")
        return
    from skynet.storage.cassandra import schema_statements

    url, rows = f"cassandra://{hosts}/skynet_bench", len(everything)
    end = START + timedelta(minutes=MONTH)
    store = open_store(url)
    session, keyspace = store._session, store.options.keyspace

    def empty() -> None:
        for table, _ in schema_statements(keyspace):
            if table is not None:
                session.execute(f"TRUNCATE {keyspace}.{table}")

    write_s, write_cpu, added = cpu_timed(
        lambda: store.write_frame(SensorReading, everything), args.runs, empty
    )
    assert added == rows, (added, rows)
    sample = everything.head(args.sample)

    def naive_write() -> None:
        for r in sample.itertuples(index=False):
            us = int((r.timestamp - pd.Timestamp(0)) // pd.Timedelta(microseconds=1))
            session.execute(
                f"INSERT INTO {keyspace}.sensor_readings (device_id, day, time_us, temperature, humidity, "
                "luminosity) VALUES (%s, %s, %s, %s, %s, %s)",
                (r.device_id, r.timestamp.date(), us, r.temperature, r.humidity, r.luminosity),
            )

    naive_write_s, naive_write_cpu, _ = cpu_timed(naive_write, args.runs, empty)
    store.write_frame(SensorReading, everything)
    read_s, read_cpu, frame = cpu_timed(
        lambda: store.read_frame(SensorReading, [device], START, end), args.runs
    )
    assert len(frame) == MONTH

    def naive_read() -> pd.DataFrame:
        out = []
        for day in pd.date_range(START, periods=30, freq="D"):
            query = f"SELECT * FROM {keyspace}.sensor_readings WHERE device_id = %s AND day = %s"
            out += [dict(zip(r._fields, r, strict=True)) if hasattr(r, "_fields") else dict(enumerate(r))
                    for r in session.execute(query, (device, day.date()))]  # fmt: skip
        return pd.DataFrame(out)

    naive_read_s, naive_read_cpu, naive_frame = cpu_timed(naive_read, args.runs)
    assert len(naive_frame) == MONTH
    store.close()
    print_table(
        f"Cassandra at {hosts} (median of {args.runs} runs; wall time, CPU time in brackets)",
        [
            {"operation": f"write_frame {rows:,} readings",
             "skynet": f"{rows / write_s:,.0f} rows/s ({rows / write_cpu:,.0f})",
             "naive baseline": f"{args.sample / naive_write_s:,.0f} rows/s ({args.sample / naive_write_cpu:,.0f})",
             "note": f"concurrency {store.options.concurrency}; naive = one synchronous INSERT per row"},
            {"operation": f"read_frame 1 device x 30 days ({MONTH:,} rows)",
             "skynet": f"{read_s * 1e3:.0f} ms ({read_cpu * 1e3:.0f})",
             "naive baseline": f"{naive_read_s * 1e3:.0f} ms ({naive_read_cpu * 1e3:.0f})",
             "note": "naive = one unprepared SELECT per day, rows as dicts"},
        ],  # fmt: skip
    )


if __name__ == "__main__":
    main()
