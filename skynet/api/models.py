"""Application functions about the model store: list and show trained models, and the two
steps every model's api module shares: save a trained model under its name, load one back."""

from __future__ import annotations

from typing import Any

from skynet.api._context import model_store_path
from skynet.config import Settings
from skynet.storage import LocalModelStore

__all__ = ["list_models", "show_model", "save_trained", "load_trained"]


def list_models(settings: Settings, model_type: str | None = None) -> list[dict[str, Any]]:
    """Models in the store (name, type, created, rows, a few metrics), newest first."""
    return LocalModelStore(model_store_path(settings)).list(model_type)


def show_model(settings: Settings, name: str) -> dict[str, Any]:
    """The manifest of a stored model (plus its name and path).

    Raises:
        StorageError: no model of that name.
    """
    return LocalModelStore(model_store_path(settings)).show(name)


def save_trained(settings: Settings, model: Any, metrics: dict[str, Any]) -> str:
    """Save a fitted model in the model store under its name; returns the name."""
    store = LocalModelStore(model_store_path(settings))
    name = store.model_name(model.model_type, model.param_desc(), model.training_)
    model.save(store.path_for(name, must_exist=False), metrics=metrics)
    return name


def load_trained(settings: Settings, model_type: str, name: str | None = None) -> tuple[str, Any]:
    """(name, model) of a stored model of ``model_type``: ``name`` or the newest one.

    Raises:
        StorageError: no such model (or none at all); ModelError: corrupt artifact or wrong type.
    """
    from skynet.errors import ModelError
    from skynet.models import model_class

    store = LocalModelStore(model_store_path(settings))
    name = name or store.newest(model_type)
    model = model_class(model_type).load(store.path_for(name))
    if model.model_type != model_type:
        raise ModelError(f"model {name} is a {model.model_type}, not a {model_type}")
    return name, model
