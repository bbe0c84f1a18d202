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
]


class SkynetError(Exception):
    """Base class of the errors skynet reports to its user."""


class ConfigError(SkynetError):
    """The configuration file or an environment override is wrong."""


class StorageError(SkynetError):
    """A storage adapter failed; the message names the adapter and the operation."""

    def __init__(self, adapter: str, message: str) -> None:
        self.adapter = adapter
        super().__init__(f"{adapter}: {message}")


class ModelError(SkynetError):
    """A model could not be trained, loaded or used."""


class NotFittedError(ModelError, ValueError):
    """A model was used before ``fit``."""


class DataError(SkynetError, ValueError):
    """Input data is malformed; the message says what and where."""


class DeployError(SkynetError):
    """A build, release or service restart failed; the message names the host and the step."""
