"""The control worker's live store: partitioned event queues, device states, commands, dead letters.

``open_live_store(url)`` returns a :class:`LiveStore` for ``redis://`` / ``rediss://`` URLs
(fleets: several workers on several hosts share the load) or ``memory://`` (one process:
``skynet control worker --embedded``). The contract, how partitions, leases and fenced
commits keep each device's events in order, and how another consumer group (the ingester)
reads every event at its own pace, is in :mod:`skynet.storage.live._base`.
"""

from __future__ import annotations

from collections.abc import Callable

from skynet.storage._registry import builder_for
from skynet.storage.live._base import DEFAULT_PARTITIONS, WORKERS, DeadLetter, Entry, LiveStore, partition_of

__all__ = [
    "LiveStore",
    "Entry",
    "DeadLetter",
    "DEFAULT_PARTITIONS",
    "WORKERS",
    "partition_of",
    "open_live_store",
    "live_store_schemes",
]


def _redis(url: str, **options: object) -> LiveStore:
    from skynet.storage.live._redis import RedisLiveStore

    return RedisLiveStore(url, **options)  # type: ignore[arg-type]


def _memory(url: str, **options: object) -> LiveStore:
    from skynet.storage.live._memory import MemoryLiveStore

    return MemoryLiveStore(url, partitions=options.get("partitions"))  # type: ignore[arg-type]


_BUILDERS: dict[str, Callable[..., LiveStore]] = {"redis": _redis, "rediss": _redis, "memory": _memory}


def live_store_schemes() -> list[str]:
    """The URL schemes :func:`open_live_store` knows."""
    return sorted(_BUILDERS)


def open_live_store(url: str, **options: object) -> LiveStore:
    """Open the live store a URL names.

    Args:
        url: e.g. ``redis://127.0.0.1:6379/0?namespace=skynet``, ``memory://``.
        **options: adapter options (``partitions``; ``namespace`` for Redis).

    Raises:
        StorageError: the scheme is unknown (the message lists the known ones), the driver is
            missing or the server cannot be reached.
    """
    return builder_for(url, _BUILDERS, "live")(url, **options)
