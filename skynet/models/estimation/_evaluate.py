"""Judge the estimation model on devices it never saw, next to persistence and a fitted RC model.

The split is by device: the model learns from the *training* devices' whole history; each
*test* device's history is cut in time at ``calibration`` (default its first half). The RC
baseline is fitted per test device on that first part (a gray-box model is calibrated on
the building it runs in); everything is scored on the second part, on the same rows and
targets. The estimation model never sees a test device at all, so the comparison favours
the RC model, not ours.

Pure: takes frames, returns tables and predictions; :func:`plot_forecasts` writes PNGs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from skynet.errors import DataError
from skynet.models.estimation._baselines import Persistence, RcModel
from skynet.models.estimation._model import EstimationModel

__all__ = ["Evaluation", "evaluate", "split_devices", "score", "plot_forecasts", "METHODS"]

#: Column names of the methods in the tables.
METHODS = ("estimation", "persistence", "rc")


@dataclass
class Evaluation:
    """What :func:`evaluate` found.

    Attributes:
        table: one row per quantity and horizon: ``rmse_<method>`` and ``mae_<method>``.
        predictions: the scored rows (device, time, inputs, actual targets) with each
            method's forecasts as ``<target>__<method>`` columns.
        train_devices, test_devices: the split.
        rc: how the RC baseline was fitted (``per_device``, ``pooled`` device counts).
        n_rows: scored rows; seconds: wall time.
    """

    table: list[dict[str, Any]]
    predictions: pd.DataFrame
    train_devices: list[str]
    test_devices: list[str]
    rc: dict[str, Any]
    n_rows: int
    n_train_rows: int
    seconds: float
    model: EstimationModel | None = field(default=None, repr=False)


def split_devices(
    devices: Sequence[str], test_share: float = 0.3, seed: int = 0
) -> tuple[list[str], list[str]]:
    """(train, test) device lists: a seeded share of the devices held out (at least one each).

    Raises:
        DataError: fewer than two devices.
    """
    names = sorted({str(d) for d in devices})
    if len(names) < 2:
        raise DataError(f"an evaluation split by device needs at least 2 devices, got {len(names)}")
    k = int(np.clip(round(test_share * len(names)), 1, len(names) - 1))
    rng = np.random.default_rng(seed)
    test = sorted(rng.choice(names, k, replace=False).tolist())
    return [d for d in names if d not in set(test)], test


def _cut(frame: pd.DataFrame, calibration: float) -> np.ndarray:
    """True for each row in the first ``calibration`` share of its device's time span."""
    stamps = pd.to_datetime(frame["timestamp"])
    first = stamps.groupby(frame["device_id"]).transform("min")
    last = stamps.groupby(frame["device_id"]).transform("max")
    return (stamps < first + (last - first) * calibration).to_numpy()


def score(
    actual: pd.DataFrame, forecasts: Mapping[str, pd.DataFrame], horizons: Sequence[int]
) -> list[dict[str, Any]]:
    """RMSE and MAE of each method's forecasts per quantity and horizon (rows with a target only)."""
    table = []
    for quantity in ("temperature", "humidity"):
        for h in horizons:
            column = f"{quantity}_{h}m"
            truth = actual[column].to_numpy(float)
            ok = np.isfinite(truth)
            row: dict[str, Any] = {"quantity": quantity, "horizon_min": int(h), "rows": int(ok.sum())}
            for method, frame in forecasts.items():
                error = frame[column].to_numpy(float)[ok] - truth[ok]
                row[f"rmse_{method}"] = float(np.sqrt(np.mean(error**2))) if ok.any() else float("nan")
            for method, frame in forecasts.items():
                error = frame[column].to_numpy(float)[ok] - truth[ok]
                row[f"mae_{method}"] = float(np.mean(np.abs(error))) if ok.any() else float("nan")
            table.append(row)
    return table


def evaluate(
    frame: pd.DataFrame,
    params: Mapping[str, Any] | None = None,
    *,
    test_devices: Sequence[str] | None = None,
    train_devices: Sequence[str] | None = None,
    test_share: float = 0.3,
    calibration: float = 0.5,
    seed: int = 0,
    model: EstimationModel | None = None,
) -> Evaluation:
    """Split by device, fit the model and the RC baseline, score all three on the test devices.

    Args:
        frame: an estimation frame of several devices.
        params: EstimationModel hyper-parameters (``random_state`` defaults to ``seed``).
        test_devices: the held-out devices (default: a seeded ``test_share`` of them).
        train_devices: the devices to learn from (default: all others); test devices among
            them are left out.
        test_share: share of devices held out when ``test_devices`` is not given.
        calibration: share of each test device's time span the RC model is fitted on.
        seed: seed of the split and of the model.
        model: an already fitted model to score instead of fitting one (its training devices
            should not be among the test devices; nothing checks that).

    Returns:
        The :class:`Evaluation`.

    Raises:
        DataError: too few devices, unknown devices, or no rows to score.
    """
    started = time.perf_counter()
    if not 0.0 < calibration < 1.0:
        raise DataError(f"calibration must be between 0 and 1, got {calibration}")
    known = set(frame["device_id"].astype(str))
    if test_devices is None:
        pool = known - set(train_devices or ())
        if train_devices is None:
            train, test = split_devices(sorted(known), test_share, seed)
        else:
            train, test = sorted(train_devices), sorted(pool)
    else:
        test = sorted({str(d) for d in test_devices})
        train = sorted((set(train_devices) if train_devices is not None else known) - set(test))
    unknown = sorted((set(test) | set(train)) - known)
    if unknown:
        raise DataError(f"no estimation rows for device(s) {', '.join(unknown[:3])}")
    if not test or (model is None and not train):
        raise DataError("the evaluation needs at least one training and one test device")
    devices = frame["device_id"].astype(str)
    learn = frame[devices.isin(train).to_numpy()]
    held = frame[devices.isin(test).to_numpy()].reset_index(drop=True)
    if model is None:
        model = EstimationModel(**{"random_state": seed, **dict(params or {})}).fit(learn)
    horizons = tuple(model.horizons)
    early = _cut(held, calibration)
    calib, scored = held[early], held[~early].reset_index(drop=True)
    if scored.empty:
        raise DataError("the test devices have no rows after their calibration period")
    rc = RcModel(horizons).fit(calib)
    forecasts = {
        "estimation": model.predict(scored),
        "persistence": Persistence(horizons).predict(scored),
        "rc": rc.predict(scored),
    }
    table = score(scored, forecasts, horizons)
    predictions = scored.copy()
    for method, values in forecasts.items():
        for column in values.columns:
            predictions[f"{column}__{method}"] = values[column].to_numpy()
    return Evaluation(
        table=table, predictions=predictions, train_devices=list(train), test_devices=list(test),
        rc={"form": "first-order gray-box, fitted per test device on its first "
                    f"{calibration:.0%} of time", "per_device": len(rc.params_), "pooled": len(rc.pooled_)},
        n_rows=len(scored), n_train_rows=len(learn), seconds=round(time.perf_counter() - started, 2), model=model,
    )  # fmt: skip


def plot_forecasts(
    evaluation: Evaluation, directory: str | Path, devices: int = 3, horizon: int = 30, days: float = 2.0
) -> list[Path]:
    """PNG plots of forecast vs actual for a few test devices (first ``days`` of their scored part).

    Each plot has a temperature and a humidity panel: the measured values, and each method's
    forecast made ``horizon`` minutes earlier, drawn at the time it forecasts (where the AC
    state held that long, as scored); grey bands mark the AC running.

    Returns:
        The written files (``forecast_<device>.png``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    frame = evaluation.predictions
    styles = {"estimation": ("C0", "-"), "rc": ("C1", "--"), "persistence": ("0.5", ":")}
    paths = []
    for device in evaluation.test_devices[: max(0, devices)]:
        rows = frame[frame["device_id"].astype(str) == device].sort_values("timestamp")
        if rows.empty:
            continue
        stamps = pd.to_datetime(rows["timestamp"])
        rows = rows[(stamps < stamps.min() + pd.Timedelta(days=days)).to_numpy()]
        stamps = pd.to_datetime(rows["timestamp"])
        fig, axes = plt.subplots(2, 1, figsize=(11, 6), sharex=True)
        for ax, quantity, unit in zip(axes, ("temperature", "humidity"), ("°C", "% RH"), strict=True):
            ax.plot(stamps, rows[quantity], color="k", lw=1.0, label="measured")
            ahead = stamps + pd.Timedelta(minutes=horizon)
            held = rows[f"{quantity}_{horizon}m"].notna().to_numpy()  # the AC state held that long
            for method, (color, style) in styles.items():
                values = rows[f"{quantity}_{horizon}m__{method}"].where(held)
                ax.plot(ahead, values, color=color, ls=style, lw=1.0, label=f"{method} ({horizon} min ahead)")
            on = rows["power"].to_numpy(float) > 0.5
            ax.fill_between(
                stamps, 0, 1, where=on, color="0.9", transform=ax.get_xaxis_transform(), step="post"
            )
            ax.set_ylabel(f"{quantity} ({unit})")
        axes[0].set_title(f"{device}: forecast vs measured (grey: AC on)")
        axes[0].legend(loc="best", fontsize=8)
        fig.autofmt_xdate()
        fig.tight_layout()
        path = directory / f"forecast_{_safe(device)}.png"
        tmp = path.with_name(f".{path.name}.tmp.png")
        fig.savefig(tmp, dpi=90)
        plt.close(fig)
        tmp.replace(path)
        paths.append(path)
    return paths


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
