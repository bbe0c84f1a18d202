"""skynet's models and the one table that names them.

:data:`MODELS` maps a model type to the import string of its class; the CLI, the DAG
templates and the model store look models up there, and the shared contract test runs over
every entry. Classes are imported only when asked for (:func:`model_class`), so reading the
table is cheap. Every model follows :class:`~skynet.models._base.Model`'s contract; a saved
model is a manifest and a pickle-free artifact (see :mod:`skynet.models._base`), checked by
:func:`verify_model` without loading it for use. The table is the only place a class is found
by an import string: a saved model's manifest names a *type*, looked up here.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

from skynet.errors import ModelError, brief
from skynet.models._base import (
    SIGNING_KEY_ENV,
    LegacyModelError,
    Model,
    ModelVersionWarning,
    read_manifest,
)

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "MODELS",
    "Model",
    "ModelVersionWarning",
    "model_class",
    "model_types",
    "load_model",
    "verify_model",
    "convert_model",
    "read_manifest",
    "LegacyModelError",
    "SIGNING_KEY_ENV",
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
        raise ModelError(f"unknown model type {brief(name, 60)} (known: {', '.join(MODELS)})")
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


def verify_model(path: str | os.PathLike[str] | Path) -> dict[str, Any]:
    """Check a saved model as loading it would (manifest, sha256, signature, artifact contents),
    without compiling it for use or warning about versions; returns its manifest.

    Raises:
        LegacyModelError: an old joblib pickle. ModelError: anything else wrong; the message
            names the model and the problem.
    """
    from pathlib import Path

    manifest = read_manifest(Path(path))
    return model_class(str(manifest.get("model_type"))).restore(path)[1]


def convert_model(path: str | os.PathLike[str] | Path) -> Path:
    """Rewrite an old joblib model in the pickle-free format. This unpickles it: only for a
    model whose origin is trusted (see :mod:`skynet.models._legacy`).

    Raises:
        ModelError: already converted, missing or corrupt pickle, or not the registered class.
    """
    from pathlib import Path

    from skynet.models._legacy import convert_legacy

    manifest = read_manifest(Path(path))
    return convert_legacy(path, model_class(str(manifest.get("model_type"))))
