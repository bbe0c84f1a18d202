"""The local model store: one directory per trained model under a root folder.

Each model directory holds the artifact (``model.npz``) and the ``manifest.json`` that
:meth:`skynet.models.Model.save` writes. The store only reads manifests (storage never
imports models): it names models, lists them newest first, shows one, and finds the newest of
a type. Names read ``<model-type>-<param-desc>-<train-dates-hash>-<feature-hash>``, so the
same parameters on the same data give the same name.

A folder whose manifest is missing, unreadable or names no type is still listed, with its
``problem``, its type read from its name and its age from the file's modification time: it
is never silently passed over, so :meth:`LocalModelStore.newest` can name a broken newest
model (which then fails to load, loudly) rather than hand out an older one. Whether the
artifact itself is sound is the models' business (``skynet.models.verify_model``, called by
``skynet.api.models``). Folders starting with ``.`` are a save in progress and left out.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from skynet.errors import StorageError, brief

__all__ = ["LocalModelStore", "MANIFEST"]

MANIFEST = "manifest.json"
_ADAPTER = "model store"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_SUMMARY_KEYS = 4


class LocalModelStore:
    """Trained models in folders under ``root`` (created on first save).

    Args:
        root: the store's folder (``settings.models.store``).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalModelStore({str(self.root)!r})"

    @staticmethod
    def model_name(model_type: str, param_desc: str, training: dict[str, Any]) -> str:
        """The name of a model from its type, parameter slug and training facts.

        Args:
            model_type: e.g. ``user_model``.
            param_desc: the model's short parameter description.
            training: the manifest's ``training`` section (``start``, ``end``,
                ``data_digest``, ``feature_digest``).
        """
        dates_hash, feature_hash = LocalModelStore.data_hashes(training)
        slug = re.sub(r"[^A-Za-z0-9_.+-]+", "_", param_desc)
        return f"{model_type}-{slug}-{dates_hash}-{feature_hash}"

    @staticmethod
    def data_hashes(training: dict[str, Any]) -> tuple[str, str]:
        """(dates hash, feature hash) of a model's training facts: the last two parts of its
        name, and of its materialised data set's file name (``<min>-<max>-<dates>-<features>``)."""
        dates = "|".join(str(training.get(k)) for k in ("start", "end", "data_digest"))
        return (
            hashlib.sha256(dates.encode()).hexdigest()[:8],
            str(training.get("feature_digest") or "none")[:8],
        )

    def path_for(self, name: str, must_exist: bool = True) -> Path:
        """The directory of model ``name``.

        Raises:
            StorageError: the name is not a plain folder name, or (``must_exist``) no such model.
        """
        if not _NAME.match(name or ""):
            raise StorageError(_ADAPTER, f"{brief(name, 80)} is not a model name (letters, digits, '_.+-')")
        path = self.root / name
        if must_exist and not path.is_dir():
            raise StorageError(_ADAPTER, f"no model named {name!r} in {self.root} (see `skynet models list`)")
        return path

    def _entries(self) -> list[tuple[str, dict[str, Any] | None, str | None]]:
        """(name, manifest or None, problem or None) of every model folder."""
        if not self.root.is_dir():
            return []
        found = []
        for entry in sorted(self.root.iterdir()):
            if entry.name.startswith(".") or not _NAME.match(entry.name) or not entry.is_dir():
                continue  # temporary folders of a save in progress, stray files
            manifest, problem = _read_manifest(entry / MANIFEST)
            found.append((entry.name, manifest, problem))
        return found

    def list(self, model_type: str | None = None) -> list[dict[str, Any]]:
        """Models (name, type, created, rows trained on, a few metrics, problem), newest first.

        ``problem`` is None, or why the manifest cannot be used (the folder is listed all the
        same, its type taken from its name and its age from the folder's files).
        """
        rows = []
        for name, manifest, problem in self._entries():
            info = manifest or {}
            kind = info.get("model_type") if isinstance(info.get("model_type"), str) else None
            if kind is None and problem is None:
                problem = f"{MANIFEST} names no model_type"
            kind = kind or name.partition("-")[0]
            if model_type is not None and kind != model_type:
                continue
            created = info.get("created")
            metrics = info["metrics"] if isinstance(info.get("metrics"), dict) else {}
            numeric = {
                k: v for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)
            }
            training = info["training"] if isinstance(info.get("training"), dict) else {}
            rows.append(
                {
                    "name": name,
                    "type": kind,
                    "created": str(created) if isinstance(created, str) else self._modified(name),
                    "n_rows": training.get("n_rows"),
                    "metrics": dict(list(numeric.items())[:_SUMMARY_KEYS]),
                    "problem": problem,
                }
            )
        rows.sort(key=lambda r: (str(r["created"]), r["name"]), reverse=True)
        return rows

    def _modified(self, name: str) -> str:
        """When a folder's manifest (else the folder) last changed, as a manifest writes ``created``."""
        path = self.root / name
        target = path / MANIFEST if (path / MANIFEST).exists() else path
        stamp = datetime.fromtimestamp(target.stat().st_mtime, UTC).replace(tzinfo=None)
        return stamp.isoformat(timespec="seconds") + "Z"

    def show(self, name: str) -> dict[str, Any]:
        """The manifest of model ``name`` (plus its ``name``, ``path`` and ``problem``).

        A manifest that cannot be read gives only ``name``, ``path`` and the ``problem``.

        Raises:
            StorageError: no such model.
        """
        path = self.path_for(name)
        manifest, problem = _read_manifest(path / MANIFEST)
        shown = {"name": name, "path": str(path), **(manifest or {})}
        shown.update(name=name, path=str(path), problem=problem)  # the manifest's own keys never win
        return shown

    def newest(self, model_type: str) -> str:
        """The name of the newest model of a type, sound or not (see the module docstring).

        Raises:
            StorageError: the store holds no model of that type.
        """
        rows = self.list(model_type)
        if not rows:
            raise StorageError(
                _ADAPTER, f"no {model_type} model in {self.root} (train one: skynet {model_type} train)"
            )
        return rows[0]["name"]


def _read_manifest(file: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(manifest, None) or (None, what is wrong with it)."""
    if not file.is_file():
        return None, f"{MANIFEST} is missing"
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError, RecursionError) as exc:
        return None, f"{MANIFEST} is unreadable ({str(exc)[:200]})"
    if not isinstance(data, dict):
        return None, f"{MANIFEST} is not a JSON object"
    return data, None
