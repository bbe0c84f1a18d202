"""Model artifacts by URL: a folder (the default) or ``s3://bucket/prefix``.

``open_artifact_store(location, cache=...)`` returns an :class:`ArtifactStore` for a folder
path (or a ``file://`` URL) or an ``s3://`` URL (boto3, any S3-compatible server through
``endpoint_url``); remote artifacts are cached on each host by sha256 (:class:`ArtifactCache`)
and verified on download. :func:`split_uri` turns an artifact's URI back into its store's
location and the version's name, so a version is always fetched from where it was stored.
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

from skynet.errors import StorageError
from skynet.storage.artifacts._base import ArtifactStore
from skynet.storage.artifacts._cache import ArtifactCache, sha256_of
from skynet.storage.artifacts._folder import FolderArtifactStore

__all__ = ["ArtifactStore", "ArtifactCache", "open_artifact_store", "split_uri", "sha256_of", "SCHEMES"]

#: The location schemes a store may have (a bare path is a folder).
SCHEMES = ("file", "s3")


def open_artifact_store(
    location: str,
    cache: str | os.PathLike[str] | None = None,
    endpoint_url: str = "",
    region: str = "",
) -> ArtifactStore:
    """Open the artifact store at ``location``.

    Args:
        location: a folder path, ``file:///path`` or ``s3://bucket[/prefix]``.
        cache: where a remote store keeps downloads (``models.cache``); required for ``s3://``.
        endpoint_url, region: for ``s3://`` (``aws.endpoint_url``, ``aws.region``).

    Raises:
        StorageError: an unknown scheme (the known ones are listed), or the store's driver is missing.
    """
    scheme = location.split("://", 1)[0] if "://" in location else ""
    if scheme == "":
        return FolderArtifactStore(location)
    if scheme == "file":
        return FolderArtifactStore(unquote(urlsplit(location).path))
    if scheme == "s3":
        if cache is None:
            raise StorageError("artifacts[s3]", "an s3:// store needs a cache folder (models.cache)")
        from skynet.storage.artifacts._s3 import S3ArtifactStore

        return S3ArtifactStore(location, ArtifactCache(cache), endpoint_url=endpoint_url, region=region)
    raise StorageError(
        "artifacts",
        f"unknown location scheme {scheme!r} in {location[:200]!r}; known: a folder path, "
        + ", ".join(f"{s}://" for s in SCHEMES),
    )


def split_uri(uri: str) -> tuple[str, str]:
    """(store location, version name) of an artifact URI (``s3://b/p/NAME``, ``file:///d/NAME``).

    Raises:
        StorageError: the URI names no version.
    """
    head, _, name = uri.rstrip("/").rpartition("/")
    if not name or not head or head.endswith((":", ":/")):
        raise StorageError("artifacts", f"{uri[:200]!r} is not an artifact URI (LOCATION/NAME)")
    return head, name
