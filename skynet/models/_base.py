"""The model contract every skynet model follows (after scikit-learn's ``BaseEstimator``).

``__init__`` only stores hyper-parameters; ``fit`` validates its input, learns and returns
``self``; learned state ends in ``_``; using a model before ``fit`` raises
:class:`~skynet.errors.NotFittedError`.

``save(path)`` writes two files into the model's folder, atomically (a temporary folder
renamed into place):

- ``model.npz``: the parameters and the learned state (:attr:`Model.state_attributes`) in the
  pickle-free format of :mod:`skynet.models._artifact`: arrays, numbers, strings and the few
  dataclasses the model allows (:attr:`Model.state_classes`). Loading it cannot run code.
- ``manifest.json`` (after MLflow's ``MLmodel`` file)::

    format        2 (1 was the joblib pickle, which skynet no longer loads)
    model_type    the key in skynet.models.MODELS ("user_model", "estimation")
    class         the model's class, for people (the loader never imports it)
    created       UTC, ISO 8601 with a Z
    python, versions   Python and library versions at training (drift warns on load)
    params, param_desc, metrics, training   hyper-parameters, evaluation figures, data facts
    lineage       (when registered) data set, build, Airflow run, parent: see skynet.api.models
    artifact      {"file": "model.npz", "sha256": ..., "bytes": ...}
    signature     {"algorithm": "hmac-sha256", "value": ...} when $SKYNET_MODEL_SIGNING_KEY
                  was set at save: HMAC of the canonical JSON of every other key

``load(path)`` (:meth:`Model.restore`) checks the manifest, the artifact's sha256, the
signature when ``$SKYNET_MODEL_SIGNING_KEY`` is set (an unsigned or wrongly signed model is
refused: the key lives in the environment, never in the store, so whoever can write the store
cannot forge it), then reads the state; it warns when the skynet or library versions differ
from the ones the model was saved with. A joblib artifact of an older skynet is refused with
one line (:class:`LegacyModelError`); ``skynet models convert NAME --trust-pickle`` rewrites it
once, an operator's explicit decision to unpickle it (:mod:`skynet.models._legacy`).
"""

from __future__ import annotations

import hashlib
import hmac
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
from skynet.errors import ModelError, NotFittedError, brief
from skynet.models._artifact import read_artifact, write_artifact

__all__ = [
    "Model",
    "ModelVersionWarning",
    "LegacyModelError",
    "ARTIFACT",
    "MANIFEST",
    "SIGNING_KEY_ENV",
    "sha256_file",
    "read_manifest",
    "artifact_path",
    "signing_key",
]

ARTIFACT = "model.npz"
#: The artifact of skynet before 2027: a joblib pickle (refused; see ``skynet models convert``).
LEGACY_ARTIFACT = "model.joblib"
MANIFEST = "manifest.json"
#: Version of the manifest layout (bumped when its keys change meaning): 2 = pickle-free artifact.
MANIFEST_FORMAT = 2
#: The environment variable holding the HMAC key that signs and verifies manifests.
SIGNING_KEY_ENV = "SKYNET_MODEL_SIGNING_KEY"
_MIN_KEY = 32


class LegacyModelError(ModelError):
    """A saved model is an old joblib pickle: skynet does not unpickle it."""


class ModelVersionWarning(UserWarning):
    """A model was saved with other skynet or library versions than the running ones."""


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in blocks."""
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

    Subclasses set :attr:`model_type` (the key in :data:`skynet.models.MODELS`),
    :attr:`libraries` (distributions whose versions the manifest records),
    :attr:`state_attributes` and :attr:`state_classes` (what ``save`` stores, see the module
    docstring), and fill :attr:`training_` in ``fit`` (``n_rows``, ``start``, ``end``,
    ``data_digest``, ``features``, ``feature_digest``).
    """

    model_type: ClassVar[str] = ""
    libraries: ClassVar[tuple[str, ...]] = ("numpy", "scikit-learn")
    #: The learned state ``save`` stores: every attribute ``fit`` sets (checked on save and load).
    state_attributes: ClassVar[tuple[str, ...]] = ()
    #: The dataclasses that may appear in the stored state: the artifact's allow-list.
    state_classes: ClassVar[tuple[type, ...]] = ()

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

    def _unshown(self, shown: tuple[str, ...]) -> str:
        """``-p<hash>`` of the parameters a readable slug leaves out, when any differs from its
        default ("" otherwise): two models that differ only there (a search's points, ``--param``)
        get different names, so registering one never replaces the other."""
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        plain = lambda v: json.dumps(v, sort_keys=True, default=str)  # noqa: E731 - (64, 64) == [64, 64]
        differ = {
            k: v
            for k, v in self.get_params().items()
            if k not in shown and plain(v) != plain(defaults.get(k))
        }
        return "-p" + hashlib.sha256(plain(differ).encode()).hexdigest()[:6] if differ else ""

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
    def _state(self) -> dict[str, Any]:
        """The learned state to store: exactly :attr:`state_attributes`.

        Raises:
            ModelError: the model holds learned state it does not declare (it would be lost
                by a save), or lacks some it declares.
        """
        self.check_is_fitted()
        learned = {k for k in vars(self) if k.endswith("_") and not k.startswith("_")}
        declared = set(self.state_attributes)
        if learned != declared:
            extra, missing = sorted(learned - declared), sorted(declared - learned)
            raise ModelError(
                f"{type(self).__name__} holds learned state {extra} and lacks {missing}: "
                "its state_attributes must name exactly what fit learns"
            )
        return {name: getattr(self, name) for name in self.state_attributes}

    @classmethod
    def _from_state(cls, params: dict[str, Any], state: dict[str, Any], where: Path) -> Self:
        """A model rebuilt from stored parameters and state (checked: nothing else is set)."""
        known = cls._param_names()
        unknown = [str(k)[:40] for k in params if k not in known]
        if unknown:
            raise ModelError(f"model artifact {where} has parameters {cls.__name__} does not know: {unknown}")
        if set(state) != set(cls.state_attributes):
            raise ModelError(
                f"model artifact {where} holds the state {sorted(map(str, state))[:12]}, "
                f"not the {sorted(cls.state_attributes)} a {cls.__name__} has"
            )
        model = cls(**params)
        for name in cls.state_attributes:
            setattr(model, name, state[name])
        model._check_state(where)
        return model

    def _check_state(self, where: Path) -> None:
        """Hook: raise :class:`ModelError` when loaded state cannot be used safely (default: no check)."""

    def _upgrade_legacy(self) -> None:
        """Hook: turn a model unpickled from an older skynet into today's :attr:`state_attributes`
        (default: nothing to change)."""

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

    def save(
        self,
        path: str | os.PathLike[str],
        metrics: dict[str, Any] | None = None,
        lineage: dict[str, Any] | None = None,
    ) -> Path:
        """Write ``<path>/model.npz`` and ``<path>/manifest.json`` atomically.

        Both files are written into a temporary directory next to ``path`` which then
        replaces ``path`` (an older model there is replaced as a whole). With
        ``$SKYNET_MODEL_SIGNING_KEY`` set the manifest carries an HMAC-SHA256 signature.

        Args:
            path: the model's directory.
            metrics: evaluation figures to record in the manifest.
            lineage: where the model came from (data set, build, run; see
                :mod:`skynet.api.models`), recorded as the manifest's ``lineage`` (signed with it).

        Returns:
            The model directory.

        Raises:
            ModelError: the model holds something that is not plain state.
        """
        manifest = self.manifest(metrics)
        if lineage:
            manifest["lineage"] = json.loads(json.dumps(lineage, default=str))
        return self._write(Path(path), manifest)

    def _write(self, target: Path, manifest: dict[str, Any]) -> Path:
        """Write the artifact and ``manifest`` (completed with the artifact's digest) atomically."""
        state, key = self._state(), signing_key()
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            artifact = tmp / ARTIFACT
            write_artifact(artifact, self.model_type, self.get_params(), state, self.state_classes)
            manifest = {k: v for k, v in manifest.items() if k not in ("artifact", "signature")}
            manifest["format"] = MANIFEST_FORMAT
            manifest["artifact"] = {
                "file": ARTIFACT,
                "sha256": sha256_file(artifact),
                "bytes": artifact.stat().st_size,
            }
            if key is not None:
                manifest["signature"] = {"algorithm": "hmac-sha256", "value": _signature(manifest, key)}
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
        """Load a saved model: check it (see :meth:`restore`) and warn on version drift.

        Raises:
            ModelError: the directory, manifest or artifact is missing, corrupt, unsigned or
                wrongly signed (with a signing key set), in the old pickle format, or holds
                another model type.
        """
        model, manifest = cls.restore(path)
        _warn_on_drift(Path(path), manifest)
        return model

    @classmethod
    def restore(cls, path: str | os.PathLike[str]) -> tuple[Self, dict[str, Any]]:
        """(model, manifest) of a saved model, checked, without side effects (no warm-up, no warning).

        Checks, in order: the manifest is readable and names this model type; the artifact is
        the pickle-free format; its sha256 matches; the signature (when
        ``$SKYNET_MODEL_SIGNING_KEY`` is set); the artifact's contents.

        Raises:
            LegacyModelError: the artifact is an old joblib pickle (never unpickled here).
            ModelError: anything else wrong with the saved model; the message names it.
        """
        directory = Path(path)
        manifest = read_manifest(directory)
        if manifest.get("model_type") != cls.model_type:
            saved = brief(manifest.get("model_type"), 60)
            raise ModelError(f"model {directory} holds a {saved} model, not a {cls.model_type}")
        artifact = artifact_path(directory, manifest)
        _check_signature(directory, manifest)
        params, state = read_artifact(artifact, cls.model_type, cls.state_classes)
        return cls._from_state(params, state, artifact), manifest


def artifact_path(directory: Path, manifest: dict[str, Any]) -> Path:
    """The artifact of a saved model, present and matching the manifest's sha256.

    Raises:
        LegacyModelError: the manifest describes an old joblib pickle.
        ModelError: the manifest lacks the artifact's digest, or the artifact is missing or
            does not match it.
    """
    section = manifest.get("artifact")
    section = section if isinstance(section, dict) else {}
    if section.get("file") == LEGACY_ARTIFACT or manifest.get("format") == 1:
        raise LegacyModelError(
            f"model {directory.name} is in the old pickle format ({LEGACY_ARTIFACT}), which can run code "
            f"when loaded, so skynet no longer loads it: train a new one, or if you trust where it came from, "
            f"convert it once with `skynet models convert {directory.name} --trust-pickle`"
        )
    if section.get("file") != ARTIFACT or not isinstance(section.get("sha256"), str):
        raise ModelError(f"{directory / MANIFEST} does not describe a {ARTIFACT} artifact with its sha256")
    artifact = directory / ARTIFACT
    if not artifact.is_file():
        raise ModelError(f"model artifact {artifact} is missing")
    expected, actual = section["sha256"], sha256_file(artifact)
    if expected != actual:
        raise ModelError(
            f"model artifact {artifact} is corrupt: sha256 {actual[:12]}… does not match the manifest's "
            f"{expected[:12]}…"
        )
    return artifact


def signing_key() -> bytes | None:
    """The HMAC key from ``$SKYNET_MODEL_SIGNING_KEY`` (None when unset or empty).

    Raises:
        ModelError: the key is shorter than 32 characters.
    """
    key = os.environ.get(SIGNING_KEY_ENV, "")
    if not key:
        return None
    if len(key) < _MIN_KEY:
        raise ModelError(
            f"{SIGNING_KEY_ENV} is {len(key)} characters long; use at least {_MIN_KEY} "
            "(for example the output of `openssl rand -hex 32`)"
        )
    return key.encode()


def _signature(manifest: dict[str, Any], key: bytes) -> str:
    """HMAC-SHA256 of the manifest without its signature, as canonical JSON (it holds the
    artifact's sha256, so the signature covers the artifact too)."""
    body = {k: v for k, v in manifest.items() if k != "signature"}
    text = json.dumps(json.loads(json.dumps(body)), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _check_signature(directory: Path, manifest: dict[str, Any]) -> None:
    key = signing_key()
    if key is None:
        return  # no key: nothing to check against (an unsigned store, or signing is off)
    signature = manifest.get("signature")
    value = signature.get("value") if isinstance(signature, dict) else None
    if not isinstance(value, str):
        raise ModelError(
            f"model {directory.name} is not signed, and {SIGNING_KEY_ENV} is set: "
            "train it again with the key set (or unset the key)"
        )
    if not hmac.compare_digest(value, _signature(manifest, key)):
        raise ModelError(
            f"model {directory.name}'s signature does not match {SIGNING_KEY_ENV}: its manifest or artifact "
            "was changed, or it was signed with another key"
        )


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of a saved model directory (ModelError when missing or malformed)."""
    file = directory / MANIFEST
    if not file.is_file():
        raise ModelError(f"{directory} is not a saved model: {MANIFEST} is missing")
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError, RecursionError) as exc:
        raise ModelError(f"{file} is unreadable ({str(exc)[:200]})") from None
    if not isinstance(data, dict):
        raise ModelError(f"{file} is not a model manifest")
    return data


def _warn_on_drift(directory: Path, manifest: dict[str, Any]) -> None:
    saved = manifest.get("versions")
    if not isinstance(saved, dict):
        return
    running = {name: (__version__ if name == "skynet" else _version(name)) for name in saved}
    drift = [f"{name} {saved[name]} -> {running[name]}" for name in saved if saved[name] != running[name]]
    if drift:
        warnings.warn(
            f"model {directory} was saved with other versions ({', '.join(drift)}); predictions may differ",
            ModelVersionWarning,
            stacklevel=3,
        )
