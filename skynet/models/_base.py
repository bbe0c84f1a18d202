"""The model contract every skynet model follows (after scikit-learn's ``BaseEstimator``).

``__init__`` only stores hyper-parameters; ``fit`` validates its input, learns and returns
``self``; learned state ends in ``_``; using a model before ``fit`` raises
:class:`~skynet.errors.NotFittedError`. ``save(path)`` writes the artifact (joblib) and a
``manifest.json`` beside it, atomically; ``load(path)`` checks the artifact's sha256 and warns
when the skynet or library versions differ from the ones it was saved with (after MLflow's
``MLmodel`` file).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import platform
import shutil
import tempfile
import warnings
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar, Self

from skynet import __version__
from skynet.errors import ModelError, NotFittedError

__all__ = ["Model", "ModelVersionWarning", "ARTIFACT", "MANIFEST", "sha256_file"]

ARTIFACT = "model.joblib"
MANIFEST = "manifest.json"
#: Version of the manifest layout (bumped when its keys change meaning).
MANIFEST_FORMAT = 1


class ModelVersionWarning(UserWarning):
    """A model was saved with other skynet or library versions than the running ones."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


class Model:
    """Base class of skynet models: parameters, fitted check, save and load.

    Subclasses set :attr:`model_type` (the key in :data:`skynet.models.MODELS`) and
    :attr:`libraries` (distributions whose versions the manifest records), and fill
    :attr:`training_` in ``fit`` (``n_rows``, ``start``, ``end``, ``data_digest``,
    ``features``, ``feature_digest``).
    """

    model_type: ClassVar[str] = ""
    libraries: ClassVar[tuple[str, ...]] = ("numpy", "scikit-learn")

    # -- parameters (scikit-learn style) -------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        params = inspect.signature(cls.__init__).parameters.values()
        return [
            p.name for p in params if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self, deep: bool = False) -> dict[str, Any]:
        """The hyper-parameters given to ``__init__``."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Self:
        known = self._param_names()
        for name, value in params.items():
            if name not in known:
                raise ModelError(
                    f"{type(self).__name__} has no parameter {name!r} (known: {', '.join(known)})"
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if defaults.get(k) != v]
        return f"{type(self).__name__}({', '.join(changed)})"

    def param_desc(self) -> str:
        """A short slug of the parameters for model names (subclasses make it readable)."""
        text = json.dumps(self.get_params(), sort_keys=True, default=str)
        return "p" + hashlib.sha256(text.encode()).hexdigest()[:6]

    # -- fitted state ---------------------------------------------------------------------
    def is_fitted(self) -> bool:
        return any(k.endswith("_") and not k.startswith("__") for k in vars(self))

    def check_is_fitted(self) -> None:
        """Raise :class:`NotFittedError` unless ``fit`` (or ``load``) has run."""
        if not self.is_fitted():
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet: call fit(frame) first or load a saved model"
            )

    # -- persistence ----------------------------------------------------------------------
    def manifest(self, metrics: dict[str, Any] | None = None) -> dict[str, Any]:
        """What ``save`` writes beside the artifact (without the artifact's digest)."""
        self.check_is_fitted()
        libraries = {name: _version(name) for name in ("skynet", *self.libraries)}
        libraries["skynet"] = __version__
        return {
            "format": MANIFEST_FORMAT,
            "model_type": self.model_type,
            "class": f"{type(self).__module__}:{type(self).__qualname__}",
            "created": datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z",
            "python": platform.python_version(),
            "versions": libraries,
            "params": json.loads(json.dumps(self.get_params(), default=str)),
            "param_desc": self.param_desc(),
            "metrics": json.loads(json.dumps(metrics or {}, default=float)),
            "training": json.loads(json.dumps(getattr(self, "training_", {}), default=str)),
        }

    def save(self, path: str | os.PathLike[str], metrics: dict[str, Any] | None = None) -> Path:
        """Write ``<path>/model.joblib`` and ``<path>/manifest.json`` atomically.

        Both files are written into a temporary directory next to ``path`` which then
        replaces ``path`` (an older model there is replaced as a whole).

        Args:
            path: the model's directory.
            metrics: evaluation figures to record in the manifest.

        Returns:
            The model directory.
        """
        import joblib

        manifest = self.manifest(metrics)
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            joblib.dump(self, tmp / ARTIFACT, compress=3)
            manifest["artifact"] = {
                "file": ARTIFACT,
                "sha256": sha256_file(tmp / ARTIFACT),
                "bytes": (tmp / ARTIFACT).stat().st_size,
            }
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
            old = None
            if target.exists():
                old = target.with_name(f".{target.name}.old-{os.getpid()}")
                os.replace(target, old)
            os.replace(tmp, target)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        """Load a saved model, checking its sha256 and warning on version drift.

        Raises:
            ModelError: the directory, manifest or artifact is missing or corrupt, or holds
                another model type.
        """
        import joblib

        directory = Path(path)
        manifest = read_manifest(directory)
        artifact = directory / manifest.get("artifact", {}).get("file", ARTIFACT)
        if not artifact.is_file():
            raise ModelError(f"model artifact {artifact} is missing")
        expected = manifest.get("artifact", {}).get("sha256")
        actual = sha256_file(artifact)
        if expected != actual:
            raise ModelError(
                f"model artifact {artifact} is corrupt: sha256 {actual[:12]}… does not match the manifest's "
                f"{str(expected)[:12]}…"
            )
        _warn_on_drift(directory, manifest)
        try:
            model = joblib.load(artifact)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad artifact
            raise ModelError(
                f"model artifact {artifact} cannot be loaded ({type(exc).__name__}: {exc})"
            ) from None
        if not isinstance(model, cls):
            raise ModelError(f"{artifact} holds a {type(model).__name__}, not a {cls.__name__}")
        return model


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of a saved model directory (ModelError when missing or malformed)."""
    file = directory / MANIFEST
    if not file.is_file():
        raise ModelError(f"{directory} is not a saved model: {MANIFEST} is missing")
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"{file} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ModelError(f"{file} is not a model manifest")
    return data


def _warn_on_drift(directory: Path, manifest: dict[str, Any]) -> None:
    saved = manifest.get("versions", {})
    running = {name: (__version__ if name == "skynet" else _version(name)) for name in saved}
    drift = [f"{name} {saved[name]} -> {running[name]}" for name in saved if saved[name] != running[name]]
    if drift:
        warnings.warn(
            f"model {directory} was saved with other versions ({', '.join(drift)}); predictions may differ",
            ModelVersionWarning,
            stacklevel=3,
        )
