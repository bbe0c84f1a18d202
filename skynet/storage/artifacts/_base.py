"""The artifact store contract: one folder of files per model version, by name.

A model's artifact is its folder (``manifest.json`` and ``model.npz``, see
:mod:`skynet.models._base`); the store keeps it under the version's name and says where with a
URI (``file:///srv/models/NAME``, ``s3://bucket/prefix/NAME``). Storage never imports models: the
store moves files and checks the digest it is given, the models check what the files mean.

:meth:`ArtifactStore.local_copy` gives a folder on this host holding a version's files: a
folder store answers with the folder itself (nothing is copied; the caller verifies it, so a
broken model is reported as the models see it); a remote store downloads into the host's cache
(:class:`~skynet.storage.artifacts.ArtifactCache`), one folder per sha256, and refuses a
download whose file does not have the expected sha256, so the cache only ever holds verified
artifacts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

__all__ = ["ArtifactStore"]


class ArtifactStore(ABC):
    """Model artifacts by version name, chosen by location (see :func:`open_artifact_store`)."""

    #: Short adapter name used in error messages, e.g. ``"artifacts[s3]"``.
    name: str = "artifacts"
    #: Where the store is: a folder path or ``s3://bucket/prefix``.
    location: str = ""

    @abstractmethod
    def uri(self, name: str) -> str:
        """The URI of version ``name``'s artifact in this store."""

    @abstractmethod
    def put(self, name: str, folder: Path) -> str:
        """Store every file of ``folder`` as version ``name`` (replacing it whole); return its URI."""

    @abstractmethod
    def local_copy(self, name: str, sha256: str, file: str) -> Path:
        """A folder on this host holding version ``name``'s files (see the module docstring).

        Args:
            name: the version.
            sha256: the digest ``file`` must have (checked on download by remote stores).
            file: the file the digest is of (``model.npz``).

        Raises:
            StorageError: the artifact is missing, cannot be fetched, or does not match ``sha256``.
        """

    @abstractmethod
    def delete(self, name: str) -> bool:
        """Remove version ``name``'s files; False when there were none."""

    @abstractmethod
    def names(self) -> list[str]:
        """Names of the versions the store holds files of, sorted."""

    def describe(self) -> dict[str, Any]:
        """The adapter, its location and how many artifacts it holds."""
        return {"adapter": self.name, "location": self.location, "artifacts": len(self.names())}
