"""The model registry contract: model versions, aliases and each alias's history.

A :class:`ModelVersion` is one trained model: its name (``<type>-<params>-<dates-hash>-
<feature-hash>``, the same for the same parameters on the same data), type, parameters,
metrics, where its artifact lives (``artifact_uri``) with the sha256 of its model file, its
lineage (a JSON object: data selection and digest, data set, feature digest, versions, build,
Airflow run, parent), who registered it and when, and its ``status``: ``ready``, or
``deleted`` (the row stays, so alias history and lineage can still name it).

An alias (``production``) belongs to a model type and points at one version; every change is
an :class:`AliasEvent` (who, when, why, from which version to which, ``promote`` or
``rollback``). :meth:`ModelRegistry.set_alias` moves an alias and records the event in one
step; :meth:`ModelRegistry.delete` refuses a version an alias points at.

Public methods validate their input (:class:`~skynet.errors.DataError`) and call the
adapter's ``_`` methods; adapters raise :class:`~skynet.errors.StorageError` naming themselves.
"""

from __future__ import annotations

import json
import math
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from skynet.errors import DataError, StorageError, brief

__all__ = [
    "ModelRegistry",
    "ModelVersion",
    "Alias",
    "AliasEvent",
    "READY",
    "DELETED",
    "ACTIONS",
    "check_alias",
    "check_name",
    "utc_now",
]

READY, DELETED = "ready", "deleted"
ACTIONS = ("promote", "rollback")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,254}$")
_ALIAS = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_MAX_REASON = 2000
_MAX_WHO = 255


def utc_now() -> datetime:
    """Now, naive UTC, to the microsecond (what the registry stores)."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class ModelVersion:
    """One registered model version (see the module docstring)."""

    name: str
    model_type: str
    artifact_uri: str
    sha256: str
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    lineage: dict[str, Any] = field(default_factory=dict)
    registered_by: str = ""
    registered_at: datetime = field(default_factory=utc_now)
    status: str = READY

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (time as ISO text)."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["registered_at"] = self.registered_at.isoformat(timespec="microseconds")
        return out


@dataclass(frozen=True)
class Alias:
    """Where an alias of a model type points now."""

    model_type: str
    alias: str
    name: str

    @property
    def reference(self) -> str:
        """``TYPE@ALIAS``."""
        return f"{self.model_type}@{self.alias}"


@dataclass(frozen=True)
class AliasEvent:
    """One change of an alias (``old_name`` None: it was new)."""

    model_type: str
    alias: str
    old_name: str | None
    new_name: str | None
    who: str
    time: datetime
    reason: str | None
    action: str

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["time"] = self.time.isoformat(timespec="seconds")
        return out


def check_name(name: Any) -> str:
    """A model version name (letters, digits, ``_.+-``; no path), else DataError."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise DataError(f"{brief(name, 80)} is not a model name (letters, digits and '_.+-', at most 255)")
    return name


def check_alias(alias: Any) -> str:
    """An alias name (lower-case letters, digits, ``_-``; starts with a letter), else DataError."""
    if not isinstance(alias, str) or not _ALIAS.match(alias):
        raise DataError(
            f"{brief(alias, 80)} is not an alias name (a lower-case letter, then letters, digits, '_' or '-')"
        )
    return alias


def _check_type(model_type: Any) -> str:
    if not isinstance(model_type, str) or not _TYPE.match(model_type):
        raise DataError(f"{brief(model_type, 80)} is not a model type")
    return model_type


def _check_json(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DataError(f"{what} must be a JSON object, got {type(value).__name__}")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what} is not plain JSON ({exc})") from None
    return value


def _finite(metrics: dict[str, Any]) -> dict[str, Any]:
    """Metrics with non-finite floats as None (strict JSON has no NaN)."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in metrics.items()}


class ModelRegistry(ABC):
    """Model versions, aliases and alias history, chosen by URL (see :func:`open_registry`)."""

    #: Short adapter name used in error messages, e.g. ``"registry[sqlite]"``.
    name: str = "registry"

    # -- versions --------------------------------------------------------------------------
    def register(self, version: ModelVersion) -> ModelVersion:
        """Add a version, or replace the one of the same name (a retrained model: the same
        parameters on the same data); aliases pointing at it stay. Returns what was stored.

        Raises:
            DataError: a bad name, type, sha256 or non-JSON params/metrics/lineage.
        """
        check_name(version.name)
        _check_type(version.model_type)
        if not re.fullmatch(r"[0-9a-f]{64}", str(version.sha256)):
            raise DataError(f"model {version.name}: sha256 {brief(version.sha256, 80)} is not 64 hex digits")
        if not version.artifact_uri or len(version.artifact_uri) > 1024:
            raise DataError(f"model {version.name}: artifact_uri must be 1 to 1024 characters")
        stored = ModelVersion(
            name=version.name,
            model_type=version.model_type,
            artifact_uri=version.artifact_uri,
            sha256=version.sha256,
            params=_check_json(version.params, "params"),
            metrics=_check_json(_finite(version.metrics), "metrics"),
            lineage=_check_json(version.lineage, "lineage"),
            registered_by=str(version.registered_by)[:_MAX_WHO],
            registered_at=version.registered_at,
            status=READY,
        )
        self._register(stored)
        return stored

    def get(self, name: str) -> ModelVersion | None:
        """The version of that name (deleted ones too), or None."""
        return self._get(check_name(name))

    def versions(self, model_type: str | None = None, include_deleted: bool = False) -> list[ModelVersion]:
        """Versions (of one type), newest registration first."""
        found = self._versions(None if model_type is None else _check_type(model_type))
        found = [v for v in found if include_deleted or v.status == READY]
        return sorted(found, key=lambda v: (v.registered_at, v.name), reverse=True)

    def delete(self, name: str) -> ModelVersion:
        """Mark a version deleted (its row stays for history); returns it as it was.

        Raises:
            StorageError: no such version, or an alias points at it (the message names them).
        """
        return self._delete(check_name(name))

    # -- aliases ---------------------------------------------------------------------------
    def set_alias(
        self,
        model_type: str,
        alias: str,
        name: str,
        who: str,
        reason: str | None = None,
        action: str = "promote",
    ) -> AliasEvent:
        """Point ``model_type@alias`` at version ``name`` and record the event, in one step.

        Raises:
            DataError: a bad alias, action or reason. StorageError: the version does not
                exist, is deleted, or is of another type.
        """
        _check_type(model_type)
        check_alias(alias)
        check_name(name)
        if action not in ACTIONS:
            raise DataError(f"alias action {brief(action, 40)} is not one of {', '.join(ACTIONS)}")
        if reason is not None and len(reason) > _MAX_REASON:
            raise DataError(f"the reason is {len(reason):,} characters long; at most {_MAX_REASON}")
        event = AliasEvent(model_type, alias, None, name, str(who)[:_MAX_WHO], utc_now(), reason, action)
        return self._set_alias(event)

    def aliases(self, model_type: str | None = None) -> list[Alias]:
        """Current aliases (of one type), by type then alias."""
        found = self._aliases(None if model_type is None else _check_type(model_type))
        return sorted(found, key=lambda a: (a.model_type, a.alias))

    def alias(self, model_type: str, alias: str) -> Alias | None:
        """Where ``model_type@alias`` points, or None."""
        check_alias(alias)
        return next((a for a in self.aliases(model_type) if a.alias == alias), None)

    def history(self, model_type: str | None = None, alias: str | None = None) -> list[AliasEvent]:
        """Alias events (of one type, of one alias), oldest first."""
        if alias is not None:
            check_alias(alias)
        return self._history(None if model_type is None else _check_type(model_type), alias)

    # -- adapter ---------------------------------------------------------------------------
    @abstractmethod
    def _register(self, version: ModelVersion) -> None: ...

    @abstractmethod
    def _get(self, name: str) -> ModelVersion | None: ...

    @abstractmethod
    def _versions(self, model_type: str | None) -> list[ModelVersion]: ...

    @abstractmethod
    def _delete(self, name: str) -> ModelVersion: ...

    @abstractmethod
    def _set_alias(self, event: AliasEvent) -> AliasEvent:
        """Fill ``event.old_name`` from the current alias, move it, store the event; return it."""

    @abstractmethod
    def _aliases(self, model_type: str | None) -> list[Alias]: ...

    @abstractmethod
    def _history(self, model_type: str | None, alias: str | None) -> list[AliasEvent]: ...

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """The adapter, its (password-masked) URL and counts of versions and aliases."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> ModelRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- shared checks for adapters --------------------------------------------------------
    def _target(self, version: ModelVersion | None, event: AliasEvent) -> None:
        """Raise unless ``version`` can take the alias of ``event``."""
        if version is None:
            raise StorageError(self.name, f"no model named {event.new_name!r} is registered")
        if version.status != READY:
            raise StorageError(self.name, f"model {event.new_name} was deleted; it cannot take an alias")
        if version.model_type != event.model_type:
            raise StorageError(
                self.name,
                f"model {event.new_name} is a {version.model_type} model, not a {event.model_type}: "
                f"it cannot be {event.model_type}@{event.alias}",
            )

    def _refuse_aliased(self, name: str, aliases: list[Alias]) -> None:
        pointing = [a.reference for a in aliases if a.name == name]
        if pointing:
            raise StorageError(
                self.name,
                f"model {name} is {', '.join(pointing)}: promote another model to that alias (or roll it "
                "back) before deleting it",
            )
