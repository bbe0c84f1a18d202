"""The exceptions skynet raises on purpose.

Every error a user can cause derives from :class:`SkynetError`; the CLI prints such an error
as one line on stderr and exits non-zero (a traceback only with ``--debug``).
"""

from __future__ import annotations

__all__ = [
    "SkynetError",
    "ConfigError",
    "StorageError",
    "ModelError",
    "NotFittedError",
    "DataError",
    "DeployError",
    "brief",
    "MAX_ECHO",
]

#: The most characters of a user's value that an error message repeats.
MAX_ECHO = 200


def brief(value: object, limit: int = MAX_ECHO) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages that echo input.

    A 5 MB value in a config override or an event must not become 5 MB on stderr or in a
    dead-letter entry: the message keeps its head and says how long the whole was.
    """
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


class SkynetError(Exception):
    """Base class of the errors skynet reports to its user."""


class ConfigError(SkynetError):
    """The configuration file or an environment override is wrong."""


class StorageError(SkynetError):
    """A storage adapter failed; the message names the adapter and the operation."""

    def __init__(self, adapter: str, message: str) -> None:
        self.adapter = adapter
        self.detail = message
        super().__init__(f"{adapter}: {message}")

    def __reduce__(self) -> tuple[type[StorageError], tuple[str, str]]:
        # picklable (Dask and Celery send errors between processes): rebuilt from both parts
        return type(self), (self.adapter, self.detail)


class ModelError(SkynetError):
    """A model could not be trained, loaded or used."""


class NotFittedError(ModelError, ValueError):
    """A model was used before ``fit``."""


class DataError(SkynetError, ValueError):
    """Input data is malformed; the message says what and where."""


class DeployError(SkynetError):
    """A build, release or service restart failed; the message names the host and the step."""
