"""Worker fixtures: event streams of a few devices, and real worker processes on a real Redis.

``worker_procs`` starts ``python -m skynet control worker`` processes sharing one Redis
namespace (``redis_url``) and one SQLite decision log, and kills what is left at the end.
Without models the controller's thermostat decides, which is all these tests need: they check
delivery, order and idempotence, not the decisions' quality.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from skynet.worker import make_event

T0 = datetime(2025, 7, 1, 12, 0)
LEASE_MS = 1500


def device_events(device: str, readings: int, start: datetime = T0) -> list[tuple[str, str]]:
    """A comfort target, then ``readings`` readings a minute apart: ``(device, event JSON)``."""
    events = [(device, make_event(device, "target", time=start, event_id=f"{device}-t", mode="comfort"))]
    for i in range(readings):
        at = start + timedelta(minutes=i + 1)
        text = make_event(device, "reading", time=at, event_id=f"{device}-r{i}", temperature=24.0 + (i % 10) * 0.5,
                          humidity=50.0, outdoor_temperature=32.0, outdoor_humidity=60.0)  # fmt: skip
        events.append((device, text))
    return events


def interleave(streams: list[list[tuple[str, str]]]) -> list[tuple[str, str]]:
    """Round-robin over the devices' streams, each stream's order kept."""
    out = []
    for i in range(max(len(s) for s in streams)):
        out += [s[i] for s in streams if i < len(s)]
    return out


def wait_for(condition, timeout: float, what: str, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class WorkerProcs:
    """Start and stop worker processes sharing ``live_url`` and ``decisions_url``."""

    def __init__(self, live_url: str, decisions_url: str, data_dir: Path) -> None:
        self.live_url, self.decisions_url, self.data_dir = live_url, decisions_url, data_dir
        self.procs: dict[str, subprocess.Popen] = {}

    def env(self) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith("SKYNET_") or k.startswith("SKYNET_TEST_")
        }
        env.update(
            SKYNET_GENERAL_DATA_DIR=str(self.data_dir),
            SKYNET_STORAGE_LIVE_URL=self.live_url,
            SKYNET_STORAGE_DECISIONS_URL=self.decisions_url,
            SKYNET_GENERAL_LOG_LEVEL="WARNING",
        )
        return env

    def start(self, name: str, batch: int = 32, **env: str) -> subprocess.Popen:
        """Start worker ``name``; ``env``: more variables (``SKYNET_MODELS_WORKER_POLL_S="1"``)."""
        log = open(self.data_dir / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "skynet", "control", "worker", "--consumer", name, "--batch", str(batch),
             "--lease-ms", str(LEASE_MS)],  # fmt: skip
            env={**self.env(), **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs[name] = proc
        return proc

    def output(self, name: str) -> str:
        return (self.data_dir / f"{name}.log").read_text()

    def signal(self, name: str, sig: int) -> None:
        self.procs[name].send_signal(sig)

    def wait(self, name: str, timeout: float = 30.0) -> int:
        return self.procs[name].wait(timeout)

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)


@pytest.fixture
def worker_procs(redis_url, tmp_path):
    """Worker processes on a fresh Redis namespace and SQLite decision log (killed at the end)."""
    data = tmp_path / "data"
    data.mkdir()
    procs = WorkerProcs(redis_url, f"sqlite:///{tmp_path / 'decisions.db'}", data)
    yield procs
    procs.close()


@pytest.fixture
def streams():
    """``streams(devices, readings)``: every device's events, interleaved round-robin."""

    def make(devices: list[str], readings: int) -> list[tuple[str, str]]:
        return interleave([device_events(d, readings) for d in devices])

    return make


@pytest.fixture(name="wait_for")
def wait_for_fixture():
    """``wait_for(condition, timeout, what)``: poll until true, or fail saying what was awaited."""
    return wait_for
