"""The user comfort model: how will this user feel (-3 cold … 0 neutral … +3 hot)?

A gradient-boosting population model (scikit-learn ``HistGradientBoostingRegressor`` on
:mod:`._features`, rising monotonically with temperature and PMV) gives a location; an
ordered-probit head (:mod:`._ordinal`) turns it into probabilities of the seven votes; each
person's offset and temperature slope (:mod:`._people`: empirical Bayes, shrunk towards their
device and the fleet) shift the location as their feedback accumulates. The head and the
personal model's prior are learned on out-of-fold predictions grouped by device, i.e. on
devices the boosting model never saw, which is how they are used.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from skynet.errors import DataError, ModelError
from skynet.models._base import Model
from skynet.models.user_model import _features as F
from skynet.models.user_model._forest import FlatForest, flatten
from skynet.models.user_model._ordinal import VOTES, OrdinalHead, fit_ordinal_head, round_votes
from skynet.models.user_model._people import (
    MODES,
    Ledger,
    PeoplePrior,
    PersonalParams,
    as_user,
    from_summary,
    learn_prior,
    row_shifts,
)
from skynet.models.user_model._personalize import PersonalMixin

__all__ = ["UserModel"]

_MIN_ROWS = 20
#: Whose comfort a prediction is for: personal parameters, a plain offset, or None (learned ones).
Personal = PersonalParams | float | None


class UserModel(PersonalMixin, Model):
    """Predicts a user's thermal sensation vote from the indoor climate and its context.

    Args:
        max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization: of the
            boosting model (no early stopping: a fixed size is faster and deterministic). On
            DB II (out-of-fold MAE, 3 device-grouped folds, seeds 0 and 1) 300 trees at 0.05
            score within 0.002 of these defaults (expected vote 0.830 both, median vote 0.791
            vs 0.789), and cost twice as much to train (about 21 vs 12 CPU s) and to predict.
        monotonic: constrain the prediction to rise with temperature and PMV.
        mask_inputs: share of training rows whose clothing and metabolic rate are hidden, so
            the model learns to predict without them (devices rarely know them).
        calibration_folds: device-grouped folds for the out-of-fold predictions the head and
            the personal model's prior are learned on.
        personal: what each person's votes personalize: ``"slope"`` (an offset and a slope
            per °C), ``"offset"`` (an offset only) or ``"none"``.
        random_state: seed of everything random (folds, masking, boosting).
        n_jobs: boosting fits run side by side (default: one per core); results do not
            depend on it.
    """

    model_type: ClassVar[str] = "user_model"
    libraries: ClassVar[tuple[str, ...]] = (
        "numpy",
        "pandas",
        "scipy",
        "scikit-learn",
        "numba",
        "pythermalcomfort",
    )
    # what save stores: the boosting model's trees live on as ``forest_`` (plain arrays, what
    # predict walks); the scikit-learn estimator they came from is not kept
    state_attributes: ClassVar[tuple[str, ...]] = (
        "encoders_", "imputer_", "head_", "metrics_", "people_", "personal_", "forest_", "training_",
    )  # fmt: skip
    state_classes: ClassVar[tuple[type, ...]] = (FlatForest, OrdinalHead, F.Imputer, PeoplePrior)

    def __init__(
        self,
        max_iter: int = 150,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 200,
        l2_regularization: float = 1.0,
        monotonic: bool = True,
        mask_inputs: float = 0.2,
        calibration_folds: int = 3,
        personal: str = "slope",
        random_state: int = 0,
        n_jobs: int | None = None,
    ) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.monotonic = monotonic
        self.mask_inputs = mask_inputs
        self.calibration_folds = calibration_folds
        self.personal = personal
        self.random_state = random_state
        self.n_jobs = n_jobs

    def param_desc(self) -> str:
        mono = "m" if self.monotonic else ""
        # n_jobs changes the speed only: models fitted with any n_jobs are the same model
        unshown = self._unshown(("max_iter", "monotonic", "learning_rate", "random_state", "n_jobs"))
        return f"gbm{self.max_iter}{mono}-lr{self.learning_rate:g}-s{self.random_state}{unshown}"

    # -- fit ------------------------------------------------------------------------------
    def _booster(self, n_rows: int) -> Any:
        from sklearn.ensemble import HistGradientBoostingRegressor

        cst = [1 if name in F.WARMING_FEATURES else 0 for name in F.FEATURES] if self.monotonic else None
        return HistGradientBoostingRegressor(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=max(1, min(self.min_samples_leaf, n_rows // 20)),
            l2_regularization=self.l2_regularization,
            monotonic_cst=cst,
            early_stopping=False,
            random_state=self.random_state,
        )

    def fit(self, frame: pd.DataFrame, y: np.ndarray | pd.Series | None = None) -> Self:
        """Learn from a comfort frame (one row per vote).

        Args:
            frame: comfort frame; rows of a device in time order matter for personalization
                (the frame is sorted by ``device_id`` and ``timestamp`` here).
            y: the votes; default ``frame["value"]``.

        Returns:
            self.

        Raises:
            DataError: missing columns, non-numeric values, votes outside -3..3, too few rows.
        """
        if self.personal not in MODES:
            raise DataError(f"personal must be one of {', '.join(MODES)}, got {self.personal!r}")
        frame, y = self._check_training(frame, y)
        rng = np.random.default_rng(self.random_state)
        self.encoders_ = F.fit_encoders(frame, y)
        raw = F.raw_from_frame(frame, self.encoders_)
        self.imputer_ = F.Imputer.fit(raw)
        hidden = rng.random(len(raw)) < float(self.mask_inputs)
        masked = raw.copy()
        masked[hidden, F.RAW_COLUMNS.index("clothing")] = np.nan
        masked[hidden, F.RAW_COLUMNS.index("metabolic_rate")] = np.nan
        X = F.features(masked, self.imputer_)
        devices = (
            frame["device_id"].astype(str).to_numpy() if "device_id" in frame else np.full(len(frame), "")
        )
        oof, booster = self._fit_boosters(_fill_empty_columns(X), y, devices)
        unknown = _unknown(X)
        self.head_ = fit_ordinal_head(oof, unknown, y, seed=self.random_state)
        proba = self.head_.proba(oof, unknown)
        residuals = y - proba @ VOTES
        self.metrics_ = _oof_metrics(y, proba, self.calibration_folds)
        users = frame["user_id"].to_numpy(dtype=object) if "user_id" in frame else None
        temperature = raw[:, F.RAW_COLUMNS.index("temperature")]
        self.people_ = learn_prior(residuals, temperature, devices, users, self.personal)
        self.personal_ = (
            Ledger(self.people_)
            .add_many(devices, users if users is not None else [None] * len(y), temperature, residuals)
            .summary()
        )
        try:
            self.forest_: FlatForest = flatten(booster)
        except (AttributeError, ValueError, KeyError) as exc:  # pragma: no cover - other sklearn layouts
            raise ModelError(
                f"this scikit-learn's trees cannot be flattened ({type(exc).__name__}: {exc}); "
                "install the version requirements.txt pins"
            ) from None
        self.training_ = _training_info(frame, y, devices)
        return self.warm_up()

    def _check_training(self, frame: pd.DataFrame, y: Any) -> tuple[pd.DataFrame, np.ndarray]:
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"expected a comfort frame (pandas DataFrame), got {type(frame).__name__}")
        if y is None:
            if "value" not in frame:
                raise DataError("comfort frame lacks the column 'value' (the vote to learn)")
            y = frame["value"]
        y = pd.to_numeric(pd.Series(np.asarray(y)), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        if len(y) != len(frame):
            raise DataError(f"{len(y)} votes for {len(frame)} rows")
        if len(frame) < _MIN_ROWS:
            raise DataError(f"too few votes to learn from: {len(frame)} (at least {_MIN_ROWS})")
        bad = ~np.isfinite(y) | (y < -3) | (y > 3)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(f"vote {float(y[row]):g} in row {row} is not a number in -3…3")
        if "device_id" in frame:
            keys = ["device_id", "timestamp"] if "timestamp" in frame else ["device_id"]
            frame = frame.reset_index(drop=True)
            order = frame.sort_values(keys, kind="stable").index.to_numpy()
            frame, y = frame.iloc[order].reset_index(drop=True), y[order]
        return frame, y

    def _fit_boosters(self, X: np.ndarray, y: np.ndarray, devices: np.ndarray) -> tuple[np.ndarray, Any]:
        """Out-of-fold predictions (device-grouped folds) and the booster fitted on everything.

        The fits run side by side in threads, each with one OpenMP thread: as fast as
        scikit-learn's own threading on an idle machine, far faster on a busy one (no threads
        spinning at barriers), and the result never depends on the number of cores.
        """
        from sklearn.model_selection import GroupKFold, KFold

        folds = max(2, int(self.calibration_folds))
        if len(np.unique(devices)) >= folds:
            splits = GroupKFold(folds, shuffle=True, random_state=self.random_state).split(X, y, devices)
        else:  # one or two devices: rows are the best we can hold out
            splits = KFold(folds, shuffle=True, random_state=self.random_state).split(X)
        tasks = [*splits, (np.arange(len(y)), None)]
        workers = min(len(tasks), self.n_jobs or os.cpu_count() or 1)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            done = list(pool.map(lambda task: self._fit_one(X, y, *task), tasks))
        oof = np.empty(len(y))
        for (_, test), (_, predicted) in zip(tasks[:-1], done[:-1], strict=True):
            oof[test] = predicted
        return oof, done[-1][0]

    def _fit_one(
        self, X: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray | None
    ) -> tuple[Any, Any]:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, user_api="openmp"):
            booster = self._booster(len(train)).fit(X[train], y[train])
            return booster, (None if test is None else booster.predict(X[test]))

    # -- predict --------------------------------------------------------------------------
    def _location(self, X: np.ndarray, bounds: np.ndarray | None = None) -> np.ndarray:
        """The boosting model's output; ``bounds``: groups of rows sharing most features."""
        return self.forest_.predict(X) if bounds is None else self.forest_.predict_groups(X, bounds)

    def _distribution(
        self, frame: pd.DataFrame, history: pd.DataFrame | None, personalize: bool
    ) -> np.ndarray:
        self.check_is_fitted()
        X = F.features(F.raw_from_frame(frame, self.encoders_), self.imputer_)
        shift: np.ndarray | float = 0.0
        if personalize and "device_id" in frame:
            users = frame["user_id"].to_numpy(dtype=object) if "user_id" in frame else None
            shift = row_shifts(self._lookup(history), frame["device_id"].to_numpy(), users, X[:, 0])
        return self.head_.proba(self._location(X), _unknown(X), shift)

    def predict_proba(
        self, frame: pd.DataFrame, history: pd.DataFrame | None = None, personalize: bool = True
    ) -> np.ndarray:
        """Probabilities (n, 7) of the votes -3, -2, …, 3 for each row of a comfort frame.

        Args:
            frame: comfort frame rows (``value`` is ignored); ``temperature`` is required,
                everything else optional.
            history: past votes (a comfort frame with ``value``, ``device_id`` and optionally
                ``user_id``) of some devices; their people's parameters replace the ones
                learned in training.
            personalize: apply personal parameters: of the row's ``(device_id, user_id)``, else
                of its device's typical person, else none (see :mod:`._people`).
        """
        return self._distribution(frame, history, personalize)

    def predict(
        self, frame: pd.DataFrame, history: pd.DataFrame | None = None, personalize: bool = True
    ) -> np.ndarray:
        """The expected vote (calibrated mean of :meth:`predict_proba`, within -3…3)."""
        return self._distribution(frame, history, personalize) @ VOTES

    def predict_median(
        self, frame: pd.DataFrame, history: pd.DataFrame | None = None, personalize: bool = True
    ) -> np.ndarray:
        """The median vote of :meth:`predict_proba` (the point estimate with the least MAE)."""
        return _median(self._distribution(frame, history, personalize))

    def predict_arrays(self, columns: Mapping[str, Any], offset: Personal = None) -> np.ndarray:
        """The expected vote of rows given as columns (fast path for a controller, no DataFrame).

        Args:
            columns: comfort-frame column name -> array (one value per row) or one value for
                every row (``temperature`` required).
            offset: whose comfort: a :class:`PersonalParams` (from :meth:`personal_params`:
                its offset and slope at each row's temperature), a plain offset, or None: the
                parameters learned in training for ``device_id`` (and ``user_id``) if given.

        Returns:
            With ``offset=None``, the same as ``predict(pd.DataFrame(columns))`` (tested);
            otherwise the location shifted as asked (as :meth:`predict_one`).
        """
        return self.predict_many([columns], [offset])[0]

    def predict_many(
        self, groups: Sequence[Mapping[str, Any]], offsets: Sequence[Personal] | None = None
    ) -> list[np.ndarray]:
        """:meth:`predict_arrays` of several groups of rows (e.g. several devices) in one pass.

        One feature computation, one walk of the trees and one head for all the rows: what a
        controller deciding for many devices (or for each person present) at once asks.

        Args:
            groups: per group, columns as for :meth:`predict_arrays`.
            offsets: per group, as ``offset`` of :meth:`predict_arrays` (default: None for all).

        Returns:
            Per group, its rows' expected votes.
        """
        self.check_is_fitted()
        if offsets is None:
            offsets = [None] * len(groups)
        if len(offsets) != len(groups):
            raise DataError(f"{len(offsets)} offsets for {len(groups)} groups of rows")
        if not groups:
            return []
        raws = [F.raw_from_columns(columns, self.encoders_) for columns in groups]
        raw = raws[0] if len(raws) == 1 else np.concatenate(raws)
        X = F.features(raw, self.imputer_)
        shift = np.concatenate(
            [
                np.broadcast_to(self._group_shift(c, o, r[:, 0]), len(r))
                for c, o, r in zip(groups, offsets, raws, strict=True)
            ]
        )
        bounds = np.cumsum([0, *(len(r) for r in raws)])
        values = self.head_.proba(self._location(X, bounds), _unknown(X), shift) @ VOTES
        return np.split(values, bounds[1:-1])

    def _group_shift(self, columns: Mapping[str, Any], offset: Personal, temperature: np.ndarray) -> Any:
        if isinstance(offset, PersonalParams):
            return offset.shift(temperature)
        if offset is not None:
            return float(offset)
        if "device_id" not in columns:
            return 0.0
        device, user = columns["device_id"], columns.get("user_id")
        if F._is_scalar(device) and F._is_scalar(user):  # a device's candidates: one lookup
            return from_summary(self.personal_, str(device), as_user(user)).shift(temperature)
        n = len(temperature)
        devices = np.broadcast_to(np.asarray(columns["device_id"], dtype=object), n)
        users = np.broadcast_to(np.asarray(columns.get("user_id"), dtype=object), n)
        return row_shifts(self._lookup(None), devices, users, temperature)

    def predict_one_proba(self, row: Mapping[str, Any], offset: Personal = None) -> np.ndarray:
        """Probabilities (7,) for one row given as a dict (fast path, no DataFrame).

        Args:
            row: comfort-frame keys (``temperature`` required; ``device_id`` and ``user_id``
                pick the parameters learned in training unless ``offset`` is given).
            offset: as for :meth:`predict_arrays`.
        """
        self.check_is_fitted()
        X = F.features(F.raw_from_mapping(row, self.encoders_), self.imputer_)
        if isinstance(offset, PersonalParams):
            shift = float(offset.shift(X[0, 0]))
        elif offset is not None:
            shift = float(offset)
        else:
            found = from_summary(self.personal_, str(row.get("device_id")), as_user(row.get("user_id")))
            shift = float(found.shift(X[0, 0]))
        return self.head_.proba(self._location(X), _unknown(X), shift)[0]

    def predict_one(self, row: Mapping[str, Any], offset: Personal = None) -> float:
        """The expected vote for one row given as a dict (fast path, see :meth:`predict_one_proba`)."""
        return float(self.predict_one_proba(row, offset) @ VOTES)

    def warm_up(self) -> Self:
        """Compile the jitted code now rather than on the first prediction: the row walk and
        the grouped walk of a controller's batches (seconds on a busy machine, which a decision's
        time budget does not have)."""
        self.predict_one({"temperature": 24.0})
        self.predict_arrays({"temperature": np.array([24.0, 26.0])})
        return self

    @classmethod
    def load(cls, path: Any) -> Self:
        """Load a saved model (see :meth:`Model.load`) and compile its fast path."""
        return super().load(path).warm_up()

    def _upgrade_legacy(self) -> None:
        """Models of older skynets kept the scikit-learn booster beside its flattened trees."""
        booster = vars(self).pop("booster_", None)
        if getattr(self, "forest_", None) is None and booster is not None:
            self.forest_ = flatten(booster)

    def _check_state(self, where: Any) -> None:
        """The pieces are of their classes, and the trees only read the features this version
        computes (the jitted walk does not check bounds)."""
        parts = ((self.forest_, FlatForest), (self.head_, OrdinalHead), (self.imputer_, F.Imputer))
        if not all(isinstance(value, cls) for value, cls in parts):
            raise ModelError(f"model artifact {where} does not hold a user model's trees, head and imputer")
        inner = ~self.forest_.leaf
        if inner.any() and int(self.forest_.feature[inner].max()) >= len(F.FEATURES):
            raise ModelError(f"model artifact {where} splits on features this skynet does not compute")


def _fill_empty_columns(X: np.ndarray) -> np.ndarray:
    """``X`` with every column that holds no number set to 0.

    A feature nobody reported (air speed from homes without a sensor) carries no information,
    but scikit-learn's binning fails on an all-missing column; a constant one is never split on,
    so whatever that feature holds later never changes a prediction.
    """
    empty = ~np.isfinite(X).any(axis=0)
    if not empty.any():
        return X
    X = X.copy()
    X[:, empty] = 0.0
    return X


def _unknown(X: np.ndarray) -> np.ndarray:
    i, j = F.FEATURES.index("clothing_unknown"), F.FEATURES.index("metabolic_rate_unknown")
    return np.maximum(X[:, i], X[:, j])


def _median(proba: np.ndarray) -> np.ndarray:
    return VOTES[np.argmax(np.cumsum(proba, axis=1) >= 0.5 - 1e-9, axis=1)]


def _oof_metrics(y: np.ndarray, proba: np.ndarray, folds: int) -> dict[str, Any]:
    """Figures on training devices while held out (out-of-fold, some inputs hidden by masking)."""
    mean = proba @ VOTES
    k = (round_votes(y) + 3).astype(np.intp)
    return {
        "oof_mae_median": float(np.mean(np.abs(_median(proba) - y))),
        "oof_mae_mean": float(np.mean(np.abs(mean - y))),
        "oof_bias": float(np.mean(mean - y)),
        "oof_log_loss": float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), k], 1e-12, None)))),
        "oof_folds": int(max(2, folds)),
    }


def _training_info(frame: pd.DataFrame, y: np.ndarray, devices: np.ndarray) -> dict[str, Any]:
    columns = [
        c for c in ("device_id", "timestamp", *F.NUMERIC_COLUMNS, *F.CATEGORICAL_COLUMNS) if c in frame
    ]
    hashed = pd.util.hash_pandas_object(frame[columns].assign(value=y), index=False).to_numpy()
    stamps = (
        pd.to_datetime(frame["timestamp"], errors="coerce")
        if "timestamp" in frame
        else pd.Series([], "M8[ns]")
    )
    start, end = stamps.min(), stamps.max()
    return {
        "n_rows": int(len(y)),
        "n_devices": int(len(np.unique(devices))),
        "start": None if pd.isna(start) else start.isoformat(),
        "end": None if pd.isna(end) else end.isoformat(),
        "data_digest": hashlib.sha256(hashed.tobytes()).hexdigest(),
        "features": list(F.FEATURES),
        "feature_digest": F.FEATURE_DIGEST,
        "vote_mean": float(np.mean(y)) if len(y) else math.nan,
    }
