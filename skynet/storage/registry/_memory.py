"""An in-process model registry for ``memory://`` URLs: for tests and embedded demos.

Registries opened on the same URL in one process share their contents, like
:mod:`skynet.storage.memory`. Versions are frozen dataclasses holding JSON copies, so callers
cannot change what is stored through what they passed or read.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field, replace
from typing import Any

from skynet.errors import StorageError
from skynet.storage.registry._base import DELETED, Alias, AliasEvent, ModelRegistry, ModelVersion

__all__ = ["MemoryRegistry"]


@dataclass
class _State:
    versions: dict[str, ModelVersion] = field(default_factory=dict)
    aliases: dict[tuple[str, str], str] = field(default_factory=dict)
    events: list[AliasEvent] = field(default_factory=list)


_SHARED: dict[str, _State] = {}
_LOCK = threading.Lock()


def _copy(version: ModelVersion) -> ModelVersion:
    return replace(
        version,
        params=copy.deepcopy(version.params),
        metrics=copy.deepcopy(version.metrics),
        lineage=copy.deepcopy(version.lineage),
    )


class MemoryRegistry(ModelRegistry):
    """A model registry kept in this process's memory (nothing survives the process).

    Args:
        url: ``memory://`` or ``memory://<name>``; registries with the same URL share contents.
    """

    name = "registry[memory]"

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        with _LOCK:
            self._state = _SHARED.setdefault(url, _State())

    def __repr__(self) -> str:
        return f"MemoryRegistry({self.url!r})"

    def _register(self, version: ModelVersion) -> None:
        with _LOCK:
            self._state.versions[version.name] = _copy(version)

    def _get(self, name: str) -> ModelVersion | None:
        with _LOCK:
            found = self._state.versions.get(name)
            return None if found is None else _copy(found)

    def _versions(self, model_type: str | None) -> list[ModelVersion]:
        with _LOCK:
            return [_copy(v) for v in self._state.versions.values() if model_type in (None, v.model_type)]

    def _delete(self, name: str) -> ModelVersion:
        with _LOCK:
            found = self._state.versions.get(name)
            if found is None:
                raise StorageError(self.name, f"no model named {name!r} is registered")
            self._refuse_aliased(name, self._aliases_locked(None))
            self._state.versions[name] = replace(found, status=DELETED)
            return _copy(found)

    def _set_alias(self, event: AliasEvent) -> AliasEvent:
        with _LOCK:
            new_name = event.new_name
            assert new_name is not None
            self._target(self._state.versions.get(new_name), event)
            key = (event.model_type, event.alias)
            event = replace(event, old_name=self._state.aliases.get(key))
            self._state.aliases[key] = new_name
            self._state.events.append(event)
            return event

    def _aliases_locked(self, model_type: str | None) -> list[Alias]:
        return [Alias(t, a, n) for (t, a), n in self._state.aliases.items() if model_type in (None, t)]

    def _aliases(self, model_type: str | None) -> list[Alias]:
        with _LOCK:
            return self._aliases_locked(model_type)

    def _history(self, model_type: str | None, alias: str | None) -> list[AliasEvent]:
        with _LOCK:
            return [
                e
                for e in self._state.events
                if model_type in (None, e.model_type) and alias in (None, e.alias)
            ]

    def describe(self) -> dict[str, Any]:
        with _LOCK:
            return {
                "adapter": self.name,
                "url": self.url,
                "versions": len(self._state.versions),
                "aliases": len(self._state.aliases),
            }
