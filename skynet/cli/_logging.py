"""Logging of a ``skynet`` command: ``general.log_level`` and ``general.log_format`` applied at start.

skynet's loggers (``skynet.*``) log at ``general.log_level``; other libraries' loggers (SQLAlchemy,
Alembic, drivers) at WARNING or above, so INFO shows skynet's own story. ``--debug`` shows
everything. Lines go to stderr (the stream of the moment, so a test runner's capture works) as
text, or as one JSON object a line for log collectors (``--log-format json`` or
``general.log_format: json``), written by :class:`JsonFormatter`: the standard library, no
dependency, because the fields a collector needs are few and fixed.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from skynet.config import LOG_LEVELS
from skynet.errors import ConfigError, brief

__all__ = ["configure_logging", "JsonFormatter", "TEXT_FORMAT"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: The attributes every LogRecord has; the others came with ``extra=`` and are kept.
_STANDARD = {*vars(logging.LogRecord("", 0, "", 0, "", None, None)), "message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``time`` (UTC, ISO 8601 with milliseconds), ``level``, ``logger``,
    ``message``, ``pid``, the ``exception`` traceback where there is one, and ``extra=`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        out.update({k: v for k, v in vars(record).items() if k not in _STANDARD and k not in out})
        return json.dumps(out, default=str)  # ASCII: a lone surrogate in a message cannot break the line


class _Stderr(logging.StreamHandler):
    """A handler writing to whatever ``sys.stderr`` is when a record is emitted."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _level(name: str) -> int:
    if str(name).upper() not in LOG_LEVELS:
        raise ConfigError(f"general.log_level must be one of {', '.join(LOG_LEVELS)}, not {brief(name)}")
    return int(logging.getLevelName(str(name).upper()))


def configure_logging(level: str, fmt: str, debug: bool = False) -> Callable[[], None]:
    """Send log records to stderr as ``fmt`` (``text`` / ``json``), skynet's from ``level`` on.

    Args:
        level: ``general.log_level`` (DEBUG … CRITICAL, any case).
        fmt: ``text`` or ``json``.
        debug: every logger at DEBUG (``--debug`` wins over ``level``).

    Returns:
        A function that puts logging back as it was (the CLI calls it when the command ends).

    Raises:
        ConfigError: an unknown level.
    """
    wanted = logging.DEBUG if debug else _level(level)
    root, ours = logging.getLogger(), logging.getLogger("skynet")
    before = (root.level, ours.level)
    handler = _Stderr()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(wanted if debug else max(wanted, logging.WARNING))
    ours.setLevel(wanted)

    def restore() -> None:
        root.removeHandler(handler)
        root.setLevel(before[0])
        ours.setLevel(before[1])

    return restore
