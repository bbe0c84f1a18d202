"""The control worker's models: loaded from the registry at start, kept current while it runs.

Which models: for each role of :data:`skynet.api.control.MODEL_TYPES` (``estimator`` ->
``estimation``, ``comfort`` -> ``user_model``) the version ``TYPE@ALIAS`` points at
(``models.worker_alias``, default ``production``); without that alias, when
``models.worker_newest`` is on (the default), the newest registered version of the type; else
none. A role without a model is *missing*: the fallback thermostat decides, the heartbeat says
why (``models_missing``) and ``skynet control health`` fails unless ``--allow-fallback``.

Noticing a promotion: a thread polls the registry every ``models.worker_poll_s`` seconds
(default 30, so a promotion is served within a minute). Polling rather than Redis pub/sub: it
works with every registry (any SQL database, ``memory://``), it sees every way an alias moves
(``models promote``, ``rollback``, the nightly gate, a fix made in SQL) with no publisher to
forget, a worker that was restarting when the alias moved cannot miss it, and it costs one
indexed query per role and poll. Pub/sub would tie the registry to the live store and still
need a poll at start.

Swapping: when a role's wanted version (its name *and* sha256: a retrained model may keep its
name) differs from the one served, the thread loads it (:func:`skynet.api.models.load_trained`:
fetched, checked by the models, sha256 equal to the registry's), builds a controller with it and
the other roles' models, and, when every role has a model, warms it up: a made-up device's
readings go through a throwaway :class:`skynet.worker.Processor`, the worker's own decision path
(first calls compile and fill caches; a model that cannot decide shows here: its last decision
must not fall back). Only then is the controller offered; the worker loop takes it between
batches (:meth:`ModelWatch.take`), so a batch is decided by one set of models and no batch waits
for a load. A version that fails to load or to decide is logged once and refused, and the models
served stay, until the registry points at another version (or its artifact changes).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from skynet.config import Settings
from skynet.errors import ModelError, SkynetError, StorageError
from skynet.storage.registry import ModelRegistry, ModelVersion

__all__ = ["ModelWatch", "Served", "wanted_versions", "WARM_UP_DEVICE"]

logger = logging.getLogger("skynet.worker")
#: The made-up device whose decisions warm new models up (never stored, never commanded).
WARM_UP_DEVICE = "skynet-model-warm-up"
_WARM_UP_READINGS = 16  # two minutes apart: every lag of the estimation model is a reading


@dataclass(frozen=True)
class Served:
    """One role's model as the worker serves it (``name`` None: missing, ``missing`` says why)."""

    name: str | None = None
    sha256: str | None = None
    #: where it came from: ``TYPE@ALIAS`` or ``newest TYPE``
    source: str | None = None
    missing: str | None = None

    @property
    def key(self) -> tuple[str, str] | None:
        return None if self.name is None or self.sha256 is None else (self.name, self.sha256)


def wanted_versions(
    settings: Settings, registry: ModelRegistry, alias: str, newest: bool
) -> dict[str, tuple[ModelVersion | None, str | None, str | None]]:
    """Per role, the version the worker should serve: ``(version, source, why missing)``.

    Raises:
        StorageError: the registry cannot be read.
    """
    from skynet.api.control import MODEL_TYPES
    from skynet.api.models import resolve

    out: dict[str, tuple[ModelVersion | None, str | None, str | None]] = {}
    for role, kind in MODEL_TYPES.items():
        ref = f"{kind}@{alias}"
        if registry.alias(kind, alias) is not None:
            try:  # the one resolver: the alias's version, refused if deleted or of another type
                out[role] = (resolve(settings, ref, kind, registry)[0], ref, None)
            except (ModelError, StorageError) as exc:
                out[role] = (None, ref, _text(exc))
            continue
        versions = registry.versions(kind) if newest else []
        if versions:
            out[role] = (versions[0], f"newest {kind}", None)
        else:
            why = f"no {ref} and no {kind} model in the registry" if newest else (
                f"no {ref} (models.worker_newest is off)")  # fmt: skip
            out[role] = (None, None, why)
    return out


def _text(exc: Exception) -> str:
    return str(exc).removeprefix(f"{exc.adapter}: ") if isinstance(exc, StorageError) else str(exc)


class ModelWatch:
    """The worker's models provider (see the module docstring and :class:`skynet.worker.ModelsProvider`).

    Args:
        settings: the registry, artifact store, ``models.worker_*``.
        make_controller: builds a controller from ``(estimator, comfort)`` (each may be None).
        alias, newest, poll_s: override ``models.worker_alias`` / ``worker_newest`` / ``worker_poll_s``.
    """

    def __init__(
        self,
        settings: Settings,
        make_controller: Callable[[Any, Any], Any],
        *,
        alias: str | None = None,
        newest: bool | None = None,
        poll_s: float | None = None,
    ) -> None:
        models = settings.models
        self.settings, self._make = settings, make_controller
        self.alias = alias or models.worker_alias
        self.newest = models.worker_newest if newest is None else newest
        self.poll_s = float(models.worker_poll_s if poll_s is None else poll_s)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._registry: ModelRegistry | None = None
        #: what the loop serves (facts, documents) and the newest set (served or offered)
        self._served: dict[str, Served] = {}
        self._latest: dict[str, Served] = {}
        self._models: dict[str, Any] = {}
        self._offer: tuple[Any, dict[str, Served]] | None = None
        self._latest_controller: Any = None
        self._refused: dict[str, tuple[tuple[str, str], str]] = {}
        self._kept: dict[str, str] = {}  # role -> why the registry's choice is not served (logged once)
        self._problem: str | None = None
        self._checked: str | None = None
        self._doc: dict[str, Any] = {}
        self.controller: Any = None

    # -- the worker's side ------------------------------------------------------------------
    def start(self) -> Any:
        """Load the models now and start watching the registry; returns the first controller."""
        from skynet.api.control import MODEL_TYPES

        self._models = dict.fromkeys(MODEL_TYPES)
        self._latest = {role: Served(missing="not loaded yet") for role in MODEL_TYPES}
        self._latest_controller = self._make(None, None)  # the thermostat, until models load
        self._publish(self._latest_controller, self._latest)
        self._check()
        self.take()
        logger.info("worker models: %s; the registry is checked %s", self.describe(),
                    f"every {self.poll_s:g} s" if self.poll_s > 0 else "at start only")  # fmt: skip
        if self.poll_s > 0:
            self._thread = threading.Thread(target=self._watch, name="skynet-model-watch", daemon=True)
            self._thread.start()
        return self.controller

    def take(self) -> Any:
        """The controller of newer models, once (the loop swaps it in between batches); else None."""
        with self._lock:
            offer, self._offer = self._offer, None
            if offer is None:
                return None
            self.controller, self._served = offer
            self._doc = {
                "models": {role: s.name for role, s in self._served.items()},
                "models_from": {role: s.source for role, s in self._served.items()},
            }
        if self._thread is not None:  # the first set is logged by start()
            logger.info("worker models now: %s", self.describe())
        return self.controller

    def stamp(self, docs: list[dict[str, Any]]) -> None:
        """Name the models served in each decision document (``models``, ``models_from``)."""
        fields = self._doc
        for doc in docs:
            doc.update(fields)

    def facts(self) -> dict[str, Any]:
        """The models for the heartbeat: names, sources, missing roles and why, refused versions."""
        with self._lock:
            served, refused = dict(self._served), dict(self._refused)
        out: dict[str, Any] = {
            "models": {role: s.name for role, s in served.items()},
            "models_from": {role: s.source for role, s in served.items()},
            "models_missing": {role: s.missing for role, s in served.items() if s.name is None},
        }
        if refused:
            out["models_refused"] = {role: f"{key[0]}: {why}" for role, (key, why) in refused.items()}
        if self._problem:
            out["models_problem"] = self._problem
        out["models_checked"] = self._checked
        return out

    def describe(self) -> str:
        """The models served, on one line (for logs)."""
        with self._lock:
            served = dict(self._served)
        return ", ".join(f"{role} {s.name} ({s.source})" if s.name else f"{role} none ({s.missing})"
                         for role, s in served.items())  # fmt: skip

    def close(self) -> None:
        """Stop watching (waits for a load in progress)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        if self._registry is not None:
            self._registry.close()
            self._registry = None

    # -- the watching thread ----------------------------------------------------------------
    def _watch(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self._check()
            except Exception:  # noqa: BLE001 - the watch must outlive any surprise; the models served stay
                logger.exception("worker models: the registry check failed; the models served stay")

    def _open(self) -> ModelRegistry:
        if self._registry is None:
            from skynet.api._context import open_model_registry

            self._registry = open_model_registry(self.settings)
        return self._registry

    def _publish(self, controller: Any, latest: dict[str, Served]) -> None:
        """Offer ``controller`` and what it serves to the loop (replacing an offer not taken yet)."""
        with self._lock:
            self._latest, self._latest_controller = dict(latest), controller
            self._offer = (controller, dict(latest))

    def _check(self) -> None:
        """Look at the registry once; load, verify and warm up what changed, and offer it."""
        try:
            wanted = wanted_versions(self.settings, self._open(), self.alias, self.newest)
        except SkynetError as exc:
            if self._registry is not None:
                self._registry.close()
                self._registry = None
            self._registry_failed(str(exc))
            return
        if self._problem:
            logger.warning("worker models: the registry can be read again")
        self._problem, self._checked = None, _now()
        latest, loaded = dict(self._latest), {}
        for role, (version, source, missing) in wanted.items():
            current = latest[role]
            if version is None:
                if current.name is None:
                    latest[role] = Served(source=source, missing=missing)
                else:
                    self._keep(role, f"{missing}; still serving {current.name}")
                continue
            self._kept.pop(role, None)
            key = (version.name, version.sha256)
            if current.key == key:
                with self._lock:
                    self._refused.pop(role, None)  # the registry went back to the model served
                if current.source != source:  # e.g. the newest model was promoted: same model, new source
                    latest[role] = replace(current, source=source)
                continue
            if role in self._refused and self._refused[role][0] == key:
                continue
            model = self._load(role, version, source)
            if model is not None:
                latest[role] = Served(version.name, version.sha256, source)
                loaded[role] = model
        if loaded:
            self._offer_models(latest, loaded)
        elif latest != self._latest:  # only where models come from, or why they are missing
            self._publish(self._latest_controller, latest)

    def _registry_failed(self, problem: str) -> None:
        if problem != self._problem:
            logger.warning("worker models: cannot read the registry (%s); the models served stay", problem)
        self._problem = problem
        latest = {role: served if served.name else replace(served, missing=f"the registry cannot be read: {problem}")
                  for role, served in self._latest.items()}  # fmt: skip
        if latest != self._latest:
            self._publish(self._latest_controller, latest)

    def _keep(self, role: str, why: str) -> None:
        if self._kept.get(role) != why:
            logger.warning("worker models: %s: %s", role, why)
            self._kept[role] = why

    def _load(self, role: str, version: ModelVersion, source: str | None) -> Any:
        """The version's model, loaded and verified; None (refused, logged once) when it cannot be."""
        from skynet.api.models import load_trained

        try:
            return load_trained(self.settings, version.model_type, version.name)[1]
        except (ModelError, StorageError) as exc:
            self._refuse(role, (version.name, version.sha256), f"{source}: {_text(exc)}")
            return None

    def _refuse(self, role: str, key: tuple[str, str], why: str) -> None:
        served = self._latest[role]
        still = f"still serving {served.name}" if served.name else "the fallback thermostat decides"
        logger.error("worker models: refused %s %s (%s); %s", role, key[0], why, still)
        with self._lock:
            self._refused[role] = (key, why)

    def _offer_models(self, latest: dict[str, Served], loaded: dict[str, Any]) -> None:
        """Build and warm up the controller of the new set; offer it, or refuse what was loaded."""
        models = {**self._models, **loaded}
        controller = self._make(models["estimator"], models["comfort"])
        problem = _warm_up(controller) if all(m is not None for m in models.values()) else None
        if problem is not None:
            for role in loaded:
                key = latest[role].key
                assert key is not None
                self._refuse(role, key, f"its warm-up decision fell back: {problem}")
                latest[role] = self._latest[role]
            if latest != self._latest:
                self._publish(self._latest_controller, latest)
            return
        with self._lock:
            for role in loaded:
                self._refused.pop(role, None)
        self._models = models
        self._publish(controller, latest)


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


class _WarmUpOnly(logging.Filter):
    """Drops the warm-up device's log lines (its fallbacks are reported once, by the watch)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return WARM_UP_DEVICE not in (record.args if isinstance(record.args, tuple) else ())


def _warm_up(controller: Any) -> str | None:
    """Decide for a made-up device through the worker's decision path; None when its last
    decision used the models, else the cause of its fallback (or failure)."""
    from skynet.storage.live import Entry
    from skynet.worker import Processor, make_event

    start = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(hours=1)
    events = [make_event(WARM_UP_DEVICE, "target", time=start, event_id="t", mode="comfort")]
    for i in range(_WARM_UP_READINGS):
        events.append(make_event(WARM_UP_DEVICE, "reading", time=start + timedelta(minutes=2 * i + 1),
                                 event_id=f"r{i}", temperature=27.0 + 0.05 * i, humidity=55.0,
                                 outdoor_temperature=32.0, outdoor_humidity=60.0))  # fmt: skip
    entries = [Entry(0, str(i + 1), text, 1, WARM_UP_DEVICE) for i, text in enumerate(events)]
    quiet = _WarmUpOnly()
    loggers = [logging.getLogger(name) for name in ("skynet.control", "skynet.worker")]
    for each in loggers:
        each.addFilter(quiet)
    try:
        result = Processor(controller, "model-warm-up").process(entries, {})
    except Exception as exc:  # noqa: BLE001 - a model that breaks the decision path is refused
        return f"{type(exc).__name__}: {exc}"
    finally:
        for each in loggers:
            each.removeFilter(quiet)
    if result.dead:
        return result.dead[-1][1]
    if not result.docs:
        return "no decision was made"
    return result.docs[-1].get("fallback")
