"""Converting a model an older skynet saved (a joblib pickle) to the pickle-free format, once.

Unpickling runs whatever code the file names, so skynet never does it on its own: loading such a
model is refused (:class:`~skynet.models.LegacyModelError`). An operator who trusts where a model
came from converts it with ``skynet models convert NAME --trust-pickle``: the pickle's sha256 is
checked against its manifest, the pickle loaded, checked to be exactly the class registered for
the manifest's model type, and written anew in the same folder under the same manifest (created,
params, metrics, training and versions kept), so its name and its place in the store stay.
"""

from __future__ import annotations

import os
from pathlib import Path

from skynet.errors import ModelError
from skynet.models._base import (
    LEGACY_ARTIFACT,
    LegacyModelError,
    Model,
    artifact_path,
    read_manifest,
    sha256_file,
)

__all__ = ["convert_legacy"]


def convert_legacy(path: str | os.PathLike[str], model_class: type[Model]) -> Path:
    """Rewrite the joblib model in ``path`` in the pickle-free format (unpickles it: trust it first).

    Args:
        path: the model's folder.
        model_class: the class registered for the manifest's model type.

    Returns:
        The model's folder.

    Raises:
        ModelError: the model is already pickle-free, its pickle is missing, does not match the
            manifest's sha256, cannot be loaded, or holds something other than ``model_class``.
    """
    directory = Path(path)
    manifest = read_manifest(directory)
    try:
        artifact_path(directory, manifest)
    except LegacyModelError:
        pass
    else:
        raise ModelError(f"model {directory.name} is already in the pickle-free format")
    artifact = directory / LEGACY_ARTIFACT
    section = manifest["artifact"] if isinstance(manifest.get("artifact"), dict) else {}
    if not artifact.is_file():
        raise ModelError(f"model artifact {artifact} is missing")
    if sha256_file(artifact) != section.get("sha256"):
        raise ModelError(f"model artifact {artifact} does not match its manifest's sha256: not unpickling it")
    import joblib

    try:
        model = joblib.load(artifact)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad artifact
        raise ModelError(
            f"model artifact {artifact} cannot be unpickled ({type(exc).__name__}: {str(exc)[:200]})"
        ) from None
    if type(model) is not model_class:
        raise ModelError(f"{artifact} holds a {type(model).__name__}, not a {model_class.__name__}")
    model._upgrade_legacy()
    return model._write(directory, manifest)
