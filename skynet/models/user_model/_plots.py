"""Evaluation plots (matplotlib's Agg canvas, PNG files written atomically)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["plot_personalization", "plot_person_curve", "plot_offset_recovery", "plot_predicted_vs_voted"]


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Any, path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        figure.savefig(tmp, format="png")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def plot_personalization(curve: Sequence[dict[str, Any]], path: str | os.PathLike[str]) -> Path:
    """MAE on a device's later votes after it gave ``n`` votes, with and without personalizing."""
    frame = pd.DataFrame(list(curve))
    figure = _figure(6.4, 4.0)
    ax = figure.add_subplot()
    for column, label, style, colour in (
        ("mae_mean", "expected vote (mean), personalized", "o-", "C0"),
        ("mae_mean_no_feedback", "expected vote, not personalized", "o--", "C0"),
        ("mae_median", "median vote, personalized", "s-", "C1"),
        ("mae_median_no_feedback", "median vote, not personalized", "s--", "C1"),
    ):
        ax.plot(frame["n_feedback"], frame[column], style, color=colour, label=label)
    for _, row in frame.iterrows():
        ax.annotate(f"{int(row['n_devices'])} dev.", (row["n_feedback"], row["mae_mean"]), fontsize=7,
                    textcoords="offset points", xytext=(0, 6), ha="center")  # fmt: skip
    ax.set_xlabel("votes the device already gave (n)")
    ax.set_ylabel("MAE on its later votes")
    ax.set_title("Personalization on held-out devices")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(figure, path)


def plot_predicted_vs_voted(predictions: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Left: predicted sensation per actual vote (model and PMV). Right: calibration by decile."""
    figure = _figure(10.0, 4.2)
    left, right = figure.subplots(1, 2)
    votes = np.clip(np.round(predictions["value"].to_numpy(dtype=float)), -3, 3)
    ticks = np.arange(-3, 4)
    for column, label, shift in (("mean", "user_model (mean)", -0.15), ("pmv", "PMV", 0.15)):
        values = predictions[column].to_numpy(dtype=float)
        groups = [values[votes == v] for v in ticks]
        centre = [np.median(g) if len(g) else np.nan for g in groups]
        low = [np.percentile(g, 25) if len(g) else np.nan for g in groups]
        high = [np.percentile(g, 75) if len(g) else np.nan for g in groups]
        left.errorbar(ticks + shift, centre, yerr=[np.subtract(centre, low), np.subtract(high, centre)],
                      fmt="o", capsize=3, label=label)  # fmt: skip
    left.plot([-3, 3], [-3, 3], color="grey", lw=0.8, ls=":")
    left.set_xlabel("voted sensation (rounded)")
    left.set_ylabel("predicted (median and quartiles)")
    left.set_title("Predicted vs voted")
    left.legend(fontsize=8)
    left.grid(alpha=0.3)
    mean = predictions["mean"].to_numpy(dtype=float)
    bins = pd.qcut(mean, 10, labels=False, duplicates="drop")
    binned = (
        pd.DataFrame({"p": mean, "y": predictions["value"].to_numpy(dtype=float), "b": bins})
        .groupby("b")
        .mean()
    )
    right.plot(binned["p"], binned["y"], "o-", label="user_model expected vote")
    lo, hi = float(np.nanmin(binned.to_numpy())), float(np.nanmax(binned.to_numpy()))
    right.plot([lo, hi], [lo, hi], color="grey", lw=0.8, ls=":", label="perfect calibration")
    right.set_xlabel("predicted expected vote (decile mean)")
    right.set_ylabel("mean actual vote")
    right.set_title("Calibration on held-out devices")
    right.legend(fontsize=8)
    right.grid(alpha=0.3)
    return _save(figure, path)


def plot_person_curve(curve: Sequence[dict[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Median-vote MAE on people's later votes after ``n`` of their own (see :mod:`._assess`)."""
    frame = pd.DataFrame(list(curve))
    figure = _figure(6.4, 4.0)
    ax = figure.add_subplot()
    if frame.empty:
        ax.text(0.5, 0.5, "no person with enough votes", ha="center", transform=ax.transAxes)
        return _save(figure, path)
    top = int(frame["n_feedback"].max())
    for column, label, style, colour in (
        ("mae_median", f"people with > {top} votes: their own n votes", "o-", "C0"),
        ("mae_median_with_device", "… and their device's other votes", "o:", "C0"),
        ("mae_median_no_feedback", "… not personalized", "o--", "C0"),
        ("aim_mae_median", "people with many votes: their own n votes", "s-", "C1"),
        ("aim_mae_median_no_feedback", "… not personalized", "s--", "C1"),
    ):
        ax.plot(frame["n_feedback"], frame[column], style, color=colour, label=label)
    last = frame.iloc[-1]
    ax.set_title(f"Personalization per person ({int(last['people'])} people, "
                 f"{int(last['aim_people'])} with many votes; held-out devices)", fontsize=9)  # fmt: skip
    ax.set_xlabel("the person's own votes already given (n)")
    ax.set_ylabel("median-vote MAE on their later votes")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(figure, path)


def plot_offset_recovery(found: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Simulated people's true comfort offsets against the ones found from their votes."""
    figure = _figure(5.0, 4.6)
    ax = figure.add_subplot()
    if not found.empty:
        for column, label, colour in (("found", "all their votes", "C0"), ("found_10", "their first 10 votes", "C1"),
                                      ("device", "their device's (users ignored)", "C7")):  # fmt: skip
            if column in found:
                ax.scatter(found["true"], found[column], s=12, alpha=0.7, color=colour, label=label)
        lo = float(np.nanmin(found[["true", "found"]].to_numpy())) - 0.2
        hi = float(np.nanmax(found[["true", "found"]].to_numpy())) + 0.2
        ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8, ls=":")
    ax.set_xlabel("true comfort offset (simulator)")
    ax.set_ylabel("offset found (held-out homes)")
    ax.set_title("Offsets recovered on simulated homes", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(figure, path)
