"""Application functions behind ``skynet deploy``: what a deployment asks of a build on a host."""

from __future__ import annotations

import importlib
import os
import pkgutil
import platform
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from skynet import __version__
from skynet.config import Settings

__all__ = ["check_build", "heartbeats"]

#: The libraries skynet's commands import lazily; a build missing one must fail its smoke test.
CORE_LIBRARIES = ("numpy", "pandas", "pyarrow", "sklearn", "joblib", "sqlalchemy", "alembic", "yaml",
                  "matplotlib", "pythermalcomfort", "tqdm", "click")  # fmt: skip


def check_build(settings: Settings) -> dict[str, Any]:
    """Import every ``skynet.api`` module and the core libraries (what a command would import).

    Args:
        settings: the effective settings (loading them already validated the configuration).

    Returns:
        The version, Python, imported modules and the configuration's source.

    Raises:
        ImportError: a module or library of the build is broken or missing.
    """
    import skynet.api

    modules = [info.name for info in pkgutil.iter_modules(skynet.api.__path__, "skynet.api.")]
    for name in [*modules, *CORE_LIBRARIES]:
        importlib.import_module(name)
    return {
        "version": __version__,
        "python": platform.python_version(),
        "modules": len(modules) + len(CORE_LIBRARIES),
        "config": settings.source,
    }


def heartbeats(settings: Settings, interval: float, count: int | None = None) -> Iterator[dict[str, Any]]:
    """A stand-in service: one status record every ``interval`` seconds, forever or ``count`` times.

    It lets a host's service manager and the deployment's health checks be exercised before
    the real services (the control worker) exist.
    """
    n = 0
    while count is None or n < count:
        n += 1
        yield {"beat": n, "pid": os.getpid(), "version": __version__, "config": settings.source,
               "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}  # fmt: skip
        if count is None or n < count:
            time.sleep(interval)
