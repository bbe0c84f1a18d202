"""The local model store: one directory per trained model under a root folder.

Each model directory holds the artifact and the ``manifest.json`` that
:meth:`skynet.models.Model.save` writes. The store only reads manifests (storage never
imports models): it names models, lists them newest first, shows one, and finds the newest of
a type. Names read ``<model-type>-<param-desc>-<train-dates-hash>-<feature-hash>``, so the
same parameters on the same data give the same name.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from skynet.errors import StorageError

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
        dates = "|".join(str(training.get(k)) for k in ("start", "end", "data_digest"))
        dates_hash = hashlib.sha256(dates.encode()).hexdigest()[:8]
        feature_hash = str(training.get("feature_digest") or "none")[:8]
        slug = re.sub(r"[^A-Za-z0-9_.+-]+", "_", param_desc)
        return f"{model_type}-{slug}-{dates_hash}-{feature_hash}"

    def path_for(self, name: str, must_exist: bool = True) -> Path:
        """The directory of model ``name``.

        Raises:
            StorageError: the name is not a plain folder name, or (``must_exist``) no such model.
        """
        if not _NAME.match(name or ""):
            raise StorageError(_ADAPTER, f"{name!r} is not a model name (letters, digits, '_.+-')")
        path = self.root / name
        if must_exist and not (path / MANIFEST).is_file():
            raise StorageError(_ADAPTER, f"no model named {name!r} in {self.root} (see `skynet models list`)")
        return path

    def _manifests(self) -> list[tuple[str, dict[str, Any]]]:
        if not self.root.is_dir():
            return []
        found = []
        for entry in sorted(self.root.iterdir()):
            file = entry / MANIFEST
            if entry.name.startswith(".") or not file.is_file():
                continue  # temporary folders of a save in progress, stray files
            try:
                data = json.loads(file.read_text())
            except (OSError, ValueError):
                continue  # a broken model is reported by show(), not by every listing
            if isinstance(data, dict):
                found.append((entry.name, data))
        return found

    def list(self, model_type: str | None = None) -> list[dict[str, Any]]:
        """Models (name, type, created, rows trained on, a few metrics), newest first."""
        rows = []
        for name, manifest in self._manifests():
            if model_type is not None and manifest.get("model_type") != model_type:
                continue
            metrics = manifest.get("metrics") or {}
            numeric = {
                k: v for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)
            }
            rows.append(
                {
                    "name": name,
                    "type": manifest.get("model_type"),
                    "created": manifest.get("created"),
                    "n_rows": (manifest.get("training") or {}).get("n_rows"),
                    "metrics": dict(list(numeric.items())[:_SUMMARY_KEYS]),
                }
            )
        rows.sort(key=lambda r: (str(r["created"]), r["name"]), reverse=True)
        return rows

    def show(self, name: str) -> dict[str, Any]:
        """The manifest of model ``name`` (plus its ``name`` and ``path``).

        Raises:
            StorageError: no such model, or its manifest is unreadable.
        """
        path = self.path_for(name)
        try:
            manifest = json.loads((path / MANIFEST).read_text())
        except (OSError, ValueError) as exc:
            raise StorageError(_ADAPTER, f"{path / MANIFEST} is unreadable ({exc})") from None
        return {"name": name, "path": str(path), **manifest}

    def newest(self, model_type: str) -> str:
        """The name of the newest model of a type.

        Raises:
            StorageError: the store holds no model of that type.
        """
        rows = self.list(model_type)
        if not rows:
            raise StorageError(
                _ADAPTER, f"no {model_type} model in {self.root} (train one: skynet {model_type} train)"
            )
        return rows[0]["name"]
