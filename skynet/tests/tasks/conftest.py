"""Fixtures for the Celery tests: real ``skynet train worker`` processes on a real broker.

``broker`` is the RabbitMQ test broker (``SKYNET_TEST_AMQP_URL``; a vhost of its own keeps
parallel runs apart), with skynet's queues purged before and after each test. ``workers``
starts worker subprocesses (each in its own process group, so a SIGKILL takes its pool
along) on a shared data directory: the search metadata, registry and data sets are its SQLite
database and folders. Every process is killed when the test ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skynet.tests.api.conftest import recorded  # noqa: F401 - the api tests' recorded search, for test_app
from skynet.tests.conftest import amqp_server
from skynet.tests.worker.conftest import wait_for

__all__ = ["QUICK", "grid_file", "votes_file", "wait_for", "purge", "Workers"]

#: Tiny user-model points: a 3-fold cross-validation of one takes about a second.
QUICK = {"max_iter": 10, "min_samples_leaf": 10, "calibration_folds": 2}


def grid_file(path: Path, params: dict[str, Any], fixed: dict[str, Any] | None = None, **top: Any) -> Path:
    """A grid.yml with ``params`` (lists), ``fixed`` (default: :data:`QUICK` but what is searched) and top-level keys."""
    import yaml

    fixed = {k: v for k, v in QUICK.items() if k not in params} if fixed is None else fixed
    path.write_text(yaml.safe_dump({"folds": 3, **top, "params": params, "fixed": fixed}))
    return path


def votes_file(path: Path, n: int = 600, devices: int = 9, seed: int = 0) -> Path:
    """A parquet comfort frame of ``n`` synthetic votes (the search's --dataset)."""
    from skynet.models.user_model import sample_data

    sample_data(n, seed=seed, n_devices=devices).to_parquet(path, index=False)
    return path


class Workers:
    """``skynet train worker`` subprocesses sharing one data directory and broker."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.data_dir, self.env = data_dir, env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, concurrency: int = 1, queues: str | None = None) -> subprocess.Popen[bytes]:
        log = open(self.data_dir / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        argv = [sys.executable, "-m", "skynet", "train", "worker", "--hostname", f"{name}@%h", "--concurrency",
                str(concurrency), "--loglevel", "INFO", *(["--queues", queues] if queues else [])]  # fmt: skip
        proc = subprocess.Popen(
            argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs[name] = proc
        return proc

    def node(self, name: str) -> str:
        import socket

        return f"{name}@{socket.gethostname()}"

    def wait_ready(self, name: str, timeout: float = 60.0) -> None:
        """Until the worker's log says it is ready (or fail, showing the log)."""

        def ready() -> bool:
            if self.procs[name].poll() is not None:
                pytest.fail(
                    f"worker {name} exited with {self.procs[name].returncode}:\n{self.log(name)[-3000:]}"
                )
            return " ready." in self.log(name)

        wait_for(ready, timeout, f"worker {name} to be ready")

    def log(self, name: str) -> str:
        return (self.data_dir / f"{name}.log").read_text(errors="replace")

    def kill(self, name: str) -> None:
        """SIGKILL the worker and its pool processes (its process group)."""
        proc = self.procs[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def close(self) -> None:
        for name in self.procs:
            self.kill(name)


@pytest.fixture
def broker() -> str:
    """The RabbitMQ test broker's URL (skip, or fail where CI is set, when it is down)."""
    return amqp_server()


def purge(settings: Any) -> None:
    """Drop what an earlier test left in skynet's queues (on a new connection: the broker may
    have been restarted since the pooled ones were made)."""
    from skynet.api._queue import client

    app = client(settings)
    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=5)
        app.control.purge(connection=connection)


@pytest.fixture
def search_env(data_dir: Path, broker: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The environment of this test's workers and its own commands: the data directory and the broker."""
    from skynet.config import load_settings

    monkeypatch.setenv("SKYNET_TRAIN_BROKER_URL", broker)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYNET_") or k.startswith("SKYNET_TEST_")}
    env.update(SKYNET_GENERAL_DATA_DIR=str(data_dir), SKYNET_TRAIN_BROKER_URL=broker, PYTHONUNBUFFERED="1")
    data_dir.mkdir(parents=True, exist_ok=True)
    purge(load_settings(None))
    yield env
    purge(load_settings(None))


@pytest.fixture
def workers(data_dir: Path, search_env: dict[str, str]) -> Iterator[Workers]:
    procs = Workers(data_dir, search_env)
    try:
        yield procs
    finally:
        procs.close()


@pytest.fixture
def runner(data_dir: Path) -> Any:
    """A CliRunner (stdout and stderr apart) on this test's data directory."""
    from click.testing import CliRunner

    return CliRunner()


@pytest.fixture
def cli() -> Any:
    from skynet.cli import cli as root

    return root
