"""Application functions about the model store: list, show, verify and convert trained models,
and the two steps every model's api module shares: save a trained model under its name, load
one back (the newest of its type by default, and then only if it is sound).

A model's ``status`` is ``ok``, ``corrupt`` (its manifest, artifact, digest, signature or
contents fail :func:`skynet.models.verify_model`) or ``old-format`` (a joblib pickle of an
older skynet, which is never unpickled: retrain it or ``skynet models convert``).
"""

from __future__ import annotations

from typing import Any

from skynet.api._context import model_store_path
from skynet.config import Settings
from skynet.errors import ModelError
from skynet.storage import LocalModelStore

__all__ = ["list_models", "show_model", "convert_model", "save_trained", "load_trained"]


def _status(store: LocalModelStore, name: str, problem: str | None) -> tuple[str, str | None]:
    """(status, problem) of a stored model: the store's word on its manifest, then the models'."""
    from skynet.models import LegacyModelError, verify_model

    if problem is not None:
        return "corrupt", problem
    try:
        verify_model(store.path_for(name))
    except LegacyModelError as exc:
        return "old-format", str(exc)
    except ModelError as exc:
        return "corrupt", str(exc)
    return "ok", None


def list_models(settings: Settings, model_type: str | None = None) -> list[dict[str, Any]]:
    """Models in the store (name, type, created, rows, status, a few metrics, problem), newest first.

    Every model is verified (manifest, artifact, sha256, signature, contents); a broken one is
    listed with ``status`` ``corrupt`` and its ``problem``, never left out.
    """
    store = LocalModelStore(model_store_path(settings))
    rows = store.list(model_type)
    for row in rows:
        row["status"], row["problem"] = _status(store, row["name"], row["problem"])
    return [
        {k: row[k] for k in ("name", "type", "created", "n_rows", "status", "metrics", "problem")}
        for row in rows
    ]


def show_model(settings: Settings, name: str) -> dict[str, Any]:
    """The manifest of a stored model (plus its name, path, ``status`` and ``problem``).

    Raises:
        StorageError: no model of that name.
    """
    store = LocalModelStore(model_store_path(settings))
    shown = store.show(name)
    shown["status"], shown["problem"] = _status(store, name, shown.pop("problem"))
    return shown


def convert_model(settings: Settings, name: str, trust_pickle: bool = False) -> dict[str, Any]:
    """Rewrite a stored model of an older skynet (a joblib pickle) in the pickle-free format.

    Args:
        name: the model's name in the store.
        trust_pickle: the operator's explicit decision to unpickle it (which runs any code it
            holds); without it nothing is read.

    Returns:
        The converted model as :func:`show_model` shows it.

    Raises:
        ModelError: no ``trust_pickle``, already converted, or the pickle is missing, corrupt or
            not a model of its type. StorageError: no model of that name.
    """
    from skynet.models import convert_model as convert

    store = LocalModelStore(model_store_path(settings))
    path = store.path_for(name)
    if not trust_pickle:
        raise ModelError(
            f"converting {name} unpickles its old artifact, which runs any code it holds: pass "
            "--trust-pickle only for a model whose origin you trust (or train a new one)"
        )
    convert(path)
    return show_model(settings, name)


def save_trained(settings: Settings, model: Any, metrics: dict[str, Any]) -> str:
    """Save a fitted model in the model store under its name; returns the name."""
    store = LocalModelStore(model_store_path(settings))
    name = store.model_name(model.model_type, model.param_desc(), model.training_)
    model.save(store.path_for(name, must_exist=False), metrics=metrics)
    return name


def load_trained(settings: Settings, model_type: str, name: str | None = None) -> tuple[str, Any]:
    """(name, model) of a stored model of ``model_type``: ``name`` or the newest one.

    The newest model is the newest folder of that type whatever its state: a corrupt one is
    refused with one line naming it, never passed over for an older model.

    Raises:
        StorageError: no such model (or none at all); ModelError: a corrupt or old-format
            artifact, or a model of another type.
    """
    from skynet.models import model_class

    store = LocalModelStore(model_store_path(settings))
    newest = name is None
    name = name or store.newest(model_type)
    try:
        model = model_class(model_type).load(store.path_for(name))
    except ModelError as exc:
        if not newest:
            raise
        raise type(exc)(
            f"the newest {model_type} model, {name}, cannot be used: {exc} "
            "(delete or retrain it, or name a sound model with --model; "
            "`skynet models list` shows each one's status)"
        ) from None
    return name, model
