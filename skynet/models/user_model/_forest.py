"""A fitted HistGradientBoostingRegressor flattened into arrays, walked by numba.

scikit-learn's ``predict`` validates its input and starts OpenMP threads on every call: about
0.2 ms for one row on a quiet machine and far more on a busy one. The controller asks for one
prediction at a time, so skynet walks the same trees itself: the nodes of every tree in flat
arrays, one jitted loop, no threads. The result equals ``estimator.predict`` (tested); if a
scikit-learn release changes the tree layout, :func:`flatten` raises and the model falls back
to ``estimator.predict``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

__all__ = ["FlatForest", "flatten"]


@dataclass
class FlatForest:
    """The trees of a fitted single-output HistGradientBoostingRegressor as flat arrays."""

    roots: np.ndarray  # int64 (n_trees,)
    feature: np.ndarray  # int64 (n_nodes,)
    threshold: np.ndarray  # float64
    missing_left: np.ndarray  # bool
    left: np.ndarray  # int64, global node index
    right: np.ndarray  # int64
    leaf: np.ndarray  # bool
    value: np.ndarray  # float64
    baseline: float

    def predict(self, X: np.ndarray) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float64)
        return _walk(
            X, self.roots, self.feature, self.threshold, self.missing_left, self.left, self.right,
            self.leaf, self.value, self.baseline,
        )  # fmt: skip


def flatten(estimator: object) -> FlatForest:
    """Flatten a fitted HistGradientBoostingRegressor (numeric splits only).

    Raises:
        ValueError: the estimator has categorical splits or several outputs per iteration.
        AttributeError: its private tree layout is not the one this module knows.
    """
    predictors = estimator._predictors  # type: ignore[attr-defined]
    baseline = np.asarray(estimator._baseline_prediction, dtype=float).ravel()  # type: ignore[attr-defined]
    if baseline.size != 1 or any(len(it) != 1 for it in predictors):
        raise ValueError("only single-output regressors can be flattened")
    nodes = [it[0].nodes for it in predictors]
    if any(n["is_categorical"].any() for n in nodes):
        raise ValueError("categorical splits are not supported")
    sizes = np.array([len(n) for n in nodes], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    every = np.concatenate(nodes)
    shift = np.repeat(starts, sizes)
    return FlatForest(
        roots=starts,
        feature=every["feature_idx"].astype(np.int64),
        threshold=every["num_threshold"].astype(np.float64),
        missing_left=every["missing_go_to_left"].astype(bool),
        left=every["left"].astype(np.int64) + shift,
        right=every["right"].astype(np.int64) + shift,
        leaf=every["is_leaf"].astype(bool),
        value=every["value"].astype(np.float64),
        baseline=float(baseline[0]),
    )


@njit(cache=True, nogil=True)
def _walk(X, roots, feature, threshold, missing_left, left, right, leaf, value, baseline):  # pragma: no cover
    n = X.shape[0]
    out = np.empty(n)
    for i in range(n):
        total = baseline
        for t in range(roots.shape[0]):
            node = roots[t]
            while not leaf[node]:
                x = X[i, feature[node]]
                if np.isnan(x):
                    node = left[node] if missing_left[node] else right[node]
                elif x <= threshold[node]:
                    node = left[node]
                else:
                    node = right[node]
            total += value[node]
        out[i] = total
    return out
