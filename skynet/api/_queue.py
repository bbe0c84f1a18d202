"""The Celery configuration skynet's workers and the commands that queue tasks share.

Tasks are named, not imported: the search command queues ``skynet.collect_data`` ->
``skynet.training`` -> ``skynet.save_result`` by name through a client app built here, and the
workers' app (:mod:`skynet.tasks`, the layer above) registers the tasks under those names on
an app built from the same :func:`celery_config`. So ``skynet.api`` never imports the
workers' code, and both sides agree on the broker, queues and delivery guarantees:

- one direct exchange ``skynet`` with the seed's three queues (``collect_data``, ``training``,
  ``save_result``), durable, messages persistent; RabbitMQ confirms each publish, so a task
  the command says it queued survives a broker restart;
- late acks, prefetch 1 and ``task_reject_on_worker_lost``: a task whose worker dies is
  redelivered to another one (every step is idempotent, see :mod:`skynet.api.search`);
- JSON messages only, no result backend (results go to the experiment store);
- publishing retries for about a minute, so a broker restart is waited out.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from skynet.config import Settings, masked
from skynet.errors import ConfigError, StorageError

if TYPE_CHECKING:
    from celery import Celery

__all__ = ["QUEUES", "TASKS", "broker_url", "celery_config", "celery_app", "client", "check_broker"]

#: The seed's queues, in the order a point goes through them.
QUEUES = ("collect_data", "training", "save_result")
#: Task names and the queue each one goes to (the best point's final training is training too).
TASKS = {
    "skynet.collect_data": "collect_data",
    "skynet.training": "training",
    "skynet.save_result": "save_result",
    "skynet.finish_search": "training",
}
#: Broker URL schemes; ``memory://`` is kombu's in-process transport (one process: tests).
_SCHEMES = ("amqp", "amqps", "pyamqp", "redis", "rediss", "memory")
_CLIENTS: dict[str, Celery] = {}
_LOCK = threading.Lock()


def broker_url(settings: Settings) -> str:
    """``train.broker_url``, or ``storage.live_url`` when that is Redis.

    Raises:
        ConfigError: neither names a broker (the message says what to set).
    """
    url = settings.path(settings.train.broker_url) or settings.path(settings.storage.live_url)
    where = (
        "train.broker_url" if settings.train.broker_url else "storage.live_url (train.broker_url is empty)"
    )
    if not url:
        raise ConfigError("train.broker_url is empty and there is no Redis storage.live_url: set train.broker_url "
                          "(amqp://USER:PASSWORD@HOST:5672/VHOST for RabbitMQ, or redis://HOST:6379/DB)")  # fmt: skip
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in _SCHEMES:
        raise ConfigError(f"{where} is {masked(url)!r}: a Celery broker is amqp:// (RabbitMQ) or redis:// "
                          f"(known schemes: {', '.join(_SCHEMES)})")  # fmt: skip
    return url


def celery_config(settings: Settings) -> dict[str, Any]:
    """The Celery settings of skynet's app (workers and clients alike)."""
    from kombu import Exchange, Queue

    url = broker_url(settings)
    exchange = Exchange("skynet", type="direct", durable=True)
    redis = url.startswith(("redis://", "rediss://"))
    return {
        "broker_url": url,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,  # a worker waits out a broker restart, however long
        "broker_connection_timeout": 10.0,
        # RabbitMQ acknowledges each publish once it holds the message (publisher confirms);
        # Redis redelivers a task not acked within the visibility timeout (a point may run
        # that long; a redelivered one finds its result stored and stops)
        "broker_transport_options": {"visibility_timeout": 3600} if redis else {"confirm_publish": True},
        "task_queues": [Queue(name, exchange, routing_key=name, durable=True) for name in QUEUES],
        "task_routes": {task: {"queue": queue, "routing_key": queue} for task, queue in TASKS.items()},
        "task_default_queue": "training",
        "task_default_exchange": "skynet",
        "task_default_routing_key": "training",
        "task_create_missing_queues": False,
        "task_default_delivery_mode": "persistent",
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        "task_ignore_result": True,
        "result_backend": None,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        # tasks running when the broker goes away finish; their redelivered copies find the result stored
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "worker_send_task_events": False,
        "task_publish_retry": True,
        "task_publish_retry_policy": {"max_retries": 40, "interval_start": 0.2, "interval_step": 0.5,
                                      "interval_max": 2.0},  # fmt: skip
        "enable_utc": True,
        "timezone": "UTC",
    }


def celery_app(settings: Settings, main: str = "skynet") -> Celery:
    """A new Celery app configured from the settings (the workers register their tasks on it).

    Raises:
        ConfigError: no broker is configured; celery is not installed.
    """
    try:
        from celery import Celery
    except ImportError:
        raise ConfigError("the search needs Celery: pip install 'skynet[celery]'") from None
    app = Celery(main, set_as_current=False)
    app.config_from_object(celery_config(settings))
    return app


def client(settings: Settings) -> Celery:
    """The Celery app this process queues tasks with (one per broker URL)."""
    url = broker_url(settings)
    with _LOCK:
        if url not in _CLIENTS:
            _CLIENTS[url] = celery_app(settings, "skynet-client")
        return _CLIENTS[url]


def check_broker(app: Celery) -> None:
    """Connect to the broker once (10 s at most).

    Raises:
        StorageError: it cannot be reached; the message names the (password-masked) URL.
    """
    url = str(app.conf.broker_url)
    adapter = f"broker[{url.split('://', 1)[0]}]"
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=10)
    except Exception as exc:  # noqa: BLE001 - kombu, amqp and redis raise their own kinds
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StorageError(adapter, f"cannot reach {masked(url)}: {masked(reason)}") from None
