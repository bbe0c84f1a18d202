"""A host's cache of fetched artifacts: ``CACHE/<sha256>/`` holds one version's files.

Entries are written into a temporary folder and renamed into place only after the file the
digest is of has been checked, so an entry is complete and verified or absent. A hit is
checked again (a cache is a plain folder anyone on the host may touch): a damaged entry is
dropped and fetched anew.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from skynet.errors import StorageError

__all__ = ["ArtifactCache", "sha256_of"]

_SHA = re.compile(r"^[0-9a-f]{64}$")


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file, read in blocks."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ArtifactCache:
    """Verified artifact folders under ``root``, one per sha256.

    Args:
        root: the cache folder (``models.cache``), created on first use.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"ArtifactCache({str(self.root)!r})"

    def _entry(self, sha256: str) -> Path:
        if not _SHA.match(sha256 or ""):
            raise StorageError("artifact cache", f"{sha256[:80]!r} is not a sha256")
        return self.root / sha256

    def get(self, sha256: str, file: str) -> Path | None:
        """The cached folder whose ``file`` has this sha256, or None (a damaged entry is dropped)."""
        entry = self._entry(sha256)
        target = entry / file
        if not target.is_file():
            return None
        if sha256_of(target) != sha256:
            shutil.rmtree(entry, ignore_errors=True)
            return None
        return entry

    def add(self, sha256: str, file: str, fill: Callable[[Path], None], what: str) -> Path:
        """Fill a temporary folder with ``fill(folder)``, check ``file``'s digest, keep it.

        Raises:
            StorageError: ``file`` is missing or its digest is not ``sha256`` (nothing is kept).
        """
        entry = self._entry(sha256)
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{sha256[:12]}.", dir=self.root))
        try:
            fill(tmp)
            if not (tmp / file).is_file():
                raise StorageError("artifact cache", f"{what} has no {file}")
            actual = sha256_of(tmp / file)
            if actual != sha256:
                raise StorageError(
                    "artifact cache",
                    f"{what}/{file} is corrupt: sha256 {actual[:12]}… does not match the registry's "
                    f"{sha256[:12]}… (nothing was cached)",
                )
            try:
                os.replace(tmp, entry)
            except OSError:  # another process cached it first: theirs is as good
                if self.get(sha256, file) is None:
                    raise
            return entry
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def remove(self, sha256: str) -> bool:
        """Drop one entry; False when it was not cached."""
        entry = self._entry(sha256)
        if not entry.is_dir():
            return False
        shutil.rmtree(entry, ignore_errors=True)
        return True

    def prune(self, keep: Iterable[str]) -> list[str]:
        """Drop every entry whose sha256 is not in ``keep``; returns the dropped digests."""
        kept = set(keep)
        if not self.root.is_dir():
            return []
        dropped = [p.name for p in self.root.iterdir() if _SHA.match(p.name) and p.name not in kept]
        for sha in dropped:
            shutil.rmtree(self.root / sha, ignore_errors=True)
        return sorted(dropped)
