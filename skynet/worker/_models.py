"""What the worker loop asks about its models: a *models provider*.

The loop knows nothing of registries: between batches it asks the provider for a controller of
newer models (:meth:`ModelsProvider.take`) and, when there is one, hands it to its
:class:`~skynet.worker.Processor` (:meth:`~skynet.worker.Processor.use`), so every batch is
decided by one set of models and a swap is one reference. Each batch's decision documents are
stamped with the models that decided them (:meth:`ModelsProvider.stamp`), and each heartbeat
carries the provider's facts (:meth:`ModelsProvider.facts`: which models, from which alias,
which are missing and why). :class:`skynet.api._model_watch.ModelWatch` is the registry's
provider; loading and warming up happen off the decision path, in its own thread.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["ModelsProvider"]


class ModelsProvider(Protocol):
    """Where a worker's models come from (see the module docstring)."""

    def take(self) -> Any:
        """A controller of newer models to decide with from the next batch on, once; else None."""

    def stamp(self, docs: list[dict[str, Any]]) -> None:
        """Add the names of the models serving now to decision documents (in place)."""

    def facts(self) -> dict[str, Any]:
        """The models, for the heartbeat (JSON-able)."""
