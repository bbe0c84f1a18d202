"""Personalization: a device's shrunken mean residual, added to the population location.

After ``n`` votes with residuals ``r`` (vote minus the population model's expected vote) a
device's offset is ``sum(w r) / (sum(w) + k)``: empirical-Bayes shrinkage towards the
population (0) with strength ``k``, and optional recency weights ``w = 0.5 ** (age / half_life)``
(age in votes, newest = 0). ``k`` is learned by cross-validation the way the offset is used:
from the first ``n`` out-of-fold residuals of each training device, predict the rest of its
votes, for several ``n``; the ``k`` with the least squared error wins.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["device_offsets", "learn_shrinkage", "SHRINKAGE_GRID"]

SHRINKAGE_GRID = np.geomspace(0.5, 500.0, 31)
_CV_HISTORY = (5, 10, 20, 50)
_MIN_REST = 5
DEFAULT_SHRINKAGE = 10.0


def _weights(devices: np.ndarray, half_life: float | None) -> np.ndarray:
    if half_life is None:
        return np.ones(len(devices))
    age = pd.Series(devices).groupby(devices, sort=False).cumcount(ascending=False).to_numpy()
    return 0.5 ** (age / float(half_life))


def device_offsets(
    residuals: np.ndarray, devices: np.ndarray, shrinkage: float, half_life: float | None = None
) -> dict[str, tuple[float, int]]:
    """Per device: (offset, number of votes), from residuals in time order within each device."""
    if len(residuals) == 0:
        return {}
    w = _weights(devices, half_life)
    frame = pd.DataFrame({"d": devices, "wr": w * residuals, "w": w})
    sums = frame.groupby("d", sort=True).agg(wr=("wr", "sum"), w=("w", "sum"), n=("w", "size"))
    offsets = sums["wr"] / (sums["w"] + shrinkage)
    return {str(d): (float(o), int(n)) for d, o, n in zip(sums.index, offsets, sums["n"], strict=True)}


def learn_shrinkage(residuals: np.ndarray, devices: np.ndarray, half_life: float | None = None) -> float:
    """The shrinkage ``k`` that best predicts each device's later residuals from its first ones.

    ``residuals`` must be out-of-fold and in time order within each device. With too few
    devices holding enough votes, returns :data:`DEFAULT_SHRINKAGE`.
    """
    codes, _ = pd.factorize(devices, sort=False)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:], len(codes)]
    sums, weights, rest_means, rest_counts = [], [], [], []
    for n in _CV_HISTORY:
        d = 0.5 ** (1.0 / half_life) if half_life else 1.0
        w = d ** np.arange(n - 1, -1, -1, dtype=float)
        for a, b in zip(starts, ends, strict=True):
            if b - a < n + _MIN_REST:
                continue
            sums.append(float(w @ residuals[a : a + n]))
            weights.append(float(w.sum()))
            rest_means.append(float(residuals[a + n : b].mean()))
            rest_counts.append(b - a - n)
    if len(sums) < 10:
        return DEFAULT_SHRINKAGE
    s, w, m, c = (np.asarray(v, dtype=float) for v in (sums, weights, rest_means, rest_counts))
    # squared error over the rest votes = within-rest spread (no k in it) + c (mean - offset)^2
    errors = [float(np.sum(c * (m - s / (w + k)) ** 2)) for k in SHRINKAGE_GRID]
    return float(SHRINKAGE_GRID[int(np.argmin(errors))])
