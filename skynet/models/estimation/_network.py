"""A small multi-output neural network in numpy: trained with a masked loss, evaluated in microseconds.

Why not scikit-learn's ``MLPRegressor``: the estimation targets have holes (a horizon's target
is blank when the AC state changed before it), and a masked loss lets one network learn every
horizon from every row that has it; and predicting 40 candidate commands must cost tens of
microseconds, which a plain numpy forward pass does and a validating estimator call does not.

Training: ReLU layers, He initialization, Adam, mini-batches, L2 weight decay, inputs and
outputs standardized, early stopping on a validation set of whole *groups* (devices), so the
network stops where it generalizes to rooms it has not seen. Deterministic for a seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from skynet.errors import DataError

__all__ = ["Network", "train_network"]


@dataclass
class Network:
    """A fitted network: standardization and the layers' weights (float64)."""

    x_mean: np.ndarray
    x_scale: np.ndarray
    y_mean: np.ndarray
    y_scale: np.ndarray
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    history: list[float] = field(default_factory=list)  # validation loss per epoch
    epochs: int = 0

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Outputs (n, k) for inputs (n, d), in the targets' units."""
        h = (X - self.x_mean) / self.x_scale
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w
            h += b
            if i < last:
                np.maximum(h, 0.0, out=h)
        h *= self.y_scale
        h += self.y_mean
        return h


def train_network(
    X: np.ndarray,
    Y: np.ndarray,
    groups: np.ndarray | None = None,
    *,
    hidden: tuple[int, ...] = (64, 64),
    epochs: int = 60,
    batch_size: int = 512,
    learning_rate: float = 2e-3,
    l2: float = 1e-5,
    validation: float = 0.15,
    patience: int = 8,
    seed: int = 0,
) -> Network:
    """Train a network on ``X`` (n, d) to ``Y`` (n, k); NaN in ``Y`` means "no target here".

    Args:
        groups: group of each row (device); validation holds out whole groups. Without
            groups (or with fewer than 3) it holds out random rows.
        hidden: sizes of the hidden ReLU layers.
        epochs: most passes over the training rows.
        batch_size, learning_rate, l2: Adam's mini-batch, step size and weight decay.
        validation: share of groups (or rows) held out for early stopping; 0 trains all epochs.
        patience: epochs without a better validation loss before stopping.
        seed: seed of the initialization, the split and the batch order.

    Returns:
        The network at its best validation loss.

    Raises:
        DataError: no rows, inconsistent shapes, or non-finite inputs.
    """
    X = np.asarray(X, dtype=float)
    Y = np.asarray(Y, dtype=float)
    if X.ndim != 2 or Y.ndim != 2 or len(X) != len(Y) or len(X) == 0:
        raise DataError(f"need matching (n, d) inputs and (n, k) targets, got {X.shape} and {Y.shape}")
    if not np.isfinite(X).all():
        raise DataError("the inputs hold NaN or infinite values")
    rng = np.random.default_rng(seed)
    train, valid = _split(len(X), groups, validation, rng)
    x_mean, x_scale = X[train].mean(axis=0), X[train].std(axis=0)
    x_scale[x_scale < 1e-9] = 1.0
    y_mean = np.nanmean(Y[train], axis=0)
    y_scale = np.nanstd(Y[train], axis=0)
    y_mean, y_scale = np.nan_to_num(y_mean), np.where(np.isfinite(y_scale) & (y_scale > 1e-9), y_scale, 1.0)
    Xs = (X - x_mean) / x_scale
    mask = np.isfinite(Y)
    Ys = np.where(mask, (Y - y_mean) / y_scale, 0.0)
    sizes = [X.shape[1], *hidden, Y.shape[1]]
    weights = [
        rng.standard_normal((a, b)) * np.sqrt(2.0 / a) for a, b in zip(sizes[:-1], sizes[1:], strict=True)
    ]
    biases = [np.zeros(b) for b in sizes[1:]]
    params = weights + biases
    adam_m = [np.zeros_like(p) for p in params]
    adam_v = [np.zeros_like(p) for p in params]
    beta1, beta2, step = 0.9, 0.999, 0
    best, best_params, history, stall = np.inf, [p.copy() for p in params], [], 0
    for _epoch in range(epochs):
        order = train[rng.permutation(len(train))]
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            grads = _gradients(Xs[rows], Ys[rows], mask[rows], weights, biases)
            step += 1
            lr = learning_rate * np.sqrt(1 - beta2**step) / (1 - beta1**step)
            for p, g, m, v in zip(params, grads, adam_m, adam_v, strict=True):
                if p.ndim == 2:
                    g = g + l2 * p
                m *= beta1
                m += (1 - beta1) * g
                v *= beta2
                v += (1 - beta2) * g * g
                p -= lr * m / (np.sqrt(v) + 1e-8)
        if len(valid) == 0:
            history.append(float("nan"))
            best_params = [p.copy() for p in params]
            continue
        loss = _loss(Xs[valid], Ys[valid], mask[valid], weights, biases)
        history.append(loss)
        if loss < best - 1e-6:
            best, best_params, stall = loss, [p.copy() for p in params], 0
        else:
            stall += 1
            if stall >= patience:
                break
    n_layers = len(weights)
    return Network(x_mean, x_scale, y_mean, y_scale, best_params[:n_layers], best_params[n_layers:],
                   history=history, epochs=len(history))  # fmt: skip


def _split(
    n: int, groups: np.ndarray | None, share: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    rows = np.arange(n)
    if share <= 0:
        return rows, rows[:0]
    if groups is not None:
        names = np.unique(groups)
        if len(names) >= 3:
            k = max(1, int(round(share * len(names))))
            held = rng.choice(names, k, replace=False)
            out = np.isin(groups, held)
            return rows[~out], rows[out]
    out = rng.random(n) < share
    return rows[~out], rows[out]


def _forward(X: np.ndarray, weights: list[np.ndarray], biases: list[np.ndarray]) -> list[np.ndarray]:
    acts = [X]
    last = len(weights) - 1
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        h = acts[-1] @ w + b
        acts.append(np.maximum(h, 0.0) if i < last else h)
    return acts


def _loss(
    X: np.ndarray, Y: np.ndarray, mask: np.ndarray, weights: list[np.ndarray], biases: list[np.ndarray]
) -> float:
    out = _forward(X, weights, biases)[-1]
    return float(np.sum(((out - Y) * mask) ** 2) / max(mask.sum(), 1))


def _gradients(X: np.ndarray, Y: np.ndarray, mask: np.ndarray, weights: list[np.ndarray],
               biases: list[np.ndarray]) -> list[np.ndarray]:  # fmt: skip
    """Gradients of the masked mean squared error: weights first, then biases."""
    acts = _forward(X, weights, biases)
    delta = 2.0 * (acts[-1] - Y) * mask / max(mask.sum(), 1)
    gw, gb = [None] * len(weights), [None] * len(weights)
    for i in range(len(weights) - 1, -1, -1):
        gw[i] = acts[i].T @ delta
        gb[i] = delta.sum(axis=0)
        if i:
            delta = (delta @ weights[i].T) * (acts[i] > 0)
    return gw + gb
