"""Batch predictors: the :class:`Predictor` contract, skynet's own predictors, and finding one.

``predictor_class(ref)`` takes:

- a name of :data:`PREDICTORS` (skynet's own: ``user_model``, ``estimation``);
- ``package.module:Class``, any importable :class:`Predictor` subclass;
- the name of an entry point in the ``skynet.predictors`` group, which a package declares to
  plug its predictor in (``entry_points={"skynet.predictors": ["mine = pkg.mod:Mine"]}``).

Importing a class named on the command line is the operator's explicit choice; a saved model
still never names its class (see :mod:`skynet.models`).
"""

from __future__ import annotations

import importlib
from importlib import metadata

from skynet.errors import ModelError, brief
from skynet.models.predictors._base import Predictor
from skynet.models.predictors._skynet import EstimationPredictor, UserModelPredictor

__all__ = [
    "Predictor",
    "UserModelPredictor",
    "EstimationPredictor",
    "PREDICTORS",
    "ENTRY_POINT_GROUP",
    "predictor_class",
    "predictor_names",
]

#: skynet's own predictors, by the model type they wrap.
PREDICTORS: dict[str, type[Predictor]] = {"user_model": UserModelPredictor, "estimation": EstimationPredictor}
#: The entry point group third-party predictors are declared in.
ENTRY_POINT_GROUP = "skynet.predictors"


def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def predictor_names() -> list[str]:
    """skynet's predictors and the ones installed packages declare."""
    return sorted({*PREDICTORS, *_entry_points()})


def predictor_class(ref: str) -> type[Predictor]:
    """The :class:`Predictor` subclass ``ref`` names (see the module docstring).

    Raises:
        ModelError: nothing by that name, the module or class cannot be imported, or the class
            is not a :class:`Predictor`.
    """
    if ref in PREDICTORS:
        return PREDICTORS[ref]
    shown = brief(ref, 80)
    if ":" in ref:
        module_name, _, attr = ref.partition(":")
        try:
            found = getattr(importlib.import_module(module_name), attr)
        except ImportError as exc:
            raise ModelError(f"predictor {shown}: cannot import {module_name!r} ({exc})") from None
        except AttributeError:
            raise ModelError(f"predictor {shown}: module {module_name!r} has no {attr!r}") from None
    else:
        points = _entry_points()
        if ref not in points:
            raise ModelError(
                f"unknown predictor {shown} (known: {', '.join(predictor_names())}; "
                "or give package.module:Class)"
            )
        try:
            found = points[ref].load()
        except (ImportError, AttributeError) as exc:
            raise ModelError(f"predictor {shown} (entry point {points[ref].value}): {exc}") from None
    if not (isinstance(found, type) and issubclass(found, Predictor)):
        raise ModelError(f"predictor {shown} is not a subclass of skynet.models.predictors.Predictor")
    return found
