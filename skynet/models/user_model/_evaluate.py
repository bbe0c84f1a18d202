"""Evaluate the user comfort model on devices it never saw (grouped K-fold by device).

Side by side on the same held-out rows: the model's expected vote (``predict``, the calibrated
mean) and its median vote (the MAE-minimising point estimate), the same with clothing and
metabolic rate hidden (what a device usually knows), PMV per ISO 7730 (pythermalcomfort,
rounded to 2 decimals and clipped to -3…3 like DB II's ``pmv`` column, unknown clothing and
activity imputed like the model does) and always answering 0 ("comfy"). These are cold-start
figures: no vote of the device is known.

Personalization (see :mod:`._assess`): *online*, each held-out vote predicted from the votes
before it in its device and person, as the product does; the *person curve*, people's later
votes after ``n`` of their own; the *device curve*, a device's later votes after its first ``n``
(any person's). With ``holdout``, a fixed share of the devices (:func:`holdout_devices`) is
set aside first: the cross-validation runs on the others, then a model trained on all of them
is scored on the held-out devices, reported separately.
Pure: takes a frame, returns tables; nothing is read or written.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from skynet.errors import DataError
from skynet.models.user_model import _features as F
from skynet.models.user_model._assess import (
    holdout_devices,
    offset_recovery,
    online_shifts,
    person_curve,
    summarize_person_curve,
    summarize_recovery,
)
from skynet.models.user_model._model import UserModel, _median, _unknown
from skynet.models.user_model._ordinal import VOTES, round_votes

__all__ = ["Evaluation", "evaluate", "recover_offsets", "score"]

COMFY = "always comfy (0)"
PMV = "PMV (ISO 7730, pythermalcomfort)"
MEAN = "user_model expected vote: predict() (mean)"
MEDIAN = "user_model median vote (point estimate for MAE)"
MEAN_BLIND = "user_model, clothing & met unknown: mean"
MEDIAN_BLIND = "user_model, clothing & met unknown: median"
ONLINE_MEAN = "user_model online (each vote after the earlier ones): mean"
ONLINE_MEDIAN = "user_model online (each vote after the earlier ones): median"
_ESTIMATES = {MEAN: "mean", MEDIAN: "median", MEAN_BLIND: "mean_blind", MEDIAN_BLIND: "median_blind",
              PMV: "pmv", COMFY: "comfy", ONLINE_MEAN: "online_mean", ONLINE_MEDIAN: "online_median"}  # fmt: skip


@dataclass
class Evaluation:
    """What :func:`evaluate` found (``holdout``: the same on the held-out devices)."""

    table: list[dict[str, Any]]
    curve: list[dict[str, Any]]
    calibration: dict[str, float]
    predictions: pd.DataFrame = field(repr=False)
    person_curve: list[dict[str, Any]] = field(default_factory=list)
    calibration_online: dict[str, float] = field(default_factory=dict)
    folds: int = 5
    n_rows: int = 0
    n_devices: int = 0
    n_people: int = 0
    seconds: float = 0.0
    holdout: Evaluation | None = None

    def summary(self) -> dict[str, float]:
        """Headline figures (for a model manifest)."""
        rows = {r["estimate"]: r for r in self.table}
        out = {
            "cv_folds": self.folds,
            "mae_mean": rows[MEAN]["mae"],
            "mae_median": rows[MEDIAN]["mae"],
            "bias": rows[MEAN]["bias"],
            "exact_acc": rows[MEDIAN]["exact_acc"],
            "mae_pmv": rows[PMV]["mae"],
            "mae_comfy": rows[COMFY]["mae"],
            "log_loss": self.calibration["log_loss"],
            "mae_online_median": rows[ONLINE_MEDIAN]["mae"],
        }
        top = self.person_curve[-1] if self.person_curve else {}
        if top:
            out[f"person_gain_after_{top['n_feedback']}"] = top["gain"]
        return out

    def as_dict(self) -> dict[str, Any]:
        """The tables and figures as plain data (no predictions)."""
        out = {
            "table": self.table, "curve": self.curve, "person_curve": self.person_curve,
            "calibration": self.calibration, "calibration_online": self.calibration_online,
            "n_rows": self.n_rows, "n_devices": self.n_devices, "n_people": self.n_people,
            "folds": self.folds, "seconds": self.seconds,
        }  # fmt: skip
        if self.holdout is not None:
            out["holdout"] = self.holdout.as_dict()
        return out


def _three(v: np.ndarray) -> np.ndarray:
    return np.where(v < -0.5, -1, np.where(v > 0.5, 1, 0))


def score(y: np.ndarray, estimate: np.ndarray) -> dict[str, float]:
    """MAE, RMSE, bias, exact 7-point accuracy, 3-class accuracy and macro-F1 of an estimate.

    Exact accuracy compares the rounded estimate with the rounded vote; the 3 classes are
    cold (< -0.5), comfy and hot (> 0.5).
    """
    from sklearn.metrics import f1_score

    y = np.asarray(y, dtype=float)
    e = np.clip(np.asarray(estimate, dtype=float), -3, 3)
    return {
        "mae": float(np.mean(np.abs(e - y))),
        "rmse": float(np.sqrt(np.mean((e - y) ** 2))),
        "bias": float(np.mean(e - y)),
        "exact_acc": float(np.mean(round_votes(e) == round_votes(y))),
        "acc_3class": float(np.mean(_three(e) == _three(y))),
        "f1_3class": float(f1_score(_three(y), _three(e), average="macro", labels=[-1, 0, 1])),
    }


def _calibration(y: np.ndarray, mean: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    slope, intercept = np.polyfit(mean, y, 1)
    k = (round_votes(y) + 3).astype(np.intp)
    log_loss = -np.mean(np.log(np.clip(proba[np.arange(len(y)), k], 1e-12, None)))
    bins = pd.qcut(mean, 10, labels=False, duplicates="drop")
    binned = (
        pd.DataFrame({"p": mean, "y": y, "b": bins})
        .groupby("b")
        .agg(p=("p", "mean"), y=("y", "mean"), n=("y", "size"))
    )
    ece = float(np.average(np.abs(binned["p"] - binned["y"]), weights=binned["n"]))
    return {
        "slope": float(slope),
        "intercept": float(intercept),
        "log_loss": float(log_loss),
        "ece_deciles": ece,
    }


def _split(frame: pd.DataFrame, n: int, min_remaining: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """First ``n`` votes (history) and the rest, of devices with at least n + min_remaining votes."""
    position = frame.groupby("device_id", sort=False).cumcount().to_numpy()
    size = frame.groupby("device_id", sort=False)["device_id"].transform("size").to_numpy()
    eligible = size >= n + min_remaining
    return frame[eligible & (position < n)], frame[eligible & (position >= n)]


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    keys = ["device_id", "timestamp"] if "timestamp" in frame else ["device_id"]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def evaluate(
    frame: pd.DataFrame,
    folds: int = 5,
    params: dict[str, Any] | None = None,
    feedback_counts: Sequence[int] = (0, 5, 10, 20, 50),
    min_remaining: int = 10,
    person_counts: Sequence[int] = (0, 5, 10, 20),
    aim_votes: int = 40,
    holdout: float = 0.0,
    random_state: int = 0,
    progress: bool = False,
) -> Evaluation:
    """Grouped K-fold cross-validation by device of the user model and its baselines.

    Args:
        frame: comfort frame with votes (``value``), ``device_id`` and optionally ``user_id``.
        folds: number of folds; a device is never in both training and test.
        params: UserModel hyper-parameters (``random_state`` defaults to this one's).
        feedback_counts: history sizes of the device curve.
        min_remaining: a device joins the device curve at ``n`` only with ``n + min_remaining`` votes.
        person_counts: history sizes of the person curve (people with more than the largest).
        aim_votes: the person curve also reports people with at least this many votes.
        holdout: share of the devices set aside (0: none), see :func:`holdout_devices`.
        random_state: seed of the folds and the models.
        progress: show a progress bar on stderr.

    Returns:
        The comparison table, the curves, calibration figures, the held-out predictions and,
        with ``holdout``, the same on the held-out devices.

    Raises:
        DataError: no ``device_id``/``value`` column, or fewer devices than folds.
    """
    from sklearn.model_selection import GroupKFold
    from tqdm import tqdm

    started = time.perf_counter()
    for column in ("device_id", "value"):
        if column not in frame:
            raise DataError(f"comfort frame lacks the column {column!r}")
    frame = _ordered(frame)
    held = holdout_devices(frame, holdout, max(person_counts))
    aside = frame["device_id"].astype(str).isin(held).to_numpy()
    frame, kept = frame[~aside].reset_index(drop=True), frame[aside].reset_index(drop=True)
    devices = frame["device_id"].astype(str).to_numpy()
    if len(np.unique(devices)) < folds:
        raise DataError(f"{len(np.unique(devices))} devices cannot be split into {folds} folds")
    params = {"random_state": random_state, **(params or {})}
    counts: dict[str, Any] = {"feedback_counts": feedback_counts, "min_remaining": min_remaining,
              "person_counts": person_counts, "aim_votes": aim_votes}  # fmt: skip
    splits = list(GroupKFold(folds, shuffle=True, random_state=random_state).split(frame, groups=devices))
    bar = tqdm(total=folds + bool(held), desc="cross-validation", disable=not progress or None)
    parts = []
    with bar:
        for fold, (train, test) in enumerate(splits):
            model = UserModel(**params).fit(frame.iloc[train])
            parts.append(_assess(model, frame.iloc[test].reset_index(drop=True), fold, **counts))
            bar.update()
        result = _summarize(parts, frame, folds)
        if held:
            model = UserModel(**params).fit(frame)
            result.holdout = _summarize([_assess(model, kept, -1, **counts)], kept, 0)
            bar.update()
    result.seconds = round(time.perf_counter() - started, 1)
    return result


def _assess(model: UserModel, test: pd.DataFrame, fold: int, feedback_counts: Sequence[int],
            min_remaining: int, person_counts: Sequence[int], aim_votes: int) -> dict[str, Any]:  # fmt: skip
    """Held-out predictions (cold start and online), the device curve and the person curve."""
    X = F.features(F.raw_from_frame(test, model.encoders_), model.imputer_)
    loc, unknown = model._location(X), _unknown(X)
    proba = model.head_.proba(loc, unknown)
    y = test["value"].to_numpy(dtype=float)
    residuals = y - proba @ VOTES
    online = model.head_.proba(loc, unknown, online_shifts(model.ledger(), test, residuals))
    blind = model.predict_proba(test.assign(clothing=np.nan, metabolic_rate=np.nan), personalize=False)
    out = pd.DataFrame(
        {
            "device_id": test["device_id"].astype(str).to_numpy(),
            "user_id": test["user_id"].to_numpy(dtype=object) if "user_id" in test else None,
            "fold": fold,
            "value": y,
            "mean": proba @ VOTES,
            "median": _median(proba),
            "mean_blind": blind @ VOTES,
            "median_blind": _median(blind),
            "pmv": np.clip(np.round(X[:, F.FEATURES.index("pmv")], 2), -3, 3),
            "comfy": 0.0,
            "online_mean": online @ VOTES,
            "online_median": _median(online),
        }
    )
    for i, v in enumerate(VOTES):
        out[f"p{int(v)}"] = proba[:, i]

    def shifted(rows: np.ndarray, shift: Any) -> np.ndarray:
        return model.head_.proba(loc[rows], unknown[rows], shift)

    return {
        "predictions": out,
        "curve": _curve(model, test, feedback_counts, min_remaining),
        "people": person_curve(model.ledger, test, residuals, shifted, person_counts, aim_votes),
    }


def _summarize(parts: list[dict[str, Any]], frame: pd.DataFrame, folds: int) -> Evaluation:
    predictions = pd.concat([p["predictions"] for p in parts], ignore_index=True)
    y = predictions["value"].to_numpy()
    proba = predictions[[f"p{int(v)}" for v in VOTES]].to_numpy()
    table = [
        {"estimate": name, **score(y, predictions[column].to_numpy())} for name, column in _ESTIMATES.items()
    ]
    curve = pd.concat([p["curve"] for p in parts]).groupby("n_feedback", sort=True).sum()
    curve_rows = [
        {
            "n_feedback": int(n),
            "n_devices": int(row["n_devices"]),
            "n_rows": int(row["n_rows"]),
            "mae_mean": row["ae_mean"] / row["n_rows"],
            "mae_mean_no_feedback": row["ae_mean0"] / row["n_rows"],
            "mae_median": row["ae_median"] / row["n_rows"],
            "mae_median_no_feedback": row["ae_median0"] / row["n_rows"],
            "bias_mean": row["err_mean"] / row["n_rows"],
        }
        for n, row in curve.iterrows()
        if row["n_rows"]
    ]
    online = predictions["online_mean"].to_numpy()
    return Evaluation(
        table=table,
        curve=curve_rows,
        calibration=_calibration(y, predictions["mean"].to_numpy(), proba),
        calibration_online={"ece_deciles": _calibration(y, online, proba)["ece_deciles"]},
        person_curve=summarize_person_curve(pd.concat([p["people"] for p in parts], ignore_index=True)),
        predictions=predictions,
        folds=folds,
        n_rows=len(frame),
        n_devices=int(frame["device_id"].nunique()),
        n_people=int(frame["user_id"].nunique()) if "user_id" in frame else 0,
    )


def _curve(model: UserModel, test: pd.DataFrame, counts: Sequence[int], min_remaining: int) -> pd.DataFrame:
    rows = []
    for n in counts:
        history, rest = _split(test, n, min_remaining)
        if rest.empty:
            rows.append({"n_feedback": n, "n_devices": 0, "n_rows": 0, "ae_mean": 0.0, "ae_mean0": 0.0,
                         "ae_median": 0.0, "ae_median0": 0.0, "err_mean": 0.0})  # fmt: skip
            continue
        y = rest["value"].to_numpy(dtype=float)
        # the device's typical person: the curve measures what a device's votes tell about it
        rest = rest.drop(columns=["user_id"], errors="ignore")
        personal = model.predict_proba(rest, history=history if n else None)
        population = model.predict_proba(rest, personalize=False)
        rows.append(
            {
                "n_feedback": n,
                "n_devices": rest["device_id"].nunique(),
                "n_rows": len(rest),
                "ae_mean": float(np.abs(personal @ VOTES - y).sum()),
                "ae_mean0": float(np.abs(population @ VOTES - y).sum()),
                "ae_median": float(np.abs(_median(personal) - y).sum()),
                "ae_median0": float(np.abs(_median(population) - y).sum()),
                "err_mean": float((personal @ VOTES - y).sum()),
            }
        )
    return pd.DataFrame(rows)


def recover_offsets(
    frame: pd.DataFrame,
    truth: dict[str, float],
    folds: int = 5,
    params: dict[str, Any] | None = None,
    counts: Sequence[int] = (5, 10, 20),
    random_state: int = 0,
) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """How well people's known comfort offsets are found from their votes, on devices held out.

    Args:
        frame: comfort frame with ``device_id``, ``user_id`` and votes (e.g. simulated).
        truth: user id -> true offset (vote units).
        folds: device-grouped folds; each fold's people are scored by a model that never saw
            their device.
        params: UserModel hyper-parameters.
        counts: also from each person's first ``n`` votes.
        random_state: seed of the folds and the models.

    Returns:
        Summary rows (correlation, RMSE, bias per estimate; see :func:`summarize_recovery`) and
        the per-person table.

    Raises:
        DataError: no ``user_id``/``device_id``/``value`` column, or fewer devices than folds.
    """
    from sklearn.model_selection import GroupKFold

    for column in ("device_id", "user_id", "value"):
        if column not in frame:
            raise DataError(f"comfort frame lacks the column {column!r}")
    frame = _ordered(frame)
    devices = frame["device_id"].astype(str).to_numpy()
    if len(np.unique(devices)) < folds:
        raise DataError(f"{len(np.unique(devices))} devices cannot be split into {folds} folds")
    params = {"random_state": random_state, **(params or {})}
    found = []
    for train, test in GroupKFold(folds, shuffle=True, random_state=random_state).split(
        frame, groups=devices
    ):
        model = UserModel(**params).fit(frame.iloc[train])
        held = frame.iloc[test].reset_index(drop=True)
        residuals = held["value"].to_numpy(dtype=float) - model.predict(held, personalize=False)
        found.append(offset_recovery(model.ledger, held, residuals, truth, counts))
    table = pd.concat(found, ignore_index=True)
    return summarize_recovery(table, counts), table
