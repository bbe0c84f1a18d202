"""skynet's Celery tasks: each parses its message and calls one :mod:`skynet.api.search` step.

A point is the chain ``collect_data -> training -> save_result`` (queued by
:func:`skynet.api.search.start_search`); the last point to end queues ``finish_search``.
Failures: a step that raises is retried with a growing delay; a point is marked failed with
its error once it was tried :data:`~skynet.api.search.MAX_ATTEMPTS` times (its ``attempts``
count in ``grid_search_parameter``, which also counts attempts whose worker died, so a point
that kills its worker, out of memory say, cannot loop forever), and the search goes on.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from skynet.api import search
from skynet.config import Settings

if TYPE_CHECKING:
    from celery import Celery, Task

__all__ = ["create_app", "RETRY_DELAY"]

log = logging.getLogger("skynet.tasks")
#: Seconds before the first retry of a failed step (then twice that, ...).
RETRY_DELAY = 1.0
#: Retries of a step whose store or broker failed (not the point itself): about 15 minutes.
_STORE_RETRIES = 20
_ERROR = 1500


def _text(exc: BaseException) -> str:
    """An exception as one line for the metadata store (its type and message, cut)."""
    message = " ".join(str(exc).split())
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text if len(text) <= _ERROR else f"{text[:_ERROR]}…"


def _later(task: Task, exc: Exception) -> Exception:
    """A retry of ``task`` after a failure of the store or broker itself (not of the point):
    1, 2, 4, ... 60 s apart, about 15 minutes in all; after that the task fails and its point
    stays as it was (``skynet experiments show`` lists it)."""
    retries = int(task.request.retries)
    if retries >= _STORE_RETRIES:
        log.error("%s gave up after %d retries: %s", task.name, retries, _text(exc))
        raise exc
    return task.retry(exc=exc, countdown=min(60.0, 2.0**retries), max_retries=_STORE_RETRIES)


def _finish_if_last(app: Celery, settings: Settings, search_id: str, task: Task) -> None:
    """A point ended: queue a TPE search's next points, or the search's finish when this caller
    ended its last point (exactly one caller claims it). A task run again (retried, redelivered) whose search is already finishing
    queues it again: its first run may have claimed the finish and failed to queue it. The
    finish is idempotent, so a second one costs time, never a second result."""
    planned = search.plan_points(settings, search_id)  # a TPE search's next points, if due
    if planned:
        log.info("search %s: TPE planned points %s", search_id, planned)
        search.queue_points(app, search_id, planned)
        return
    again = int(task.request.retries or 0) > 0 or bool((task.request.delivery_info or {}).get("redelivered"))
    if search.claim_finish(settings, search_id) or (
        again and search.search_status(settings, search_id) == "finishing"
    ):
        log.info("search %s: every point ended, queueing its finish", search_id)
        app.send_task("skynet.finish_search", args=(search_id,))


def create_app(settings: Settings, threads: int | None = None) -> Celery:
    """skynet's Celery app with its tasks registered (the workers run it).

    Args:
        settings: the worker's configuration (broker, stores, models).
        threads: BLAS/OpenMP threads per task (the worker gives each process its share of the cores).
    """
    from celery.exceptions import Ignore

    app = search.celery_app(settings)
    # shared=False below: each app keeps its own tasks (Celery would otherwise hand the first
    # app's tasks, and so its settings, to every app made later in the same process)

    def retry_or_fail(task: Task, search_id: str, point_id: int, exc: Exception, attempts: int) -> None:
        if attempts < search.MAX_ATTEMPTS:
            log.warning("search %s point %s: attempt %d failed (%s); retrying", search_id, point_id, attempts,
                        _text(exc))  # fmt: skip
            raise task.retry(exc=exc, countdown=RETRY_DELAY * attempts)
        log.error("search %s point %s failed %d times: %s", search_id, point_id, attempts, _text(exc))
        search.fail_point(settings, search_id, point_id, f"failed {attempts} times; the last: {_text(exc)}")
        _finish_if_last(app, settings, search_id, task)
        raise Ignore()  # the chain stops here: nothing to save

    @app.task(name="skynet.collect_data", bind=True, shared=False, max_retries=None)
    def collect_data(self: Task, search_id: str, point_id: int) -> int:
        """Make sure this host has the search's data slice (its hash checked)."""
        try:
            return search.prepare_point(settings, search_id)
        except Exception as exc:  # noqa: BLE001 - any failure is retried, then recorded
            retry_or_fail(self, search_id, point_id, exc, self.request.retries + 1)
            raise  # not reached: retry_or_fail raises

    # resultrepr_maxsize: the worker logs a glimpse of a point's metrics, not every fold's
    @app.task(name="skynet.training", bind=True, shared=False, max_retries=None, resultrepr_maxsize=160)
    def training(self: Task, search_id: str, point_id: int) -> dict[str, Any]:
        """Cross-validate one point; its attempts are counted in the metadata store."""
        try:
            point = search.start_point(settings, search_id, point_id, str(self.request.hostname))
        except Exception as exc:  # noqa: BLE001 - the store is down: nothing was counted, try later
            raise _later(self, exc) from None
        if point.status == "done":
            log.info(
                "search %s point %s is done already (a redelivered task): nothing to do", search_id, point_id
            )
            raise Ignore()
        if point.attempts > search.MAX_ATTEMPTS:  # earlier attempts died with their worker
            search.fail_point(settings, search_id, point_id, f"gave up after {point.attempts - 1} attempts whose "
                              "worker died or lost its broker (killed, out of memory?)")  # fmt: skip
            _finish_if_last(app, settings, search_id, self)
            raise Ignore()
        try:
            return search.evaluate_point(settings, search_id, point_id, threads)
        except Exception as exc:  # noqa: BLE001 - any failure is retried, then recorded
            retry_or_fail(self, search_id, point_id, exc, point.attempts)
            raise  # not reached

    @app.task(name="skynet.save_result", bind=True, shared=False, max_retries=_STORE_RETRIES)
    def save_result(self: Task, payload: dict[str, Any], search_id: str, point_id: int) -> bool:
        """Store a point's metrics once; the caller that ends the last point queues the finish."""
        try:
            stored = search.save_point(settings, search_id, point_id, payload)
            _finish_if_last(app, settings, search_id, self)
        except Exception as exc:  # noqa: BLE001 - the store may be restarting: both steps are idempotent
            raise _later(self, exc) from None
        return stored

    @app.task(name="skynet.finish_search", bind=True, shared=False, max_retries=search.MAX_ATTEMPTS - 1)
    def finish_search(self: Task, search_id: str) -> str | None:
        """Train the best point on the whole slice, register it (and promote it)."""
        try:
            return search.finish_search(settings, search_id, threads)["model"]
        except Exception as exc:  # noqa: BLE001 - retried, then the search is marked failed
            if self.request.retries < search.MAX_ATTEMPTS - 1:
                raise self.retry(exc=exc, countdown=RETRY_DELAY * (self.request.retries + 1)) from None
            search.abandon_search(settings, search_id, f"training the best point failed: {_text(exc)}")
            raise Ignore() from None

    return app
