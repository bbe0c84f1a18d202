"""Artifacts in a folder: ``ROOT/<name>/`` per version (the layout of :class:`LocalModelStore`).

A folder store is read in place: :meth:`FolderArtifactStore.local_copy` returns the version's
folder itself and leaves checking it to the caller (the models verify a saved model's manifest,
sha256 and signature; ``skynet.api.models`` compares the sha256 with the registry's). Versions
are replaced whole: the files are copied into a temporary folder beside the target, which then
takes its place.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from skynet.errors import StorageError
from skynet.storage.artifacts._base import ArtifactStore
from skynet.storage.registry import check_name

__all__ = ["FolderArtifactStore"]


class FolderArtifactStore(ArtifactStore):
    """Model artifacts in folders under ``root`` (created on first put).

    Args:
        root: the folder (``models.store`` when it is not an ``s3://`` URL).
    """

    name = "artifacts[folder]"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().absolute()
        self.location = str(self.root)

    def __repr__(self) -> str:
        return f"FolderArtifactStore({self.location!r})"

    def _path(self, name: str) -> Path:
        return self.root / check_name(name)

    def uri(self, name: str) -> str:
        return self._path(name).as_uri()

    def put(self, name: str, folder: Path) -> str:
        target = self._path(name)
        folder = Path(folder)
        if folder.resolve() == target.resolve():
            return self.uri(name)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=self.root))
        except OSError as exc:
            raise StorageError(self.name, f"cannot write {self.root}: {exc}") from None
        try:
            for file in sorted(p for p in folder.iterdir() if p.is_file()):
                shutil.copyfile(file, tmp / file.name)
            old = None
            if target.exists():
                old = target.with_name(f".{name}.old-{os.getpid()}")
                os.replace(target, old)
            os.replace(tmp, target)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except OSError as exc:
            raise StorageError(self.name, f"storing {name} in {self.root} failed: {exc}") from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return self.uri(name)

    def local_copy(self, name: str, sha256: str, file: str) -> Path:
        path = self._path(name)
        if not path.is_dir():
            raise StorageError(self.name, f"the artifact of {name} is missing: no folder {path}")
        return path

    def delete(self, name: str) -> bool:
        path = self._path(name)
        if not path.exists():
            return False
        shutil.rmtree(path)
        return True

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
