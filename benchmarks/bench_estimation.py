"""Benchmark: scoring candidate AC commands with the estimation model, batched against naive.

    python benchmarks/bench_estimation.py [--runs 5] [--calls 500] [--candidates 40]

A model is trained first on simulated homes (``skynet.sim``; a few seconds). Then, for room
states drawn from the same homes and ``--candidates`` candidate commands (off, cool / heat /
dry / fan / auto at set points 16-30 °C and every fan speed, as a controller would send), one
decision's forecasts are timed four ways, in the same run:

* **batched fast path** — ONE ``predict_candidates(state, commands)`` call (numpy only): the
  product path of the controller;
* **batched DataFrame** — ONE ``predict(frame)`` call on a frame of the candidates (building
  the frame included);
* **naive DataFrame** — one ``predict(frame)`` call per candidate (a one-row frame each);
* **naive fast path** — one ``predict_candidates`` call per candidate.

Each path runs ``--calls`` decisions per run; p50 / p99 per decision are the medians over
``--runs`` runs. Target (issue 4's controller): ≥ 2,000 decisions/s, i.e. well under 0.5 ms
for the batched call. CPU seconds and the load average are printed too: on a shared machine
the wall time measures the neighbours as much as the code.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table  # noqa: E402

from skynet.data import estimation_frame  # noqa: E402
from skynet.domain import AC_MODES, FAN_SPEEDS  # noqa: E402
from skynet.models.estimation import EstimationModel  # noqa: E402
from skynet.sim import simulate_fleet  # noqa: E402


def train(homes: int, days: float, seed: int) -> tuple[EstimationModel, pd.DataFrame, float]:
    started = time.perf_counter()
    sim = simulate_fleet(homes, days, seed=seed, climate="hot-humid", keep_truth=False)
    frame = estimation_frame(
        *(sim.frame(k) for k in ("sensor_reading", "appliance_state", "weather", "device"))
    )
    model = EstimationModel(epochs=20, random_state=seed).fit(frame)
    return model, frame, time.perf_counter() - started


def candidates(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` commands: off first, then a spread of modes, set points and fans."""
    grid = [(1.0, m, t, f) for m in range(len(AC_MODES)) for t in np.arange(16.0, 30.5, 0.5)
            for f in range(len(FAN_SPEEDS))]  # fmt: skip
    rows = [grid[i] for i in rng.choice(len(grid), n - 1, replace=False)]
    return np.array([(0.0, 0.0, 24.0, 0.0), *rows], dtype=float)


def as_frame(state: dict, commands: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame([state] * len(commands))
    frame["power"] = commands[:, 0]
    frame["mode"] = np.array(AC_MODES, dtype=object)[commands[:, 1].astype(int)]
    frame["set_temperature"] = commands[:, 2]
    frame["fan"] = np.array(FAN_SPEEDS, dtype=object)[commands[:, 3].astype(int)]
    frame["ac_minutes"] = 0.0
    return frame


def paths(model: EstimationModel) -> dict:
    def fast(state, commands):
        return model.predict_candidates(state, commands)

    def frame_once(state, commands):
        return model.predict(as_frame(state, commands))

    def frame_each(state, commands):
        return [model.predict(as_frame(state, commands[i : i + 1])) for i in range(len(commands))]

    def fast_each(state, commands):
        return [model.predict_candidates(state, commands[i : i + 1]) for i in range(len(commands))]

    return {"batched fast path (1 call)": fast, "batched DataFrame (1 call)": frame_once,
            "naive DataFrame (1 call per candidate)": frame_each,
            "naive fast path (1 call per candidate)": fast_each}  # fmt: skip


def run(model: EstimationModel, states: list[dict], commands: np.ndarray, calls: int) -> dict[str, tuple]:
    out = {}
    for name, fn in paths(model).items():
        n = calls if "naive DataFrame" not in name else max(20, calls // 10)  # the slow one: fewer calls
        times = np.empty(n)
        cpu = time.process_time()
        for i in range(n):
            state = states[i % len(states)]
            started = time.perf_counter()
            fn(state, commands)
            times[i] = time.perf_counter() - started
        out[name] = (
            np.percentile(times, 50) * 1e3,
            np.percentile(times, 99) * 1e3,
            (time.process_time() - cpu) / n,
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=500, help="decisions per path and run")
    parser.add_argument("--candidates", type=int, default=40)
    parser.add_argument("--homes", type=int, default=12)
    parser.add_argument("--days", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    model, frame, seconds = train(args.homes, args.days, args.seed)
    print(f"trained on {len(frame)} rows of {args.homes} simulated homes x {args.days:g} days in {seconds:.1f} s "
          f"({model.training_['epochs']} epochs)")  # fmt: skip
    rng = np.random.default_rng(args.seed)
    states = [row.to_dict() for _, row in frame.sample(200, random_state=args.seed).iterrows()]
    commands = candidates(args.candidates, rng)
    check = model.predict(as_frame(states[0], commands)).to_numpy()
    fast = model.predict_candidates(states[0], commands)
    assert np.allclose(
        check, np.hstack([fast.temperature, fast.humidity])
    ), "fast path differs from predict()"
    for fn in paths(model).values():  # warm up caches and lazy imports
        fn(states[0], commands)

    results = [run(model, states, commands, args.calls) for _ in range(args.runs)]
    base = statistics.median(r["batched fast path (1 call)"][0] for r in results)
    rows = []
    for name in results[0]:
        p50 = statistics.median(r[name][0] for r in results)
        p99 = statistics.median(r[name][1] for r in results)
        cpu = statistics.median(r[name][2] for r in results) * 1e3
        rows.append({"path": name, "p50 ms": f"{p50:.3f}", "p99 ms": f"{p99:.3f}", "cpu ms/decision": f"{cpu:.3f}",
                     "decisions/s (1/p50)": f"{1e3 / p50:,.0f}", "x fast path": f"{p50 / base:.1f}"})  # fmt: skip
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print_table(f"{args.candidates} candidate commands per decision; median of {args.runs} runs x {args.calls} "
                f"decisions (naive DataFrame: {max(20, args.calls // 10)}); load average {load}", rows)  # fmt: skip


if __name__ == "__main__":
    main()
