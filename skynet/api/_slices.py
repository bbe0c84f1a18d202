"""A search's data slice (materialised once, read by every worker) and the cross-validation of one point.

The command that starts a search materialises its training frame as parquet under
``models.datasets`` (:func:`materialise`): the frame goes through parquet once in memory, so
what is hashed is exactly what a worker reads back, and its **dataset hash** (sha256 of the
column names, dtypes and rows) names the slice: the file is
``<min>-<max>-<dates-hash>-<hash[:8]>.parquet`` and the ``search`` row records the full hash.
A worker (:func:`load_slice`) reads the file and checks the hash; where the file is not on its
host it rebuilds the slice from the store with the search's selection (a shared PostgreSQL
store, for example) and the hash must match again, so every point is scored on the same rows.
A worker process keeps the last two slices it read in memory.

:func:`cross_validate` fits a model per device-grouped fold and scores the held-out devices:
the user model's expected vote (MAE, RMSE, bias, accuracy, F1; unpersonalized: held-out
devices have no feedback), the estimation model's forecasts (MAE and RMSE of temperature and
humidity over every horizon), per fold and over all folds' rows together (fold -1).
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
from collections import OrderedDict
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from skynet.api._context import datasets_path
from skynet.config import Settings
from skynet.errors import DataError
from skynet.storage.experiments import OVERALL, Search

__all__ = ["digest", "materialise", "load_slice", "cross_validate", "slice_loader", "check_folds"]

_KEEP = 2
_FRAMES: OrderedDict[str, pd.DataFrame] = OrderedDict()
_LOCK = threading.Lock()


def digest(frame: pd.DataFrame) -> str:
    """The dataset hash of a frame: sha256 of its column names, dtypes and rows (index left out)."""
    h = hashlib.sha256(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


def _through_parquet(frame: pd.DataFrame) -> pd.DataFrame:
    buffer = io.BytesIO()
    frame.reset_index(drop=True).to_parquet(buffer, index=False)
    buffer.seek(0)
    return pd.read_parquet(buffer)


def materialise(settings: Settings, frame: pd.DataFrame) -> dict[str, Any]:
    """Write a search's frame under ``models.datasets`` (kept if there already); returns its
    ``path``, ``sha256`` (of the file), ``rows``, ``columns``, ``host`` and ``hash`` (the dataset hash)."""
    from skynet.api._lineage import write_dataset

    normal = _through_parquet(frame)
    value = digest(normal)
    stamps = pd.to_datetime(normal["timestamp"], errors="coerce") if "timestamp" in normal else pd.Series([])
    facts = {"start": None if stamps.empty else stamps.min(), "end": None if stamps.empty else stamps.max(),
             "data_digest": value, "feature_digest": value}  # fmt: skip
    info = write_dataset(datasets_path(settings), normal, facts)
    with _LOCK:
        _keep(value, normal)
    return {**info, "hash": value}


def _keep(value: str, frame: pd.DataFrame) -> None:
    _FRAMES[value] = frame
    _FRAMES.move_to_end(value)
    while len(_FRAMES) > _KEEP:
        _FRAMES.popitem(last=False)


def slice_loader(settings: Settings, model_type: str, device_ids: Any, progress: bool = False) -> Any:
    """``loader(start, end)`` of the frame a model type trains on, from the store."""
    if model_type == "user_model":
        from skynet.api.data import load_comfort_frame

        return lambda lo, hi: load_comfort_frame(settings, device_ids, lo, hi)
    from skynet.api.estimation import load_frame

    return lambda lo, hi: load_frame(settings, device_ids, lo, hi, progress=progress)


def load_slice(settings: Settings, search: Search) -> pd.DataFrame:
    """The rows every point of ``search`` is scored on, checked against its dataset hash.

    Raises:
        DataError: the file is not here and the slice cannot be rebuilt from the store (it was
            given as a file), or what was read or rebuilt does not match the hash.
    """
    from datetime import datetime

    from skynet.api._lineage import read_dataset

    with _LOCK:
        if search.dataset_hash in _FRAMES:
            _FRAMES.move_to_end(search.dataset_hash)
            return _FRAMES[search.dataset_hash]
    dataset = search.spec.get("dataset") or {}
    path = Path(str(dataset.get("path")))
    short = search.dataset_hash[:12]
    if path.is_file():
        frame, _ = read_dataset(path)
        if digest(frame) != search.dataset_hash:
            raise DataError(
                f"data set {path} is not the slice of search {search.id} (hash {short}…): it changed"
            )
    else:
        selection = search.spec.get("selection") or {}
        if selection.get("dataset") or selection.get("frame"):
            raise DataError(f"data set {path} of search {search.id} is not on this host: share models.datasets "
                            "between the worker hosts, or start searches from the store")  # fmt: skip
        when = [
            None if selection.get(k) is None else datetime.fromisoformat(selection[k])
            for k in ("start", "end")
        ]
        rebuilt = slice_loader(settings, search.model_type, selection.get("devices"))(*when)
        made = materialise(settings, rebuilt)
        if made["hash"] != search.dataset_hash:
            raise DataError(f"the store's rows for search {search.id} changed since it started (hash {short}…, now "
                            f"{made['hash'][:12]}…): share models.datasets between the worker hosts")  # fmt: skip
        frame = pd.read_parquet(made["path"])
    with _LOCK:
        _keep(search.dataset_hash, frame)
    return frame


def check_folds(frame: pd.DataFrame, folds: int) -> int:
    """The number of devices, when there are enough for ``folds`` device-grouped folds.

    Raises:
        DataError: no ``device_id`` column, or fewer devices than folds.
    """
    if "device_id" not in frame:
        raise DataError("the training frame has no device_id column: folds are grouped by device")
    devices = int(frame["device_id"].astype(str).nunique())
    if devices < folds:
        raise DataError(f"{devices} devices cannot be split into {folds} folds (set folds: in the grid file)")
    return devices


def _held_out(model_type: str, model: Any, test: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(truth, estimate) on held-out rows: votes and expected votes, or targets and forecasts."""
    if model_type == "user_model":
        return test["value"].to_numpy(float), model.predict(test, personalize=False)
    truth = test[model.targets].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    return truth, model.predict(test)[model.targets].to_numpy(float)


def _scores(model_type: str, truth: np.ndarray, estimate: np.ndarray) -> dict[str, float]:
    if model_type == "user_model":
        from skynet.models.user_model import score

        return score(truth, estimate)
    half = truth.shape[1] // 2  # temperature columns, then humidity (EstimationModel.targets)
    out = {}
    for suffix, part in (("", slice(0, half)), ("_humidity", slice(half, None))):
        error = (estimate[:, part] - truth[:, part]).ravel()
        error = error[np.isfinite(error)]
        out[f"mae{suffix}"] = float(np.mean(np.abs(error))) if error.size else float("nan")
        out[f"rmse{suffix}"] = float(np.sqrt(np.mean(error**2))) if error.size else float("nan")
    return out


def cross_validate(
    model_type: str,
    frame: pd.DataFrame,
    params: dict[str, Any],
    folds: int,
    seed: int,
    threads: int | None = None,
) -> dict[str, Any]:
    """Device-grouped K-fold cross-validation of one parameter set.

    Args:
        model_type: a key of :data:`skynet.models.MODELS`.
        frame: the search's slice.
        params: the point's parameters (``random_state`` defaults to ``seed``).
        folds: the number of folds (a device is never in both training and test).
        seed: the folds' shuffle and the models' seed.
        threads: BLAS/OpenMP threads (and the user model's ``n_jobs``) while fitting.

    Returns:
        ``metrics``: ``[fold, name, value]`` rows (fold -1: all held-out rows together),
        ``seconds`` and ``model_name`` (the type and the parameters' slug).

    Raises:
        DataError: fewer devices than folds; whatever the model raises on bad parameters.
    """
    from sklearn.model_selection import GroupKFold
    from threadpoolctl import threadpool_limits

    from skynet.models import model_class

    started = time.perf_counter()
    check_folds(frame, folds)
    params = {"random_state": seed, **params}
    cls: Any = model_class(model_type)  # a Model with fit (the contract every model follows)
    fitted_with = dict(params)
    if threads and model_type == "user_model" and "n_jobs" not in params:
        fitted_with["n_jobs"] = threads  # speed only: the results do not depend on it
    groups = frame["device_id"].astype(str).to_numpy()
    rows: list[list[Any]] = []
    truths, estimates = [], []
    splitter = GroupKFold(folds, shuffle=True, random_state=seed)
    with threadpool_limits(limits=threads) if threads else nullcontext():
        for fold, (train, test) in enumerate(splitter.split(frame, groups=groups)):
            model = cls(**fitted_with).fit(frame.iloc[train])
            truth, estimate = _held_out(model_type, model, frame.iloc[test])
            rows += [[fold, name, value] for name, value in _scores(model_type, truth, estimate).items()]
            truths.append(truth)
            estimates.append(estimate)
    overall = _scores(model_type, np.concatenate(truths), np.concatenate(estimates))
    rows += [[OVERALL, name, value] for name, value in overall.items()]
    plain = [[f, n, v if v is not None and np.isfinite(v) else None] for f, n, v in rows]
    return {"metrics": plain, "seconds": round(time.perf_counter() - started, 3),
            "model_name": f"{model_type}-{cls(**params).param_desc()}"}  # fmt: skip
