"""Artifacts in S3 (or any S3-compatible server): ``s3://bucket/prefix/<name>/<file>``.

Every host that shares the registry and this store can load every registered model: it
downloads a version's files into its cache (:class:`ArtifactCache`), verified by sha256. A
version is uploaded file by file with ``manifest.json`` last, so a listing that shows a
manifest shows a complete upload. The client is boto3's (credentials from its usual chain:
``AWS_*`` variables, profiles, instance roles); ``aws.endpoint_url`` points it at another
S3-compatible server. boto3 is imported only when such a store is opened (``skynet[s3]``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from skynet.errors import StorageError
from skynet.storage.artifacts._base import ArtifactStore
from skynet.storage.artifacts._cache import ArtifactCache
from skynet.storage.registry import check_name

__all__ = ["S3ArtifactStore"]

#: Uploaded last: its presence means the version's other files are there.
_LAST = "manifest.json"


class S3ArtifactStore(ArtifactStore):
    """Model artifacts under ``s3://bucket/prefix``.

    Args:
        location: ``s3://bucket`` or ``s3://bucket/prefix``.
        cache: where downloads are kept by sha256.
        endpoint_url: another S3-compatible server (empty: AWS).
        region: the AWS region.

    Raises:
        StorageError: the location is malformed or boto3 is not installed.
    """

    name = "artifacts[s3]"

    def __init__(self, location: str, cache: ArtifactCache, endpoint_url: str = "", region: str = "") -> None:
        bucket, _, prefix = location[len("s3://") :].partition("/")
        if not location.startswith("s3://") or not bucket:
            raise StorageError(self.name, f"{location[:200]!r} is not s3://bucket[/prefix]")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.location = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self.cache = cache
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise StorageError(self.name, "boto3 is not installed (pip install 'skynet[s3]')") from None
        config = Config(connect_timeout=10, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"})
        self.client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url or None, region_name=region or None, config=config
        )

    def __repr__(self) -> str:
        return f"S3ArtifactStore({self.location!r})"

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """boto3's errors as one-line StorageErrors naming the store and the step."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as exc:
            error = exc.response.get("Error", {})
            detail = f"{error.get('Code', 'error')}: {error.get('Message') or exc}"
            raise StorageError(self.name, f"{what} in {self.location} failed ({detail})") from None
        except (BotoCoreError, OSError) as exc:
            raise StorageError(self.name, f"{what} in {self.location} failed ({exc})") from None

    def _key(self, name: str, file: str = "") -> str:
        return "/".join(p for p in (self.prefix, check_name(name), file) if p) + ("" if file else "/")

    def uri(self, name: str) -> str:
        return f"s3://{self.bucket}/{self._key(name).rstrip('/')}"

    def _objects(self, prefix: str) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [obj["Key"] for page in pages for obj in page.get("Contents", [])]

    def put(self, name: str, folder: Path) -> str:
        files = sorted(
            (p for p in Path(folder).iterdir() if p.is_file()), key=lambda p: (p.name == _LAST, p.name)
        )
        with self._guard(f"storing {name}"):
            stale = set(self._objects(self._key(name))) - {self._key(name, p.name) for p in files}
            for path in files:
                self.client.upload_file(str(path), self.bucket, self._key(name, path.name))
            self._delete_keys(sorted(stale))
        return self.uri(name)

    def local_copy(self, name: str, sha256: str, file: str) -> Path:
        cached = self.cache.get(sha256, file)
        if cached is not None:
            return cached
        uri = self.uri(name)

        def download(into: Path) -> None:
            with self._guard(f"fetching {name}"):
                keys = self._objects(self._key(name))
                if not keys:
                    raise StorageError(self.name, f"the artifact of {name} is missing: nothing under {uri}")
                for key in keys:
                    self.client.download_file(self.bucket, key, str(into / key.rsplit("/", 1)[-1]))

        return self.cache.add(sha256, file, download, uri)

    def _delete_keys(self, keys: list[str]) -> None:
        for first in range(0, len(keys), 1000):  # S3 deletes at most 1,000 keys per call
            chunk = [{"Key": k} for k in keys[first : first + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": chunk, "Quiet": True})

    def delete(self, name: str) -> bool:
        with self._guard(f"deleting {name}"):
            keys = self._objects(self._key(name))
            self._delete_keys(keys)
        return bool(keys)

    def names(self) -> list[str]:
        prefix = f"{self.prefix}/" if self.prefix else ""
        with self._guard("listing artifacts"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix, Delimiter="/"
            )
            found = [
                p["Prefix"][len(prefix) :].rstrip("/")
                for page in pages
                for p in page.get("CommonPrefixes", [])
            ]
        return sorted(found)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "cache": str(self.cache.root)}
