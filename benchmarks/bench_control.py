"""Benchmark: control worker processes on a real Redis — decisions per second and their latency.

    python benchmarks/bench_control.py [--runs 3] [--devices 1000] [--events 4000] [--processes 1 2]
                                       [--batch-size 16] [--redis redis://127.0.0.1:6379/15] [--json]

Models: real ones, trained here in a few seconds on simulated homes (``skynet.sim``): the user
comfort model (:class:`skynet.models.user_model.UserModel`) on the homes' votes and the
estimation model on their readings and AC states (``skynet.data.estimation``).

* **worker (skynet)**: the product path, with ``--processes`` worker processes sharing the 16
  partitions of one Redis. Device states are seeded with half an hour of readings, a comfort
  target and the AC's state; ``--events`` readings are queued, and the workers drain them:
  per batch, Redis reads, state loads, the controller's plans (per round of devices: one
  estimation-model call per plan step and one comfort-model call per round for
  ``--batch-size`` devices at once), the SQLite decision log (one file per process) and the
  fenced Redis commit. Figures: decisions per second over the drain (all processes), each
  decision's time inside the controller (p50 / p99) and the worker CPU per decision; 1 → N
  processes shows the scaling.
* **naive**: the same worker and planner, but the estimation model asked one row at a time
  (one call per sequence and step), on a small sample.
* **rules only**: the same worker with the rule-based thermostat and the safety rules and no
  model: what the worker itself (Redis, states, decision log, commit) costs.

Targets (issue 11): >= 2,000 decisions/s on this machine (several processes allowed), p99
decision latency <= 20 ms. Every figure is the median of ``--runs`` runs. The controller's time
budgets are raised so the fallback thermostat never stands in for a slow model: the table's
``fallbacks`` column must be 0. ``--json`` prints one JSON line of every figure after the table.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table  # noqa: E402

from skynet.control import ControlConfig, Controller, decide_by_rules  # noqa: E402
from skynet.domain import ApplianceState, ControlTarget, SensorReading, Weather  # noqa: E402
from skynet.storage.decisions import open_decision_log  # noqa: E402
from skynet.storage.live import open_live_store  # noqa: E402
from skynet.worker import DeviceState, Processor, Worker, WorkerOptions, make_event  # noqa: E402

T0 = datetime(2025, 7, 1, 12, 0)
HISTORY = 31  # minutes of readings seeded per device


# -- models ------------------------------------------------------------------------------------


def train_models(homes: int, days: float, seed: int = 0) -> tuple[object, object, float]:
    """A comfort and an estimation model trained on simulated homes; and the seconds it took."""
    from skynet.data import comfort_frame
    from skynet.data.estimation import estimation_frame
    from skynet.models.estimation import EstimationModel
    from skynet.models.user_model import UserModel
    from skynet.sim import simulate_fleet

    started = time.perf_counter()
    sim = simulate_fleet(homes, days, seed=seed)
    readings, weather = sim.frame("sensor_reading"), sim.frame("weather")
    votes = comfort_frame(sim.frame("feedback"), readings, weather, sim.devices)
    votes["air_speed"] = votes["air_speed"].fillna(0.1)  # the simulated sensors measure no air speed
    comfort = UserModel(max_iter=60, n_jobs=1, random_state=seed).fit(votes)
    frame = estimation_frame(readings, sim.frame("appliance_state"), weather, sim.devices)
    estimator = EstimationModel(epochs=20, random_state=seed).fit(frame)
    return estimator, comfort, time.perf_counter() - started


class RowByRowEstimator:
    """The naive way: the estimation model asked one row (one sequence, one step) at a time."""

    def __init__(self, model: object) -> None:
        self.model = model
        self.horizons = model.horizons

    def predict_inputs(self, inputs):
        n = len(inputs["temperature"])
        outs = [
            self.model.predict_inputs({k: np.asarray(v)[i : i + 1] for k, v in inputs.items()})
            for i in range(n)
        ]
        return {"temperature": np.vstack([o.temperature for o in outs]),
                "humidity": np.vstack([o.humidity for o in outs])}  # fmt: skip


class RulesOnly:
    """The controller without models: the thermostat and the safety rules (what the worker itself costs)."""

    def __init__(self, config: ControlConfig) -> None:
        self.config = config

    def decide_many(self, requests):
        return [decide_by_rules(request, self.config) for request in requests]


def controllers(estimator: object, comfort: object, batch_size: int) -> dict[str, object]:
    config = ControlConfig(estimator_budget=60.0, comfort_budget=60.0, batch_size=batch_size)
    return {"worker + models (skynet)": Controller(estimator, comfort, config),
            "naive (row by row)": Controller(RowByRowEstimator(estimator), comfort, config),
            "worker, rules only": RulesOnly(config)}  # fmt: skip


# -- a run -------------------------------------------------------------------------------------


def seed_states(live, devices: list[str]) -> None:
    """Half an hour of readings, the weather, a comfort target and a running AC per device."""
    rng = np.random.default_rng(0)
    states = {}
    for device in devices:
        base = rng.uniform(24.0, 29.0)
        state = DeviceState(device, occupancy=1)
        state.readings = [SensorReading(device, T0 + timedelta(minutes=m), base + 0.02 * m, 55.0)
                          for m in range(HISTORY)]  # fmt: skip
        state.weather = Weather(device, T0, 32.0, 60.0, 26.0)
        state.target = ControlTarget(device, T0, "comfort")
        state.appliance = ApplianceState(device, T0 - timedelta(hours=1), True, "cool", 25.0, "auto", "user")
        state.applied = HISTORY
        states[device] = state.to_json()
    live.put_states(states)


def reading_events(devices: list[str], n: int, start_minute: int = HISTORY) -> list[tuple[str, str]]:
    rng = np.random.default_rng(1)
    out = []
    for i in range(n):
        device = devices[i % len(devices)]
        minute = start_minute + i // len(devices)
        text = make_event(device, "reading", time=T0 + timedelta(minutes=minute), event_id=f"{device}-{minute}",
                          temperature=float(rng.uniform(24.0, 29.5)), humidity=55.0)  # fmt: skip
        out.append((device, text))
    return out


def open_stores(redis: str, folder: Path):
    live = open_live_store(f"{redis}{'&' if '?' in redis else '?'}namespace=bench-{uuid.uuid4().hex[:10]}",
                           partitions=16)  # fmt: skip
    log = open_decision_log(f"sqlite:///{folder / f'decisions-{uuid.uuid4().hex[:6]}.db'}")
    return live, log


def _controller(kind: str, model_dir: str, batch_size: int) -> object:
    from skynet.models import load_model

    estimator, comfort = load_model(Path(model_dir) / "estimator"), load_model(Path(model_dir) / "comfort")
    return controllers(estimator, comfort, batch_size)[kind]


def _worker_process(url: str, folder: str, model_dir: str, kind: str, batch_size: int, batch: int, name: str,
                    go: str, out: str) -> None:  # fmt: skip
    """One worker process: wait for the go file, drain the queue, write its figures as JSON."""
    import json

    controller = _controller(kind, model_dir, batch_size)
    live = open_live_store(url)
    log = open_decision_log(f"sqlite:///{Path(folder) / f'decisions-{name}-{uuid.uuid4().hex[:6]}.db'}")
    worker = Worker(live, log, Processor(controller, name), name,
                    WorkerOptions(batch=batch, block_ms=20, lease_ms=20_000, heartbeat_ms=200))  # fmt: skip
    cpu = [0.0]

    def until() -> bool:
        return Path(go).exists() and live.backlog() == 0

    cpu[0] = time.process_time()

    stats = worker.run(until=until)
    ended = time.time()
    fallbacks = sum(1 for doc in log.read() if doc.get("fallback"))
    Path(out).write_text(json.dumps({"decisions": stats.decisions, "latencies": list(stats.latencies),
                                     "cpu": time.process_time() - cpu[0], "ended": ended,
                                     "fallbacks": fallbacks}))  # fmt: skip
    log.close()


def drain(kind: str, model_dir: str, redis: str, folder: Path, devices: int, events: int, batch: int,
          batch_size: int, processes: int = 1) -> dict:  # fmt: skip
    """Start ``processes`` workers on one Redis, queue ``events`` readings, time their drain."""
    import json

    live, log = open_stores(redis, folder)
    log.close()
    run = uuid.uuid4().hex[:6]
    go, outs = folder / f"go-{run}", [folder / f"out-{run}-{i}.json" for i in range(processes)]
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker_process, args=(live.url, str(folder), model_dir, kind, batch_size, batch,
                                                       f"bench-{i}", str(go), str(out)))
             for i, out in enumerate(outs)]  # fmt: skip
    try:
        names = [f"dev-{i:05d}" for i in range(devices)]
        seed_states(live, names)
        for proc in procs:
            proc.start()
        deadline = time.time() + 120
        while time.time() < deadline:  # every worker joined and holds its share of the partitions
            members = live.members()
            held = sum(len(info.get("partitions", [])) for info in members.values())
            if len(members) == processes and held == live.partitions:
                break
            time.sleep(0.1)
        queued = reading_events(names, events)
        started = time.time()
        for lo in range(0, len(queued), 2000):
            live.append_events(queued[lo : lo + 2000])
        go.write_text("go")  # after the queueing: a worker stops when the queue is empty
        for proc in procs:
            proc.join()
        results = [json.loads(out.read_text()) for out in outs]
        wall = max(r["ended"] for r in results) - started
        decisions = sum(r["decisions"] for r in results)
        latencies = sorted(x for r in results for x in r["latencies"])
        return {
            "decisions": decisions,
            "rate": decisions / wall,
            "cpu_us": 1e6 * sum(r["cpu"] for r in results) / max(decisions, 1),
            "p50": 1000 * latencies[len(latencies) // 2],
            "p99": 1000 * latencies[min(len(latencies) - 1, len(latencies) * 99 // 100)],
            "fallbacks": sum(r["fallbacks"] for r in results),
        }
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
                proc.join()
        live.clear()


def main() -> None:
    import json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--events", type=int, default=4000, help="readings drained per worker run")
    parser.add_argument("--naive-events", type=int, default=16, help="readings per naive run")
    parser.add_argument("--rules-events", type=int, default=8000, help="readings per rules-only run")
    parser.add_argument(
        "--processes", type=int, nargs="+", default=[1, 2], help="worker processes to compare"
    )
    parser.add_argument("--batch", type=int, default=256, help="events a worker reads per pass")
    parser.add_argument(
        "--batch-size", type=int, default=16, help="devices planned together (control: batch_size)"
    )
    parser.add_argument("--homes", type=int, default=30, help="simulated homes the models learn from")
    parser.add_argument("--days", type=float, default=5.0)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--json", action="store_true", help="print one JSON line of the figures")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    estimator, comfort, train_s = train_models(args.homes, args.days)
    print(f"models trained on {args.homes} simulated homes x {args.days:g} days in {train_s:.1f} s")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        estimator.save(folder / "models" / "estimator")
        comfort.save(folder / "models" / "comfort")
        models = str(folder / "models")
        plan = [("worker + models (skynet)", p, args.events) for p in args.processes]
        plan += [("naive (row by row)", 1, args.naive_events), ("worker, rules only", 1, args.rules_events)]
        drain(
            "worker + models (skynet)", models, args.redis, folder, 50, 100, args.batch, args.batch_size
        )  # warm-up
        for kind, processes, events in plan:
            runs = [drain(kind, models, args.redis, folder, min(args.devices, events), events, args.batch,
                          args.batch_size, processes) for _ in range(args.runs)]  # fmt: skip
            rows.append({
                "approach": kind, "processes": processes, "decisions/run": runs[0]["decisions"],
                "decisions/s": round(statistics.median(r["rate"] for r in runs)),
                "worker CPU µs/decision": round(statistics.median(r["cpu_us"] for r in runs)),
                "decision p50 ms": round(statistics.median(r["p50"] for r in runs), 2),
                "decision p99 ms": round(statistics.median(r["p99"] for r in runs), 2),
                "fallbacks": max(r["fallbacks"] for r in runs),
            })  # fmt: skip
    load_after = os.getloadavg()[0]
    print_table(f"control workers on one Redis {args.redis} (median of {args.runs} runs; batch_size "
                f"{args.batch_size}; {os.cpu_count()} cores, load average {load_before:.1f} before, "
                f"{load_after:.1f} after)", rows)  # fmt: skip
    print("\ntargets: >= 2,000 decisions/s (several processes allowed); p99 decision latency <= 20 ms")
    if args.json:
        print(json.dumps({"benchmark": "bench_control", "batch_size": args.batch_size, "load_before": load_before,
                          "load_after": load_after, "rows": rows}))  # fmt: skip


if __name__ == "__main__":
    main()
