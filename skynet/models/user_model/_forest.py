"""A fitted HistGradientBoostingRegressor flattened into arrays, walked by numba.

scikit-learn's ``predict`` validates its input and starts OpenMP threads on every call: about
0.2 ms for one row on a quiet machine and far more on a busy one. The controller asks for one
prediction at a time, so skynet walks the same trees itself: the nodes of every tree in flat
arrays, one jitted loop, no threads. The result equals ``estimator.predict`` (tested); if a
scikit-learn release changes the tree layout, :func:`flatten` raises and the model falls back
to ``estimator.predict``.

:meth:`FlatForest.predict_groups` serves rows that come in groups sharing most features (a
device's candidate climates: its outdoor weather, season, building and clothing are the same
for all of them): per group, every split on a feature the group's rows all share is decided
once, so a row only walks the splits on the features that vary. Same leaves, same sums.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from numba import njit

__all__ = ["FlatForest", "flatten"]

#: Rows from which a prediction walks the trees on every core (each row's sum is the same).
_PARALLEL_ROWS = 20_000


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

    def __post_init__(self) -> None:
        """Check the layout the jitted walks rely on: they index without bounds checks and
        stop at leaves, so a node index out of range or a child before its split (a loop) in a
        damaged or forged artifact would read stray memory or never end."""
        n = len(self.feature)
        dtypes = {"roots": np.int64, "feature": np.int64, "threshold": np.float64, "missing_left": np.bool_,
                  "left": np.int64, "right": np.int64, "leaf": np.bool_, "value": np.float64}  # fmt: skip
        for name, dtype in dtypes.items():
            array = getattr(self, name)
            if not isinstance(array, np.ndarray) or array.dtype != dtype or array.ndim != 1:
                raise ValueError(f"FlatForest.{name} must be a 1-d {np.dtype(dtype).name} array")
            if name != "roots" and len(array) != n:
                raise ValueError(f"FlatForest.{name} has {len(array)} nodes, not {n}")
        if not isinstance(self.baseline, float):
            raise ValueError("FlatForest.baseline must be a float")
        inner = np.flatnonzero(~self.leaf)
        if (
            ((self.roots < 0) | (self.roots >= n)).any()
            or ((self.left < 0) | (self.left >= n) | (self.right < 0) | (self.right >= n)).any()
            or (self.left[inner] <= inner).any()
            or (self.right[inner] <= inner).any()
            or (self.feature[inner] < 0).any()
        ):
            raise ValueError("FlatForest nodes are out of range or not in depth-first order")

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The regressor's predictions for the rows of ``X`` (a large batch: one slice a core)."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        cores = os.cpu_count() or 1
        if len(X) < _PARALLEL_ROWS or cores < 2:
            return self._walk(X)
        from concurrent.futures import ThreadPoolExecutor

        slices = np.array_split(X, cores)
        with ThreadPoolExecutor(max_workers=cores) as pool:  # the walk releases the GIL
            return np.concatenate(list(pool.map(self._walk, slices)))

    def _walk(self, X: np.ndarray) -> np.ndarray:
        return _walk(
            X, self.roots, self.feature, self.threshold, self.missing_left, self.left, self.right,
            self.leaf, self.value, self.baseline,
        )  # fmt: skip

    def predict_groups(self, X: np.ndarray, bounds: np.ndarray) -> np.ndarray:
        """:meth:`predict` of rows in groups ``X[bounds[g]:bounds[g + 1]]`` (see the module docstring)."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        return _walk_groups(
            X, np.asarray(bounds, dtype=np.int64), self.roots, self.feature, self.threshold,
            self.missing_left, self.left, self.right, self.leaf, self.value, self.baseline,
        )  # fmt: skip


def flatten(estimator: object) -> FlatForest:
    """Flatten a fitted HistGradientBoostingRegressor (numeric splits only).

    Raises:
        ValueError: the estimator has categorical splits, several outputs per iteration or
            trees not in depth-first order.
        AttributeError: its private tree layout is not the one this module knows.
    """
    predictors = estimator._predictors  # type: ignore[attr-defined]
    baseline = np.asarray(estimator._baseline_prediction, dtype=float).ravel()  # type: ignore[attr-defined]
    if baseline.size != 1 or any(len(it) != 1 for it in predictors):
        raise ValueError("only single-output regressors can be flattened")
    nodes = [it[0].nodes for it in predictors]
    if any(n["is_categorical"].any() for n in nodes):
        raise ValueError("categorical splits are not supported")
    for n in nodes:  # the walk reads a split's children after it (depth-first order)
        inner = np.flatnonzero(~n["is_leaf"].astype(bool))
        if not ((n["left"][inner] > inner).all() and (n["right"][inner] > inner).all()):
            raise ValueError("tree nodes are not in depth-first order")
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


@njit(cache=True, nogil=True)
def _walk_groups(
    X, bounds, roots, feature, threshold, missing_left, left, right, leaf, value, baseline
):  # pragma: no cover
    """Per group: the splits on the features its rows all share decided once (``jump[k]``:
    where they lead from node k; children come after their split), then a plain walk of the
    group's rows through the trees with those shortcuts."""
    n, d = X.shape
    out = np.empty(n)
    shared = np.empty(d, dtype=np.bool_)
    jump = np.empty(feature.shape[0], dtype=np.int64)
    for g in range(bounds.shape[0] - 1):
        a, b = bounds[g], bounds[g + 1]
        if a >= b:
            continue
        for j in range(d):  # NaN shares with NaN
            x0 = X[a, j]
            same = True
            for i in range(a + 1, b):
                x = X[i, j]
                if not (x == x0 or (np.isnan(x) and np.isnan(x0))):
                    same = False
                    break
            shared[j] = same
        for k in range(feature.shape[0] - 1, -1, -1):
            if leaf[k] or not shared[feature[k]]:
                jump[k] = k
                continue
            x = X[a, feature[k]]
            if np.isnan(x):
                jump[k] = jump[left[k]] if missing_left[k] else jump[right[k]]
            else:
                jump[k] = jump[left[k]] if x <= threshold[k] else jump[right[k]]
        out[a:b] = _walk(
            X[a:b],
            jump[roots],
            feature,
            threshold,
            missing_left,
            jump[left],
            jump[right],
            leaf,
            value,
            baseline,
        )
    return out
