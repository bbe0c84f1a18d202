"""Where a model came from: who trains it where, with which build, in which Airflow run, on
which materialised data set.

Training frames are written as parquet under ``models.datasets``
(``{data_dir}/data/processed/train`` by default), named
``<min>-<max>-<dates-hash>-<feature-hash>.parquet``: the first and last day of the frame and
the last two parts of the model's own name, so a model and its data set name each other. A
model trained with ``--dataset PATH`` reads exactly that file back (same rows, same dtypes, so
the same data digest and, with the same parameters and seed, the same model name).
"""

from __future__ import annotations

import getpass
import os
import re
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from skynet import __version__
from skynet.errors import DataError
from skynet.storage import LocalModelStore
from skynet.storage.artifacts import sha256_of

__all__ = ["who", "build_info", "airflow_run", "dataset_file_name", "write_dataset", "read_dataset"]

#: Release tags as skynet's builds name them (``0.1.0-b42``).
_TAG = re.compile(r"^[0-9][A-Za-z0-9.]*-b[0-9]+$")
_AIRFLOW = {
    "run_id": "AIRFLOW_CTX_DAG_RUN_ID",
    "dag_id": "AIRFLOW_CTX_DAG_ID",
    "task_id": "AIRFLOW_CTX_TASK_ID",
}


def who() -> str:
    """``user@host`` of this process (the user from the environment when it has no passwd entry)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = os.environ.get("USER") or f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def _git_commit() -> str | None:
    """``$SKYNET_GIT_COMMIT``, else the commit of a git checkout skynet runs from, else None."""
    if os.environ.get("SKYNET_GIT_COMMIT"):
        return os.environ["SKYNET_GIT_COMMIT"]
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None  # an installed wheel or a PEX: no checkout to ask
    try:
        done = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=5, check=False)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", commit) else None


def _build_tag() -> str | None:
    """``$SKYNET_BUILD_TAG``, else the tag of the PEX running this (``ROOT/shared/pex/TAG.pex``)."""
    if os.environ.get("SKYNET_BUILD_TAG"):
        return os.environ["SKYNET_BUILD_TAG"]
    pex = os.environ.get("PEX")  # set by a running PEX: its own path (a release links to TAG.pex)
    if pex:
        stem = Path(pex).resolve().name.removesuffix(".pex")
        if _TAG.match(stem):
            return stem
    return None


def build_info() -> dict[str, Any]:
    """skynet's version, build tag and git commit (None when unknown)."""
    return {"skynet_version": __version__, "build_tag": _build_tag(), "git_commit": _git_commit()}


def airflow_run() -> dict[str, Any] | None:
    """The Airflow run training this model (from ``AIRFLOW_CTX_*``), or None outside Airflow."""
    if not os.environ.get(_AIRFLOW["run_id"]):
        return None
    return {key: os.environ.get(variable) for key, variable in _AIRFLOW.items()}


def _day(value: Any) -> str:
    stamp = pd.to_datetime(value, errors="coerce") if value is not None else pd.NaT
    return "none" if pd.isna(stamp) else stamp.strftime("%Y%m%d")


def dataset_file_name(training: dict[str, Any]) -> str:
    """``<min>-<max>-<dates-hash>-<feature-hash>.parquet`` of a model's training facts."""
    dates_hash, feature_hash = LocalModelStore.data_hashes(training)
    return f"{_day(training.get('start'))}-{_day(training.get('end'))}-{dates_hash}-{feature_hash}.parquet"


def write_dataset(folder: Path, frame: pd.DataFrame, training: dict[str, Any]) -> dict[str, Any]:
    """Write a training frame as parquet in ``folder`` (kept when that file exists already: the
    name is its content's); returns its ``path``, ``sha256``, ``rows``, ``columns`` and ``host``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / dataset_file_name(training)
    if not path.is_file():
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
        os.close(fd)
        try:
            frame.reset_index(drop=True).to_parquet(tmp, index=False)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return {"path": str(path), "sha256": sha256_of(path), "rows": int(len(frame)), "columns": len(frame.columns),
            "host": socket.gethostname()}  # fmt: skip


def read_dataset(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, str]:
    """(frame, sha256) of a materialised data set.

    Raises:
        DataError: the file is missing or not parquet.
    """
    file = Path(path)
    if not file.is_file():
        raise DataError(f"data set {file} does not exist")
    try:
        frame = pd.read_parquet(file)
    except (OSError, ValueError) as exc:
        raise DataError(f"data set {file} is not a parquet file ({str(exc)[:200]})") from None
    return frame, sha256_of(file)
