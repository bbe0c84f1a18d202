"""The build store: where ``fab build`` puts PEXes and where ``install-pex`` takes them by build number.

A store is a local folder (the default, ``dist/builds``) or an S3 prefix (``s3://bucket/prefix``,
through boto3, imported only when such a store is used). Each build is three objects::

    skynet-0.1.0-b3824.pex          the PEX
    skynet-0.1.0-b3824.pex.sha256   "<sha256>  skynet-0.1.0-b3824.pex" (sha256sum's format)
    skynet-0.1.0-b3824.json         manifest: version, build number, sha256, size, inputs
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skynet.errors import DeployError

__all__ = ["BuildStore", "StoredBuild", "open_build_store", "sha256_file", "pex_name"]

_PEX = re.compile(r"^skynet-(?P<tag>[0-9][A-Za-z0-9.]*-b(?P<build>[0-9]+))\.pex$")


def pex_name(tag: str) -> str:
    return f"skynet-{tag}.pex"


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class StoredBuild:
    """A build fetched from the store: a local PEX whose sha256 has been checked."""

    build_num: int
    tag: str
    path: Path
    sha256: str


class BuildStore(ABC):
    """Builds by number."""

    location: str

    @abstractmethod
    def _names(self) -> list[str]:
        """File names in the store."""

    @abstractmethod
    def _write(self, name: str, source: Path | bytes) -> None: ...

    @abstractmethod
    def _read(self, name: str, cache_dir: Path) -> Path:
        """A local path holding the object ``name``."""

    def put(self, pex: Path, tag: str, manifest: dict[str, Any]) -> str:
        """Store a built PEX with its sha256 and manifest; returns where it went."""
        name = pex_name(tag)
        digest = sha256_file(pex)
        self._write(name, Path(pex))
        self._write(f"{name}.sha256", f"{digest}  {name}\n".encode())
        self._write(
            f"skynet-{tag}.json", (json.dumps({**manifest, "sha256": digest}, indent=2) + "\n").encode()
        )
        return f"{self.location.rstrip('/')}/{name}"

    def builds(self) -> dict[int, str]:
        """Build number -> release tag, for every complete build in the store."""
        names = set(self._names())
        found = {}
        for name in names:
            match = _PEX.match(name)
            if match and f"{name}.sha256" in names:
                found[int(match["build"])] = match["tag"]
        return dict(sorted(found.items()))

    def latest(self) -> int:
        builds = self.builds()
        if not builds:
            raise DeployError(f"build store {self.location} holds no build (run `fab build` first)")
        return max(builds)

    def fetch(self, build_num: int | None, cache_dir: Path) -> StoredBuild:
        """The PEX of ``build_num`` (the newest build if ``None``) as a local file, its sha256 checked."""
        builds = self.builds()
        build_num = self.latest() if build_num is None else int(build_num)
        if build_num not in builds:
            known = ", ".join(map(str, list(builds)[-10:])) or "none"
            raise DeployError(f"build store {self.location} has no build {build_num} (newest: {known})")
        tag = builds[build_num]
        name = pex_name(tag)
        expected = self._read(f"{name}.sha256", cache_dir).read_text().split()[0]
        path = self._read(name, cache_dir)
        actual = sha256_file(path)
        if actual != expected:
            raise DeployError(f"{self.location}/{name}: sha256 is {actual}, its .sha256 file says {expected}")
        return StoredBuild(build_num, tag, path, actual)


class LocalBuildStore(BuildStore):
    """A folder (on this machine or a mounted share)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        self.location = str(self.path)

    def _names(self) -> list[str]:
        return [p.name for p in self.path.iterdir()] if self.path.is_dir() else []

    def _write(self, name: str, source: Path | bytes) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / f".{name}.tmp-{os.getpid()}"
        if isinstance(source, bytes):
            tmp.write_bytes(source)
        else:
            shutil.copyfile(source, tmp)
        os.replace(tmp, self.path / name)

    def _read(self, name: str, cache_dir: Path) -> Path:
        return self.path / name


class S3BuildStore(BuildStore):
    """``s3://bucket/prefix``; credentials and region come from boto3's usual sources."""

    def __init__(self, url: str) -> None:
        bucket, _, prefix = url[len("s3://") :].partition("/")
        if not bucket:
            raise DeployError(f"build store {url!r}: expected s3://bucket/prefix")
        self.bucket, self.prefix, self.location = bucket, prefix.strip("/"), url
        try:
            import boto3  # only S3 stores need it: pip install skynet[s3]
        except ImportError:
            raise DeployError(f"build store {url}: boto3 is not installed (pip install boto3)") from None
        self.client = boto3.client("s3")

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def _names(self) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key("")
        )
        return [obj["Key"].rsplit("/", 1)[-1] for page in pages for obj in page.get("Contents", [])]

    def _write(self, name: str, source: Path | bytes) -> None:
        if isinstance(source, bytes):
            self.client.put_object(Bucket=self.bucket, Key=self._key(name), Body=source)
        else:
            self.client.upload_file(str(source), self.bucket, self._key(name))

    def _read(self, name: str, cache_dir: Path) -> Path:
        cache_dir.mkdir(parents=True, exist_ok=True)
        target = cache_dir / name
        tmp = cache_dir / f".{name}.tmp-{os.getpid()}"
        self.client.download_file(self.bucket, self._key(name), str(tmp))
        os.replace(tmp, target)
        return target


def open_build_store(location: str) -> BuildStore:
    """The store at ``location``: ``s3://bucket/prefix`` or a folder path."""
    if location.startswith("s3://"):
        return S3BuildStore(location)
    if "://" in location:
        raise DeployError(f"build store {location!r}: expected a folder or s3://bucket/prefix")
    return LocalBuildStore(location)
