"""Registering a trained model: save it, put it in the artifact store, register it with its
lineage (the one way in: :func:`register_trained`, re-exported by :mod:`skynet.api.models`),
and choosing the frame a model is trained on (the store's, a given one, or a materialised
data set read back exactly).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from skynet.api._context import datasets_path, open_artifacts, open_model_registry
from skynet.config import Settings
from skynet.errors import DataError
from skynet.storage.registry import ModelVersion, check_alias

__all__ = ["register_trained", "select_training_frame"]


def select_training_frame(
    settings: Settings,
    loader: Callable[[datetime | None, datetime | None], Any],
    device_ids: Sequence[str] | None,
    start: datetime | None,
    end: datetime | None,
    frame: Any,
    dataset: str | Path | None,
    holdout_days: float,
) -> tuple[Any, dict[str, Any], dict[str, Any] | None]:
    """(frame, selection, data set) to train on: a materialised data set read back as it was
    written, a frame given by the caller, or ``loader(start, end)`` with the last
    ``holdout_days`` before ``end`` left out.

    Raises:
        DataError: a data set together with another selection, a negative or end-less
            hold-out, or an unreadable data set.
    """
    from skynet.api._lineage import read_dataset

    if holdout_days < 0:
        raise DataError(f"--holdout-days must be 0 or more, got {holdout_days:g}")
    if dataset is not None:
        if frame is not None or device_ids or start or end or holdout_days:
            raise DataError("--dataset is the whole selection: drop --device/--start/--end/--holdout-days")
        data, sha = read_dataset(dataset)
        path = str(Path(dataset).resolve())
        return data, {"dataset": path}, {"path": path, "sha256": sha, "rows": int(len(data)),
                                         "columns": len(data.columns)}  # fmt: skip
    if holdout_days:
        if end is None:
            raise DataError("--holdout-days needs --end: the held-out days are the ones just before it")
        end = end - timedelta(days=holdout_days)
    selection = {
        "devices": list(device_ids) if device_ids else None,
        "start": None if start is None else start.isoformat(),
        "end": None if end is None else end.isoformat(),
        "holdout_days": holdout_days or None,
        "frame": None if frame is None else "given by the caller",
    }
    return (loader(start, end) if frame is None else frame), selection, None


def _parent(settings: Settings, model_type: str, name: str, dataset: dict[str, Any] | None) -> str | None:
    """The newest other version trained on the same data set file (a retrain from it), or None."""
    if not dataset or not dataset.get("sha256"):
        return None
    with open_model_registry(settings) as registry:
        for version in registry.versions(model_type):
            if (
                version.name != name
                and (version.lineage.get("dataset") or {}).get("sha256") == dataset["sha256"]
            ):
                return version.name
    return None


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(values, default=str))


def register_trained(
    settings: Settings,
    model: Any,
    metrics: dict[str, Any],
    *,
    frame: Any = None,
    selection: dict[str, Any] | None = None,
    dataset: dict[str, Any] | None = None,
    parent: str | None = None,
    alias: str | None = None,
    reason: str | None = None,
) -> str:
    """Save a fitted model to the artifact store and register it with its lineage; returns its name.

    Args:
        settings: the effective configuration.
        model: a fitted skynet model (its ``training_`` names the data).
        metrics: figures for the manifest and the registry.
        frame: the training frame, materialised as parquet under ``models.datasets``
            (unless ``dataset`` already describes the file it was read from).
        selection: how the data was chosen (devices, start, end, ``dataset``).
        dataset: the data set the model was trained from (``path``, ``sha256``, ...).
        parent: the model this one was derived from, if any.
        alias: an alias to point at the new version (e.g. ``candidate`` for the promotion gate).
        reason: why (recorded with the alias).

    Raises:
        StorageError: the artifact store or registry failed (nothing is registered then).
    """
    from skynet.api._lineage import airflow_run, build_info, who, write_dataset
    from skynet.models import read_manifest
    from skynet.storage import LocalModelStore

    training = dict(getattr(model, "training_", {}) or {})
    name = LocalModelStore.model_name(model.model_type, model.param_desc(), training)
    if alias is not None:
        check_alias(alias)
    if dataset is None and frame is not None:
        dataset = write_dataset(datasets_path(settings), frame, training)
    parent = parent or _parent(settings, model.model_type, name, dataset)
    info = {
        "selection": selection or {},
        "data_digest": training.get("data_digest"),
        "train_start": training.get("start"),
        "train_end": training.get("end"),
        "n_rows": training.get("n_rows"),
        "dataset": dataset,
        "feature_digest": training.get("feature_digest"),
        **build_info(),
        "airflow": airflow_run(),
        "parent": parent,
    }
    store = open_artifacts(settings)
    cache = Path(settings.path(settings.models.cache))
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=cache))
    try:
        model.save(staging / name, metrics=metrics, lineage=info)
        sha = read_manifest(staging / name)["artifact"]["sha256"]
        uri = store.put(name, staging / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    user = who()
    with open_model_registry(settings) as registry:
        registry.register(ModelVersion(name=name, model_type=model.model_type, artifact_uri=uri, sha256=sha,
                                       params=_plain(model.get_params()), metrics=_plain(metrics), lineage=info,
                                       registered_by=user))  # fmt: skip
        if alias is not None:
            registry.set_alias(model.model_type, alias, name, user, reason or "trained", "promote")
    return name
