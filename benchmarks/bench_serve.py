"""Benchmark: the REST service under load on loopback, beside a naive scikit-learn service.

    python benchmarks/bench_serve.py [--seconds 5] [--runs 3] [--rate 200] [--json]

Three servers, each one uvicorn process (uvloop, httptools) on 127.0.0.1, answer the same
single-row comfort request:

- ``skynet``: ``skynet serve`` (FastAPI; pydantic checks the body, then
  :func:`skynet.api.serving.predict_comfort`: the physical range check and the user model);
- ``skynet-starlette``: the same function behind a bare Starlette route (no FastAPI, no pydantic),
  to measure what FastAPI costs;
- ``naive``: the baseline: a Starlette route that builds a one-row DataFrame and calls a
  scikit-learn ``HistGradientBoostingClassifier.predict_proba`` per request (trained on the
  same votes).

A bounded asyncio client (httpx, one connection per worker) measures requests/s and p50/p99
latency at concurrency 1, 16 and 64 (closed loop: each worker sends its next request when the
last is answered). Then the target check: paced open-loop load at ``--rate`` requests/s for
``--seconds`` (each request sent at its scheduled time whatever the others do; latency counted
from that time, so a stalled server is not hidden), target p99 <= 10 ms. Figures are medians of
``--runs``. The client runs on the same 2 cores as the server: its own time is in the figures.
The machine is shared: the load average is printed with each figure, and ``cpu_ms`` (the
server process's own CPU time per request) says what an answer costs whatever the neighbours do.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table  # noqa: E402

ROW = {"temperature": 26.0, "humidity": 50.0, "clothing": 0.5, "metabolic_rate": 1.1, "air_speed": 0.1}
BODY = json.dumps({"rows": [ROW]}).encode()
PATH = "/v1/user_model/predict"
FEATURES = ["temperature", "humidity", "clothing", "metabolic_rate", "air_speed"]
TARGET_P99_MS = 10.0


# -- the servers --------------------------------------------------------------------------------------
def _starlette_app(home: str) -> Any:
    """skynet's predict function behind a bare Starlette route."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from skynet.api.serving import ServedModels, predict_comfort
    from skynet.config import load_settings

    settings = load_settings(None, environ={"SKYNET_GENERAL_DATA_DIR": home})
    served = ServedModels(settings)
    served.refresh()

    def predict(request_body: bytes) -> JSONResponse:
        body = json.loads(request_body)
        return JSONResponse(predict_comfort(settings, served, body["rows"], body.get("device_id")))

    async def route(request: Request) -> JSONResponse:
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(predict, await request.body())

    return Starlette(routes=[Route(PATH, route, methods=["POST"])])


def _naive_app(model_path: str) -> Any:
    """The baseline: a DataFrame and a scikit-learn predict_proba per request."""
    import joblib
    import pandas as pd
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    model = joblib.load(model_path)

    def predict(request_body: bytes) -> JSONResponse:
        rows = json.loads(request_body)["rows"]
        frame = pd.DataFrame(rows).reindex(columns=FEATURES).astype(float)
        proba = model.predict_proba(frame)
        votes = np.asarray(model.classes_, dtype=float)
        out = [{"expected": float(p @ votes), **{f"p_{int(v)}": float(x) for v, x in zip(votes, p, strict=True)}}
               for p in proba]  # fmt: skip
        return JSONResponse({"model": "naive", "rows": out})

    async def route(request: Request) -> JSONResponse:
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(predict, await request.body())

    return Starlette(routes=[Route(PATH, route, methods=["POST"])])


def _serve_child(kind: str, arg: str, port: int) -> None:
    """Run one of the benchmark's own servers (a child process of this script)."""
    import uvicorn

    app = _starlette_app(arg) if kind == "skynet-starlette" else _naive_app(arg)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(command: list[str], env: dict[str, str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server {' '.join(command)} exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    sys.exit(f"server {' '.join(command)} did not listen on port {port}")


def _prepare(folder: Path, rows: int) -> tuple[str, str]:
    """A home with a registered user model (default parameters, sample votes), and the baseline
    scikit-learn model trained on the same votes; returns (home, baseline path)."""
    import joblib
    from sklearn.ensemble import HistGradientBoostingClassifier

    from skynet.api import user_model
    from skynet.config import load_settings
    from skynet.models.user_model import sample_data

    home = folder / "home"
    settings = load_settings(None, environ={"SKYNET_GENERAL_DATA_DIR": str(home)})
    votes = sample_data(rows, seed=0)
    print(f"training the served user model (default parameters) on {rows} sample votes ...", file=sys.stderr)
    user_model.train(settings, frame=votes, progress=False)
    naive = HistGradientBoostingClassifier(random_state=0).fit(
        votes[FEATURES].astype(float), votes["value"].round().astype(int)
    )
    path = folder / "naive.joblib"
    joblib.dump(naive, path)
    return str(home), str(path)


# -- the client ---------------------------------------------------------------------------------------
async def _closed(port: int, concurrency: int, seconds: float) -> dict[str, float]:
    """``concurrency`` workers, each sending its next request when the last is answered."""
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies: list[float] = []
    errors = 0
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30) as client:
        await client.post(PATH, content=BODY, headers={"content-type": "application/json"})  # warm
        end = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < end:
                started = time.perf_counter()
                answer = await client.post(PATH, content=BODY, headers={"content-type": "application/json"})
                latencies.append(time.perf_counter() - started)
                errors += answer.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return _figures(latencies, elapsed, errors)


async def _paced(port: int, rate: float, seconds: float) -> dict[str, float]:
    """Open loop: request i is sent at start + i / rate whatever the others do."""
    import httpx

    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    latencies: list[float] = []
    errors = 0
    timeout = httpx.Timeout(60.0, pool=None)  # a request waiting for a connection is late, not lost
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=timeout
    ) as client:
        for _ in range(20):  # open some connections before the clock starts
            await client.post(PATH, content=BODY, headers={"content-type": "application/json"})

        async def one(at: float) -> None:
            nonlocal errors
            await asyncio.sleep(max(at - time.perf_counter(), 0.0))
            try:
                answer = await client.post(PATH, content=BODY, headers={"content-type": "application/json"})
                errors += answer.status_code != 200
            except httpx.HTTPError:
                errors += 1
            latencies.append(time.perf_counter() - at)  # from the scheduled time: no coordinated omission

        start = time.perf_counter() + 0.2
        count = int(rate * seconds)
        await asyncio.gather(*(one(start + i / rate) for i in range(count)))
        elapsed = time.perf_counter() - start
    return _figures(latencies, elapsed, errors)


def _figures(latencies: list[float], elapsed: float, errors: int) -> dict[str, float]:
    ms = np.asarray(latencies) * 1e3
    return {
        "requests": len(ms),
        "rps": len(ms) / elapsed,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "errors": errors,
    }


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each measurement")
    parser.add_argument("--runs", type=int, default=3, help="measurements per figure (the median is shown)")
    parser.add_argument("--rate", type=float, default=200.0, help="requests/s of the paced target check")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--rows", type=int, default=3000, help="sample votes the models learn from")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of tables")
    parser.add_argument("--serve-child", nargs=3, metavar=("KIND", "ARG", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_child:
        _serve_child(args.serve_child[0], args.serve_child[1], int(args.serve_child[2]))
        return

    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        home, naive = _prepare(Path(tmp), args.rows)
        env = {**os.environ, "SKYNET_GENERAL_DATA_DIR": home, "SKYNET_SERVE_RELOAD_INTERVAL": "0"}
        servers: dict[str, tuple[int, int]] = {}
        procs = []
        try:
            for kind in ("skynet", "skynet-starlette", "naive"):
                port = _free_port()
                if kind == "skynet":
                    command = [sys.executable, "-m", "skynet", "serve", "--port", str(port)]
                else:
                    command = [sys.executable, __file__, "--serve-child", kind,
                               home if kind == "skynet-starlette" else naive, str(port)]  # fmt: skip
                procs.append(_start(command, env, port))
                servers[kind] = (port, procs[-1].pid)
            rows = _measure(servers, args)
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    target = next(r for r in rows if r["server"] == "skynet" and r["load"].startswith("paced"))
    verdict = "met" if target["p99_ms"] <= TARGET_P99_MS and not target["errors"] else "NOT met"
    if args.json:
        print(json.dumps({"benchmark": "serve", "cores": os.cpu_count(), "rows": rows, "target_p99_ms": TARGET_P99_MS,
                          "target": verdict}))  # fmt: skip
        return
    shown = [{**r, **{k: round(r[k], 2) for k in ("rps", "p50_ms", "p99_ms", "cpu_ms")}} for r in rows]
    print_table(f"single-row POST {PATH} on loopback ({os.cpu_count()} cores, medians of {args.runs} runs "
                f"of {args.seconds:g} s)", shown)  # fmt: skip
    print(
        f"\ntarget: skynet p99 <= {TARGET_P99_MS:g} ms at {args.rate:g} requests/s (paced): {verdict} "
        f"(p99 {target['p99_ms']:.2f} ms, load average {target['load_before']} -> {target['load_after']})"
    )


def _cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(servers: dict[str, tuple[int, int]], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Each load on each server; ``cpu_ms``: the server's own CPU time per request (what the
    answer costs, whatever the neighbours do to the wall time)."""
    rows = []
    loads = [(f"c={c}", lambda port, c=c: _closed(port, c, args.seconds)) for c in args.concurrency]
    loads.append((f"paced {args.rate:g}/s", lambda port: _paced(port, args.rate, args.seconds)))
    for label, load in loads:
        for kind, (port, pid) in servers.items():
            before = _load()
            runs = []
            for _ in range(args.runs):
                cpu = _cpu_seconds(pid)
                figures = asyncio.run(load(port))
                figures["cpu_ms"] = (_cpu_seconds(pid) - cpu) * 1e3 / max(figures["requests"], 1)
                runs.append(figures)
            figures = _median(runs)
            rows.append(
                {"server": kind, "load": label, **figures, "load_before": before, "load_after": _load()}
            )
            print(f"{kind:17} {label:12} {figures['rps']:8.1f} req/s  p50 {figures['p50_ms']:7.2f} ms  "
                  f"p99 {figures['p99_ms']:7.2f} ms  server CPU {figures['cpu_ms']:5.2f} ms/request  "
                  f"errors {figures['errors']:g}", file=sys.stderr)  # fmt: skip
    return rows


if __name__ == "__main__":
    main()
