"""``skynet train``: Celery workers for distributed training and hyper-parameter search."""

from __future__ import annotations

import sys

import click

from skynet.cli.options import echo_json, settings

__all__ = ["train"]


@click.group("train")
def train() -> None:
    """Celery workers for distributed training and hyper-parameter search (train.broker_url)."""


@train.command()
@click.option(
    "--queues",
    "-Q",
    default=None,
    help="Comma-separated queues to consume [default: train.queues: collect_data,training,save_result].",
)
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(0),
    default=None,
    help="Worker processes (the seed's CELERY_CONCURRENCY) [default: train.concurrency; 0: one per core].",
)
@click.option("--hostname", "-n", default=None, help="Node name (%h: this host) [default: train-worker@%h].")
@click.option("--loglevel", "-l", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False), help="Log level.")  # fmt: skip
def worker(queues: str | None, concurrency: int | None, hostname: str | None, loglevel: str) -> None:
    """Run a Celery worker: prefetch 1, late acks, fair scheduling; SIGTERM finishes running tasks.

    The seed's `celery -A app worker -Q ... -O fair --hostname ... --concurrency N`.
    """
    from skynet.tasks import run_worker

    names = queues.split(",") if queues else None
    sys.exit(run_worker(settings(), names, concurrency, hostname, loglevel.upper()))


@train.command()
@click.option(
    "--hostname", "-n", default=None, help="Only this worker (its node name, e.g. train-worker@host-1)."
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.1),
    default=3.0,
    show_default=True,
    help="Seconds to wait for answers.",
)
def health(hostname: str | None, timeout: float) -> None:
    """Exit 0 when workers (or the one named) answer a ping through the broker; print them as JSON."""
    from skynet.api.search import worker_health

    workers = worker_health(settings(), hostname, timeout)
    echo_json(workers)
    if not workers:
        click.echo(
            f"no worker answered{f' as {hostname}' if hostname else ''} within {timeout:g} s", err=True
        )
        sys.exit(1)
