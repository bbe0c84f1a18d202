"""The distribution head: from a location on the vote scale to probabilities of -3..3.

An ordered-probit model: the vote is ``k`` when a latent ``loc + e`` falls between the cut
points ``c[k-1]`` and ``c[k]``, with ``e ~ N(0, s)`` and
``log s = s0 + s1 |loc| + s2 unknown_inputs`` (votes are noisier at the extremes and when
clothing or activity are guessed). It is fitted by maximum likelihood on out-of-fold
predictions of unseen devices, so its spread is the spread the model really has there.
Its mean is the calibrated expected vote; its median is the point estimate minimising MAE.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import ndtr

__all__ = ["VOTES", "OrdinalHead", "fit_ordinal_head", "round_votes"]

#: The seven votes of the ASHRAE scale, in the order of ``predict_proba``'s columns.
VOTES = np.arange(-3, 4, dtype=float)
_MAX_ROWS = 40_000  # the head has 9 parameters: a sample this size pins them down


def round_votes(y: np.ndarray) -> np.ndarray:
    """Votes rounded to the 7-point scale (DB II has some decimal votes)."""
    return np.clip(np.round(np.asarray(y, dtype=float)), -3, 3)


@dataclass
class OrdinalHead:
    """Fitted cut points and spread of the ordered-probit head."""

    cuts: np.ndarray  # (6,), increasing
    scale: np.ndarray  # (3,) s0, s1, s2

    def proba(self, loc: np.ndarray, unknown: np.ndarray, offset: np.ndarray | float = 0.0) -> np.ndarray:
        """Probabilities (n, 7) of each vote, for locations ``loc + offset``."""
        return _proba(self.cuts, self.scale, loc, unknown, offset)


def _proba(cuts: np.ndarray, scale: np.ndarray, loc: np.ndarray, unknown: np.ndarray, offset) -> np.ndarray:
    s = np.exp(scale[0] + scale[1] * np.abs(loc) + scale[2] * unknown)
    cdf = ndtr((cuts[None, :] - (loc + offset)[:, None]) / s[:, None])
    n = len(loc)
    return np.diff(np.concatenate([np.zeros((n, 1)), cdf, np.ones((n, 1))], axis=1), axis=1)


def _unpack(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cuts = theta[0] + np.concatenate([[0.0], np.cumsum(np.exp(theta[1:6]))])
    return cuts, theta[6:9]


def fit_ordinal_head(loc: np.ndarray, unknown: np.ndarray, y: np.ndarray, seed: int = 0) -> OrdinalHead:
    """Maximum-likelihood cut points and spread for out-of-fold locations ``loc``.

    Args:
        loc: out-of-fold predicted mean votes.
        unknown: 1 where clothing or metabolic rate was imputed, else 0.
        y: the votes (rounded to the 7-point scale here).
        seed: picks the sample when there are more than 40,000 rows.
    """
    index = np.arange(len(loc))
    if len(index) > _MAX_ROWS:
        index = np.sort(np.random.default_rng(seed).choice(index, _MAX_ROWS, replace=False))
    loc, unknown = loc[index], unknown[index].astype(float)
    k = (round_votes(y[index]) + 3).astype(np.intp)
    rows = np.arange(len(k))

    def nll(theta: np.ndarray) -> float:
        cuts, scale = _unpack(theta)
        p = _proba(cuts, scale, loc, unknown, 0.0)[rows, k]
        return -float(np.mean(np.log(np.clip(p, 1e-12, None))))

    theta0 = np.array([-2.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    result = minimize(
        nll, theta0, method="L-BFGS-B", bounds=[(-6, 6)] + [(-5, 2)] * 5 + [(-4, 2), (-2, 2), (-2, 2)]
    )
    cuts, scale = _unpack(result.x)
    return OrdinalHead(cuts=cuts, scale=scale.copy())
