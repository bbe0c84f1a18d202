"""Application functions of the model registry: register, resolve and load trained models;
list, show, verify, convert, delete and garbage-collect them; aliases with history; lineage.

A trained model is saved (manifest + pickle-free artifact, :mod:`skynet.models._base`), put in
the artifact store (``models.store``: a folder or ``s3://``) and registered (``models.registry_url``,
by default the SQL store) with its lineage: :func:`register_trained` is the one way in, used by
``skynet user_model train``, ``skynet estimation train`` and the hyper-parameter search.

A model reference is a version's ``NAME`` or ``TYPE@ALIAS`` (``user_model@production``);
without one, ``TYPE@production`` when that alias exists, else the newest version of the type
(:func:`resolve`, the one resolver). Loading fetches the artifact from where it was stored (a
remote one into this host's cache, verified by sha256), then the models check it, then its
sha256 is compared with the registry's. A model's ``status`` is ``ok``, ``corrupt`` (its
manifest, artifact, digest, signature or contents fail, or its sha256 is not the registry's),
``old-format`` (a joblib pickle of an older skynet: ``skynet models convert``) or, for a folder
in a folder store that the registry does not know, ``unregistered`` (``skynet models register``).
The alias functions (promote, rollback, history) live in :mod:`skynet.api._aliases`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from skynet.api._context import open_artifacts, open_model_registry
from skynet.api._registering import register_trained, select_training_frame
from skynet.config import Settings
from skynet.errors import DataError, ModelError, StorageError
from skynet.storage.registry import ModelRegistry, ModelVersion, check_alias, check_name

__all__ = [
    "DEFAULT_ALIAS",
    "register_trained",
    "select_training_frame",
    "register_folder",
    "resolve",
    "load_trained",
    "model_folder",
    "list_models",
    "show_model",
    "convert_model",
    "delete_model",
    "gc_models",
    "lineage",
]

#: The alias a model reference falls back to, and the one the nightly DAGs promote.
DEFAULT_ALIAS = "production"
_ARTIFACT = "model.npz"
_MANIFEST = "manifest.json"


# -- registering ----------------------------------------------------------------------------
def register_folder(settings: Settings, source: str, alias: str | None = None) -> dict[str, Any]:
    """Register a saved model folder: one in the folder store that the registry lacks (a model
    from before the registry), or any folder path (copied into the store).

    Raises:
        ModelError: the folder is not a sound saved model. StorageError: no such folder.
    """
    from skynet.api._lineage import build_info, who
    from skynet.models import model_class, verify_model

    store = open_artifacts(settings)
    path = Path(source)
    if not path.is_dir():
        local = Path(settings.path(settings.models.store)) / check_name(source)
        if "://" in store.location or not local.is_dir():
            raise StorageError(
                store.name, f"no model folder {source!r} (a path, or a folder of {store.location})"
            )
        path = local
    manifest = verify_model(path)
    model = model_class(str(manifest["model_type"]))
    name = path.name
    uri = store.put(name, path)
    training = manifest.get("training") or {}
    info = dict(manifest.get("lineage") or {}) or {
        "selection": {"registered_from": str(path.resolve())},
        "data_digest": training.get("data_digest"),
        "train_start": training.get("start"),
        "train_end": training.get("end"),
        "n_rows": training.get("n_rows"),
        "dataset": None,
        "feature_digest": training.get("feature_digest"),
        **build_info(),
        "airflow": None,
        "parent": None,
    }
    with open_model_registry(settings) as registry:
        registry.register(ModelVersion(name=name, model_type=model.model_type, artifact_uri=uri,
                                       sha256=manifest["artifact"]["sha256"], params=manifest.get("params") or {},
                                       metrics=manifest.get("metrics") or {}, lineage=info, registered_by=who()))  # fmt: skip
        if alias is not None:
            registry.set_alias(model.model_type, check_alias(alias), name, who(), "registered", "promote")
    return show_model(settings, name)


def _manifest(folder: Path) -> dict[str, Any]:
    from skynet.models import read_manifest

    return read_manifest(folder)


# -- resolving and loading ------------------------------------------------------------------
def _parse(ref: str, model_type: str | None) -> tuple[str | None, str | None, str | None]:
    """(type, alias, name) of a reference; exactly one of alias/name."""
    from skynet.models import model_types

    if "@" not in ref:
        return model_type, None, check_name(ref)
    kind, _, alias = ref.partition("@")
    if kind not in model_types():
        raise ModelError(f"{ref!r}: unknown model type {kind!r} (known: {', '.join(model_types())})")
    if model_type is not None and kind != model_type:
        raise ModelError(f"{ref} names a {kind} model; a {model_type} model is needed here")
    return kind, check_alias(alias), None


def resolve(
    settings: Settings,
    ref: str | None = None,
    model_type: str | None = None,
    registry: ModelRegistry | None = None,
) -> tuple[ModelVersion, str]:
    """The registered version a reference names, and how it was found (for messages).

    Args:
        ref: ``NAME``, ``TYPE@ALIAS`` or None (then ``model_type`` is needed: ``TYPE@production``
            when that alias exists, else the newest version of the type).
        model_type: the type the caller needs (a version of another type is refused).
        registry: an open registry (default: the settings').

    Returns:
        (version, how): how is ``NAME``, ``TYPE@ALIAS (NAME)`` or ``the newest TYPE model, NAME``.

    Raises:
        StorageError: nothing registered under that name or alias, or the version was deleted.
        ModelError: a reference to another model type. DataError: a malformed reference.
    """
    if registry is None:
        with open_model_registry(settings) as opened:
            return resolve(settings, ref, model_type, opened)
    if ref is None and model_type is None:
        raise DataError("a model reference or a model type is needed")
    kind, alias, name = _parse(ref, model_type) if ref is not None else (model_type, None, None)
    if ref is None:
        assert kind is not None
        pointed = registry.alias(kind, DEFAULT_ALIAS)
        if pointed is not None:
            alias = DEFAULT_ALIAS
        else:
            newest = registry.versions(kind)
            if not newest:
                raise StorageError(
                    registry.name, f"no {kind} model in the registry (train one: skynet {kind} train)"
                )
            return newest[0], f"the newest {kind} model, {newest[0].name},"
    if alias is not None:
        assert kind is not None
        pointed = registry.alias(kind, alias)
        if pointed is None:
            known = ", ".join(a.reference for a in registry.aliases(kind)) or "none"
            raise StorageError(registry.name, f"no {kind}@{alias} (aliases of {kind}: {known}; promote one: "
                                              f"skynet models promote NAME --alias {alias})")  # fmt: skip
        name, how = pointed.name, f"{kind}@{alias} ({pointed.name})"
    else:
        how = str(name)
    assert name is not None
    version = registry.get(name)
    if version is None:
        raise StorageError(registry.name, _unregistered(settings, name))
    if version.status != "ready":
        raise StorageError(registry.name, f"model {name} was deleted")
    if kind is not None and version.model_type != kind:
        raise ModelError(f"model {name} is a {version.model_type} model, not a {kind}")
    return version, how


def _unregistered(settings: Settings, name: str) -> str:
    folder = Path(settings.path(settings.models.store)) / name
    if "://" not in settings.models.store and (folder / _MANIFEST).is_file():
        return f"model {name!r} is in the model store but not registered: skynet models register {name}"
    return f"no model named {name!r} in the registry (see `skynet models list`)"


def model_folder(settings: Settings, version: ModelVersion) -> Path:
    """A folder on this host holding the version's files, fetched from where it was stored.

    Raises:
        StorageError: the artifact is missing, unreachable, or (remote) does not match the registry.
    """
    from skynet.storage.artifacts import split_uri

    location, stored_name = split_uri(version.artifact_uri)
    return open_artifacts(settings, location).local_copy(stored_name, version.sha256, _ARTIFACT)


def _check_registered(version: ModelVersion, folder: Path) -> None:
    """The folder's manifest records the registry's sha256 (else a swapped artifact: ModelError)."""
    section = _manifest(folder).get("artifact") or {}
    actual = str(section.get("sha256"))
    if actual != version.sha256:
        raise ModelError(
            f"model artifact {folder / _ARTIFACT} is corrupt: sha256 {actual[:12]}… does not match the "
            f"registry's {version.sha256[:12]}…"
        )


def load_trained(settings: Settings, model_type: str, ref: str | None = None) -> tuple[str, Any]:
    """(name, model) of a registered model of ``model_type`` (see :func:`resolve` for ``ref``).

    A model that cannot be used is refused with one line naming it (and how it was chosen),
    never passed over for another.

    Raises:
        StorageError: no such model, or its artifact cannot be fetched; ModelError: a corrupt
            or old-format artifact, or a model of another type.
    """
    from skynet.models import model_class

    version, how = resolve(settings, ref, model_type)
    try:
        folder = model_folder(settings, version)
        model = model_class(model_type).load(folder)
        _check_registered(version, folder)
    except (ModelError, StorageError) as exc:
        if how == version.name:
            raise
        text = str(exc).removeprefix(f"{exc.adapter}: ") if isinstance(exc, StorageError) else str(exc)
        raise ModelError(
            f"{how} cannot be used: {text} (delete or retrain it, or name a sound model with --model; "
            "`skynet models list` shows each one's status)"
        ) from None
    return version.name, model


# -- listing --------------------------------------------------------------------------------
def _status(settings: Settings, version: ModelVersion) -> tuple[str, str | None]:
    """(status, problem) of a registered version: fetch, the models' checks, then the registry's sha256."""
    from skynet.models import LegacyModelError, verify_model

    try:
        folder = model_folder(settings, version)
        verify_model(folder)
        _check_registered(version, folder)
    except LegacyModelError as exc:
        return "old-format", str(exc)
    except (ModelError, StorageError) as exc:
        return "corrupt", str(exc)
    return "ok", None


def _aliases_of(registry: ModelRegistry) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for alias in registry.aliases():
        found.setdefault(alias.name, []).append(alias.alias)
    return found


def list_models(settings: Settings, model_type: str | None = None) -> list[dict[str, Any]]:
    """Registered models (name, type, created, rows, status, aliases, a few metrics, problem), newest first.

    Every model is verified (fetched, manifest, artifact, sha256s, signature, contents); a broken
    one is listed with ``status`` ``corrupt`` and its ``problem``, never left out. In a folder
    store, folders the registry does not know are listed too, as ``unregistered``.
    """
    from skynet.storage import LocalModelStore

    with open_model_registry(settings) as registry:
        versions, aliases = registry.versions(model_type), _aliases_of(registry)
        known = {v.name for v in registry.versions(model_type, include_deleted=True)}
    rows = []
    for version in versions:
        status, problem = _status(settings, version)
        numeric = {
            k: v for k, v in version.metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)
        }
        rows.append({"name": version.name, "type": version.model_type,
                     "created": version.registered_at.isoformat(timespec="seconds") + "Z",
                     "n_rows": version.lineage.get("n_rows"), "status": status,
                     "aliases": ",".join(sorted(aliases.get(version.name, []))),
                     "metrics": dict(list(numeric.items())[:4]), "problem": problem})  # fmt: skip
    if "://" not in settings.models.store:
        for row in LocalModelStore(settings.path(settings.models.store)).list(model_type):
            if row["name"] not in known:
                problem = f"not in the registry: skynet models register {row['name']}"
                rows.append({**{k: row[k] for k in ("name", "type", "created", "n_rows", "metrics")},
                             "status": "unregistered", "aliases": "", "problem": problem})  # fmt: skip
    return rows


def show_model(settings: Settings, name: str) -> dict[str, Any]:
    """A registered model: its manifest (when it can be read), the registry's record (URI,
    sha256, lineage, who and when), its aliases, ``status`` and ``problem``.

    Raises:
        StorageError: no model of that name (deleted ones are shown, with status ``deleted``).
    """
    with open_model_registry(settings) as registry:
        version = registry.get(check_name(name))
        if version is None:
            raise StorageError(registry.name, _unregistered(settings, name))
        aliases = sorted(_aliases_of(registry).get(name, []))
    shown: dict[str, Any] = {"name": name}
    if version.status == "ready":
        status, problem = _status(settings, version)
        try:
            folder = model_folder(settings, version)
            shown.update(_manifest(folder))
            shown["path"] = str(folder)
        except (ModelError, StorageError):
            pass  # the problem says why
    else:
        status, problem = "deleted", None
    shown.update(name=name, status=status, problem=problem, aliases=aliases, registry=version.to_dict())
    return shown


# -- converting, deleting -------------------------------------------------------------------
def convert_model(settings: Settings, name: str, trust_pickle: bool = False) -> dict[str, Any]:
    """Rewrite a registered model of an older skynet (a joblib pickle) in the pickle-free format,
    in its folder store, and register the new artifact's sha256.

    Args:
        name: the model's name.
        trust_pickle: the operator's explicit decision to unpickle it (which runs any code it
            holds); without it nothing is read.

    Returns:
        The converted model as :func:`show_model` shows it.

    Raises:
        ModelError: no ``trust_pickle``, already converted, the pickle is missing, corrupt or
            not a model of its type, or the model is not in a folder store. StorageError: no
            model of that name.
    """
    from dataclasses import replace

    from skynet.models import convert_model as convert

    with open_model_registry(settings) as registry:
        version, _ = resolve(settings, check_name(name), registry=registry)
        if not version.artifact_uri.startswith("file://"):
            raise ModelError(
                f"{name} is in {version.artifact_uri}: old pickle models exist only in folder stores"
            )
        if not trust_pickle:
            raise ModelError(
                f"converting {name} unpickles its old artifact, which runs any code it holds: pass "
                "--trust-pickle only for a model whose origin you trust (or train a new one)"
            )
        folder = model_folder(settings, version)
        convert(folder)
        registry.register(replace(version, sha256=_manifest(folder)["artifact"]["sha256"]))
    return show_model(settings, name)


def delete_model(settings: Settings, name: str) -> dict[str, Any]:
    """Delete a model's artifact (and this host's cached copy) and mark it deleted in the registry.

    Raises:
        StorageError: no such model, or an alias points at it (the message names the alias).
    """
    from skynet.storage.artifacts import ArtifactCache, split_uri

    with open_model_registry(settings) as registry:
        version = registry.delete(check_name(name))
    location, stored = split_uri(version.artifact_uri)
    removed = open_artifacts(settings, location).delete(stored)
    ArtifactCache(settings.path(settings.models.cache)).remove(version.sha256)
    return {
        "name": name,
        "type": version.model_type,
        "artifact": version.artifact_uri,
        "artifact_removed": removed,
    }


def gc_models(
    settings: Settings, keep: int, model_type: str | None = None, dry_run: bool = False
) -> dict[str, Any]:
    """Delete all but the ``keep`` newest versions of each type (never one an alias points at),
    their artifacts too, and drop cached artifacts no remaining version uses.

    Returns:
        ``deleted`` (names), ``kept`` (names), ``cache_dropped`` (digests), ``dry_run``.
    """
    from skynet.storage.artifacts import ArtifactCache

    if keep < 0:
        raise DataError(f"--keep must be 0 or more, got {keep}")
    with open_model_registry(settings) as registry:
        aliased = {a.name for a in registry.aliases(model_type)}
        by_type: dict[str, list[ModelVersion]] = {}
        for version in registry.versions(model_type):
            by_type.setdefault(version.model_type, []).append(version)
    doomed: list[str] = []
    kept: list[str] = []
    for versions in by_type.values():
        for rank, version in enumerate(versions):
            (kept if rank < keep or version.name in aliased else doomed).append(version.name)
    if not dry_run:
        for name in doomed:
            delete_model(settings, name)
    dropped: list[str] = []
    if not dry_run:
        with open_model_registry(settings) as registry:
            live = {v.sha256 for v in registry.versions()}
        dropped = ArtifactCache(settings.path(settings.models.cache)).prune(live)
    return {"deleted": doomed, "kept": kept, "cache_dropped": dropped, "dry_run": dry_run}


# -- lineage --------------------------------------------------------------------------------
def lineage(settings: Settings, ref: str) -> dict[str, Any]:
    """The chain data set -> model -> aliases of a model (a deleted one too).

    Returns:
        ``dataset`` (path, sha256, rows, and whether the file is here and unchanged),
        ``model`` (name, type, data and feature digests, build, Airflow run, parent, who and
        when), ``aliases`` (pointing at it now) and ``history`` (alias events naming it).
    """
    from skynet.storage.artifacts import sha256_of

    with open_model_registry(settings) as registry:
        found = resolve(settings, ref, registry=registry)[0] if "@" in ref else registry.get(check_name(ref))
        if found is None:
            raise StorageError(registry.name, _unregistered(settings, ref))
        version = found
        aliases = [a.reference for a in registry.aliases(version.model_type) if a.name == version.name]
        history = [e.to_dict() for e in registry.history(version.model_type)
                   if version.name in (e.old_name, e.new_name)]  # fmt: skip
    info = version.lineage
    dataset = dict(info.get("dataset") or {})
    if dataset.get("path"):
        path = Path(dataset["path"])
        dataset["here"] = path.is_file()
        dataset["unchanged"] = path.is_file() and sha256_of(path) == dataset.get("sha256")
    model = {"name": version.name, "type": version.model_type, "status": version.status,
             "artifact": version.artifact_uri, "sha256": version.sha256,
             "registered_by": version.registered_by,
             "registered_at": version.registered_at.isoformat(timespec="seconds"),
             **{k: info.get(k) for k in ("selection", "data_digest", "train_start", "train_end", "n_rows",
                                         "feature_digest", "skynet_version", "build_tag", "git_commit",
                                         "airflow", "parent")}}  # fmt: skip
    return {"dataset": dataset or None, "model": model, "aliases": aliases, "history": history}
