"""skynet's models and the one table that names them.

:data:`MODELS` maps a model type to the import string of its class; the CLI, the DAG
templates and the model store look models up there, and the shared contract test runs over
every entry. Classes are imported only when asked for (:func:`model_class`), so reading the
table is cheap. Every model follows :class:`~skynet.models._base.Model`'s contract.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING

from skynet.errors import ModelError
from skynet.models._base import Model, ModelVersionWarning, read_manifest

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "MODELS",
    "Model",
    "ModelVersionWarning",
    "model_class",
    "model_types",
    "load_model",
    "read_manifest",
]

#: model type -> "module:Class". Later issues add estimation models.
MODELS: dict[str, str] = {
    "user_model": "skynet.models.user_model:UserModel",
    "estimation": "skynet.models.estimation:EstimationModel",
}


def model_types() -> list[str]:
    """The registered model types."""
    return list(MODELS)


def model_class(name: str) -> type[Model]:
    """Import and return the class registered as ``name``.

    Raises:
        ModelError: no such model type.
    """
    if name not in MODELS:
        raise ModelError(f"unknown model type {name!r} (known: {', '.join(MODELS)})")
    module_name, attr = MODELS[name].split(":")
    return getattr(importlib.import_module(module_name), attr)


def load_model(path: str | os.PathLike[str] | Path) -> Model:
    """Load a saved model of any registered type (its manifest names the type).

    Raises:
        ModelError: not a saved model, corrupt artifact, or an unknown type.
    """
    from pathlib import Path

    manifest = read_manifest(Path(path))
    return model_class(str(manifest.get("model_type"))).load(path)
