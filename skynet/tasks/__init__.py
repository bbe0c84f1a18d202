"""skynet's Celery app: the workers of distributed training and hyper-parameter search.

``skynet train worker`` (:func:`run_worker`) starts a worker on the broker of
``train.broker_url`` (RabbitMQ or Redis) consuming the seed's queues ``collect_data``,
``training`` and ``save_result`` with prefetch 1, late acks and fair scheduling; it is the
seed's ``celery -A app worker -Q collect_data,training,save_result -O fair --hostname NAME
--concurrency $CELERY_CONCURRENCY``. ``celery -A skynet.tasks worker ...`` works too (the app
is then built from ``$SKYNET_CONFIG``).

Like the CLI, this is a top layer: tasks parse a message and call :mod:`skynet.api.search`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from skynet.config import Settings
from skynet.errors import ConfigError, brief
from skynet.tasks._app import create_app

if TYPE_CHECKING:
    from celery import Celery

__all__ = ["create_app", "run_worker", "worker_options", "DEFAULT_HOSTNAME"]

#: The worker's node name unless ``--hostname`` says otherwise (``%h``: this host's name).
DEFAULT_HOSTNAME = "train-worker@%h"


def worker_options(
    settings: Settings,
    queues: Sequence[str] | None = None,
    concurrency: int | None = None,
    hostname: str | None = None,
) -> dict[str, Any]:
    """The checked worker options: ``queues``, ``concurrency`` (processes), ``threads`` (per
    process: its share of the cores) and ``hostname`` (node name, ``%h`` expanded).

    Raises:
        ConfigError: an unknown queue, or a concurrency below 1.
    """
    from celery.utils.nodenames import default_nodename, host_format

    from skynet.api.search import QUEUES

    names = [q.strip() for q in (queues or settings.train.queues.split(",")) if q.strip()]
    unknown = [q for q in names if q not in QUEUES]
    if unknown or not names:
        raise ConfigError(
            f"unknown queue {brief(unknown[0] if unknown else '')} (skynet's queues: {', '.join(QUEUES)})"
        )
    cores = os.cpu_count() or 1
    processes = settings.train.concurrency if concurrency is None else concurrency
    if processes < 0:
        raise ConfigError(f"--concurrency must be 1 or more (0: one per core), not {processes}")
    processes = processes or cores
    return {"queues": names, "concurrency": processes, "threads": max(1, cores // processes),
            "hostname": host_format(default_nodename(hostname or DEFAULT_HOSTNAME))}  # fmt: skip


def run_worker(
    settings: Settings,
    queues: Sequence[str] | None = None,
    concurrency: int | None = None,
    hostname: str | None = None,
    loglevel: str = "INFO",
) -> int:
    """Run a Celery worker until it is stopped (SIGTERM: warm shutdown, running tasks finish).

    Prefetch 1, late acks and fair scheduling (each process takes one task at a time; a task
    is acknowledged when it ends, so one whose worker dies is redelivered).

    Returns:
        The worker's exit code.

    Raises:
        ConfigError: no broker, an unknown queue, a bad concurrency.
    """
    options = worker_options(settings, queues, concurrency, hostname)
    app = create_app(settings, threads=options["threads"])
    worker = app.Worker(hostname=options["hostname"], concurrency=options["concurrency"],
                        queues=options["queues"], optimization="fair", prefetch_multiplier=1, pool_cls="prefork",
                        loglevel=loglevel, without_mingle=True, without_gossip=True)  # fmt: skip
    worker.start()
    return int(worker.exitcode or 0)


_APP: dict[str, Celery] = {}


def __getattr__(name: str) -> Any:
    """``skynet.tasks.app``: the app for ``celery -A skynet.tasks`` (settings from ``$SKYNET_CONFIG``)."""
    if name in ("app", "celery"):
        if "app" not in _APP:
            from skynet.config import load_settings

            _APP["app"] = create_app(load_settings())
        return _APP["app"]
    raise AttributeError(f"module 'skynet.tasks' has no attribute {name!r}")
