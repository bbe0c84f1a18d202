"""The estimation model: indoor temperature and humidity 5, 15, 30 and 60 minutes ahead.

It learns the *change* of the room's temperature and relative humidity over each horizon
(target minus now) from the physics-shaped features of :mod:`._features` with one small
multi-output network (:mod:`._network`) whose masked loss uses every row for every horizon
it has. No feature names a device, so it forecasts rooms it never saw.

Two ways to predict, with the same numbers:

- :meth:`EstimationModel.predict` takes an estimation frame (pandas) and returns a frame of
  ``temperature_<h>m`` / ``humidity_<h>m``;
- :meth:`EstimationModel.predict_candidates` takes one room's state (a dict) and an array of
  candidate AC commands and returns ``(n_candidates, n_horizons)`` arrays — no pandas, one
  network pass, tens of microseconds for 40 candidates (see ``benchmarks/bench_estimation.py``);
- :meth:`EstimationModel.predict_inputs` takes rows as arrays (each its own room and command):
  what a controller rolling its forecasts forward over hours asks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, NamedTuple, Self

import numpy as np
import pandas as pd

from skynet.domain import Fan, Mode
from skynet.errors import DataError
from skynet.models._base import Model
from skynet.models.estimation import _features as F
from skynet.models.estimation._network import Network, train_network

__all__ = ["EstimationModel", "Forecast", "HORIZONS"]

HORIZONS = (5, 15, 30, 60)
FEATURE_DIGEST = hashlib.sha256(json.dumps(F.FEATURE_NAMES).encode()).hexdigest()
_MIN_ROWS = 20


class Forecast(NamedTuple):
    """Forecasts of candidate commands: arrays (n_candidates, n_horizons)."""

    temperature: np.ndarray
    humidity: np.ndarray


class EstimationModel(Model):
    """Forecasts a room's temperature (°C) and relative humidity (%) under an AC command.

    Args:
        horizons: forecast horizons in minutes (the frame needs ``temperature_<h>m`` and
            ``humidity_<h>m`` targets for each).
        hidden: sizes of the network's hidden layers.
        epochs, batch_size, learning_rate, l2: training of the network (Adam).
        validation: share of devices held out for early stopping.
        patience: epochs without improvement before stopping.
        max_rows: train on at most this many rows (a seeded sample), which bounds the time.
        random_state: seed of everything random.
    """

    model_type: ClassVar[str] = "estimation"
    libraries: ClassVar[tuple[str, ...]] = ("numpy", "pandas", "scikit-learn")
    state_attributes: ClassVar[tuple[str, ...]] = ("network_", "devices_", "layers_", "training_")
    state_classes: ClassVar[tuple[type, ...]] = (Network,)

    def __init__(
        self,
        horizons: Sequence[int] = HORIZONS,
        hidden: Sequence[int] = (64, 64),
        epochs: int = 60,
        batch_size: int = 512,
        learning_rate: float = 2e-3,
        l2: float = 1e-5,
        validation: float = 0.15,
        patience: int = 8,
        max_rows: int = 300_000,
        random_state: int = 0,
    ) -> None:
        self.horizons = horizons
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.l2 = l2
        self.validation = validation
        self.patience = patience
        self.max_rows = max_rows
        self.random_state = random_state

    def param_desc(self) -> str:
        layers = "x".join(str(int(h)) for h in self.hidden)
        unshown = self._unshown(("hidden", "horizons", "random_state"))
        return f"mlp{layers}-h{'.'.join(str(int(h)) for h in self.horizons)}-s{self.random_state}{unshown}"

    @property
    def targets(self) -> list[str]:
        """Target / output columns: ``temperature_<h>m`` for each horizon, then ``humidity_<h>m``."""
        return [f"temperature_{h}m" for h in self.horizons] + [f"humidity_{h}m" for h in self.horizons]

    # -- fit ------------------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame, y: Any = None) -> Self:
        """Learn from an estimation frame (see :func:`skynet.data.estimation_frame`).

        Args:
            frame: one row per device and moment with the inputs and the targets
                (NaN targets are skipped, not guessed).
            y: unused (the targets are columns of ``frame``).

        Returns:
            self.

        Raises:
            DataError: not a frame, missing columns or too few rows with targets.
        """
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"expected an estimation frame (pandas DataFrame), got {type(frame).__name__}")
        missing = [c for c in self.targets if c not in frame.columns]
        if missing:
            raise DataError(f"the estimation frame lacks the target column(s) {', '.join(missing)}")
        X = F.features(F.frame_inputs(frame))
        now = np.repeat(frame[["temperature", "humidity"]].to_numpy(float), len(self.horizons), axis=1)
        Y = frame[self.targets].apply(pd.to_numeric, errors="coerce").to_numpy(float) - now
        useful = np.isfinite(Y).any(axis=1)
        if useful.sum() < _MIN_ROWS:
            raise DataError(
                f"too few rows with targets to learn from: {int(useful.sum())} (at least {_MIN_ROWS})"
            )
        rows = np.flatnonzero(useful)
        rng = np.random.default_rng(self.random_state)
        if len(rows) > self.max_rows:
            rows = np.sort(rng.choice(rows, int(self.max_rows), replace=False))
        groups = frame["device_id"].astype(str).to_numpy()[rows] if "device_id" in frame else None
        network = train_network(
            X[rows], Y[rows], groups, hidden=tuple(int(h) for h in self.hidden), epochs=int(self.epochs),
            batch_size=int(self.batch_size), learning_rate=float(self.learning_rate), l2=float(self.l2),
            validation=float(self.validation), patience=int(self.patience), seed=int(self.random_state),
        )  # fmt: skip
        self.network_ = network
        #: The devices learned from (an evaluation never tests on them).
        self.devices_ = sorted(set(frame["device_id"].astype(str))) if "device_id" in frame else []
        self._fold(network)
        self.training_ = _training_info(frame, rows, self.targets, network)
        return self

    def _fold(self, network: Network) -> None:
        """Fold the standardization into the first and last layers: predicting is matmuls only."""
        w = [np.array(m, dtype=float) for m in network.weights]
        b = [np.array(v, dtype=float) for v in network.biases]
        w0 = w[0] / network.x_scale[:, None]
        b[0] = b[0] - (network.x_mean / network.x_scale) @ w[0]
        w[0] = w0
        b[-1] = b[-1] * network.y_scale + network.y_mean
        w[-1] = w[-1] * network.y_scale
        self.layers_ = [(np.ascontiguousarray(m), v) for m, v in zip(w, b, strict=True)]

    # -- predict --------------------------------------------------------------------------
    def _deltas(self, X: np.ndarray, first: int = 0) -> np.ndarray:
        """The network's output for inputs ``X`` (or, with ``first=1``, the first layer's pre-activation)."""
        h = X
        layers = self.layers_
        if first:
            np.maximum(h, 0.0, out=h)
        for i in range(first, len(layers)):
            w, b = layers[i]
            h = h @ w
            h += b
            if i < len(layers) - 1:
                np.maximum(h, 0.0, out=h)
        return h

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Temperature and humidity at each horizon for each row of an estimation frame.

        Returns:
            A frame with the :attr:`targets` columns and ``frame``'s index.

        Raises:
            NotFittedError: before ``fit``; DataError: missing columns or NaN readings.
        """
        self.check_is_fitted()
        inputs = F.frame_inputs(frame)
        deltas = self._deltas(F.features(inputs))
        out = self._absolute(deltas, inputs["temperature"][:, None], inputs["humidity"][:, None])
        return pd.DataFrame(out, columns=self.targets, index=frame.index)

    def _absolute(self, deltas: np.ndarray, temperature: Any, humidity: Any) -> np.ndarray:
        k = len(self.horizons)
        deltas[:, :k] += temperature  # a float, or an (n, 1) column
        rh = deltas[:, k:]
        rh += humidity
        np.minimum(np.maximum(rh, 0.0, out=rh), 100.0, out=rh)
        return deltas

    def predict_inputs(self, inputs: Mapping[str, Any]) -> Forecast:
        """Forecasts of rows given as arrays, one per input name (no pandas, one network pass).

        What a controller rolling forecasts forward calls: every row its own room state and
        command.

        Args:
            inputs: one array (or scalar) per name of :data:`~skynet.models.estimation._features.INPUTS`,
                ``mode`` and ``fan`` as codes (:class:`skynet.domain.Mode` / :class:`~skynet.domain.Fan`,
                -1 unknown); lags and means may be NaN. A missing name is an error.

        Returns:
            ``Forecast(temperature, humidity)``, each ``(rows, len(horizons))``.

        Raises:
            NotFittedError: before ``fit``; DataError: a missing input name.
        """
        layers = getattr(self, "layers_", None)
        if layers is None:
            self.check_is_fitted()
        missing = [key for key in F.INPUTS if key not in inputs]
        if missing:
            raise DataError(f"the inputs lack {', '.join(missing)}")
        t = np.asarray(inputs["temperature"], dtype=float)
        rh = np.asarray(inputs["humidity"], dtype=float)
        arrays = {
            **{k: inputs[k] for k in ("outdoor_temperature", "outdoor_humidity", "hour", "set_temperature",
                                      "ac_minutes")},
            "temperature": t, "humidity": rh, "n": len(t),
            "temperature_lags": tuple(inputs[f"temperature_lag{lag}"] for lag in F.LAGS),
            "humidity_lags": tuple(inputs[f"humidity_lag{lag}"] for lag in F.LAGS),
            "temperature_mean": inputs["temperature_mean30"], "humidity_mean": inputs["humidity_mean30"],
            "power": np.asarray(inputs["power"], dtype=float), "mode": np.asarray(inputs["mode"], dtype=np.int64),
            "fan": np.asarray(inputs["fan"], dtype=np.int64),
        }  # fmt: skip
        out = self._absolute(self._deltas(F.features(arrays)), t[:, None], rh[:, None])
        k = len(self.horizons)
        return Forecast(out[:, :k], out[:, k:])

    def predict_candidates(self, state: Mapping[str, Any], candidates: Any) -> Forecast:
        """Forecasts of one room under each candidate command, in one network pass (no pandas).

        Args:
            state: the room now — the keys of :data:`skynet.data.ESTIMATION_INPUTS`
                (``temperature``, ``humidity``, the lags and 30-minute means, ``outdoor_*``,
                ``hour``, and the AC state in force: ``power``, ``mode``, ``set_temperature``,
                ``fan``, ``ac_minutes``; lags and means may be NaN (unknown) but every key of
                :data:`~skynet.models.estimation._features.INPUTS` must be there).
            candidates: commands as an ``(n, 4)`` float array of power (0/1), mode code,
                set temperature, fan code (codes index ``AC_MODES`` / ``FAN_SPEEDS``), or
                anything :func:`encode_commands` takes. A candidate equal to the state in force
                keeps its ``ac_minutes``; any other starts now.

        Returns:
            ``Forecast(temperature, humidity)``, each ``(n, len(horizons))``.

        Raises:
            NotFittedError: before ``fit``; DataError: an input key is missing, or a reading or
                the weather is NaN.
        """
        return self.predict_candidates_many([state], [candidates])[0]

    def predict_candidates_many(
        self, states: Sequence[Mapping[str, Any]], candidates: Sequence[Any]
    ) -> list[Forecast]:
        """:meth:`predict_candidates` for several rooms, in one network pass for all of them.

        Each room's forecasts are the numbers :meth:`predict_candidates` gives it alone (its
        own part of the first layer is computed apart, the rest row by row).

        Args:
            states: the rooms (as ``state`` of :meth:`predict_candidates`).
            candidates: per room, its candidate commands.

        Returns:
            Per room, ``Forecast(temperature, humidity)``.

        Raises:
            NotFittedError: before ``fit``; DataError: a room lacks a reading or the weather,
                or the lists differ in length.
        """
        layers = getattr(self, "layers_", None)
        if layers is None:
            self.check_is_fitted()
        if len(states) != len(candidates):
            raise DataError(f"{len(candidates)} candidate lists for {len(states)} rooms")
        if not states:
            return []
        k = len(F.STATE_FEATURES)
        w, b = layers[0]
        rooms = [_room(state, cands) for state, cands in zip(states, candidates, strict=True)]
        sizes = [len(room[0]) for room in rooms]
        one = len(rooms) == 1
        cands = rooms[0][0] if one else np.concatenate([room[0] for room in rooms])
        t_rows = rooms[0][1] if one else np.repeat([room[1] for room in rooms], sizes)
        minutes = rooms[0][4] if one else np.concatenate([room[4] for room in rooms])
        commands = F.command_features(
            t_rows, cands[:, 0], cands[:, 1], cands[:, 2], cands[:, 3], minutes, len(cands)
        )
        # candidates with the same features (set points beyond the unit's reach, say) are
        # computed once: each room's distinct rows (in room order), and where each row finds its own
        commands, inverse, owner = _distinct(commands, np.repeat(np.arange(len(rooms)), sizes))
        ends = np.cumsum(np.bincount(owner, minlength=len(rooms)))
        # first layer split: a room's part is the same for every candidate, computed once a room
        h = commands @ w[k:]
        for room, lo, hi in zip(rooms, [0, *ends[:-1]], ends, strict=True):
            h[lo:hi] += room[3] @ w[:k] + b
        out = self._deltas(h, first=1)[inverse]
        t_now = np.repeat([room[1] for room in rooms], sizes)[:, None] if len(rooms) > 1 else rooms[0][1]
        rh_now = np.repeat([room[2] for room in rooms], sizes)[:, None] if len(rooms) > 1 else rooms[0][2]
        out = self._absolute(out, t_now, rh_now)
        n = len(self.horizons)
        return [Forecast(part[:, :n], part[:, n:]) for part in np.split(out, np.cumsum(sizes)[:-1])]


def _room(
    state: Mapping[str, Any], candidates: Any
) -> tuple[np.ndarray, float, float, np.ndarray, np.ndarray]:
    """A room's candidates (array), temperature, humidity, state features and each candidate's AC age."""
    missing = [key for key in F.INPUTS if key not in state]
    if missing:
        raise DataError(f"the room state lacks {', '.join(missing)}")
    cands = candidates if _is_command_array(candidates) else F.encode_commands(candidates)
    t, rh = _number(state, "temperature"), _number(state, "humidity")
    for name, value in (("temperature", t), ("humidity", rh)):
        if value != value:
            raise DataError(f"the room state has no {name}")
    power, mode, tset, fan = cands[:, 0], cands[:, 1], cands[:, 2], cands[:, 3]
    if _number(state, "power") == 1.0:  # a candidate equal to the state in force keeps its age
        same = (power == 1.0) & (mode == _code(state["mode"], Mode)) & (fan == _code(state["fan"], Fan))
        same &= tset == _number(state, "set_temperature")
    else:
        same = power == 0.0
    situation = F.state_vector(
        t, rh, tuple(_number(state, f"temperature_lag{lag}") for lag in F.LAGS),
        tuple(_number(state, f"humidity_lag{lag}") for lag in F.LAGS),
        _number(state, "temperature_mean30"), _number(state, "humidity_mean30"),
        _required(state, "outdoor_temperature"), _required(state, "outdoor_humidity"), _required(state, "hour"),
    )  # fmt: skip
    return cands, t, rh, situation, np.where(same, _number(state, "ac_minutes"), 0.0)


_KEY = np.random.default_rng(0).uniform(0.5, 1.5, len(F.COMMAND_FEATURES))


def _distinct(X: np.ndarray, room: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct rows of ``X`` within each room, ordered by room; per row of ``X`` the index
    of its distinct row; and each distinct row's room.

    Rows are told apart by a random projection and the grouping is checked row by row; should
    two different rows of a room ever share a projection, every row is kept.
    """
    if len(X) < 2:
        return X, np.arange(len(X)), room
    key = X @ _KEY
    order = np.lexsort((key, room))
    new = np.empty(len(order), dtype=bool)
    new[0] = True
    new[1:] = (key[order[1:]] != key[order[:-1]]) | (room[order[1:]] != room[order[:-1]])
    first = order[new]
    inverse = np.empty(len(order), dtype=np.intp)
    inverse[order] = np.cumsum(new) - 1
    rows = X[first]
    if not (
        np.array_equal(rows[inverse], X) and np.array_equal(room[first][inverse], room)
    ):  # pragma: no cover
        return X, np.arange(len(X)), room
    return rows, inverse, room[first]


def _is_command_array(value: Any) -> bool:
    return (
        isinstance(value, np.ndarray)
        and value.ndim == 2
        and value.shape[1] == 4
        and value.dtype == np.float64
    )


def _number(state: Mapping[str, Any], key: str) -> float:
    value = state[key]
    if value is None:
        return np.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DataError(f"room state {key} {value!r} is not a number") from None


def _required(state: Mapping[str, Any], key: str) -> float:
    value = _number(state, key)
    if value != value:
        raise DataError(f"the room state has no {key}")
    return value


def _code(value: Any, kind: type[Mode] | type[Fan]) -> float:
    if value is None or (isinstance(value, float) and value != value):
        return -1.0
    if isinstance(value, str):
        return float(kind[value.upper()]) if value.upper() in kind.__members__ else -1.0
    return float(value)


def _training_info(
    frame: pd.DataFrame, rows: np.ndarray, targets: list[str], network: Network
) -> dict[str, Any]:
    columns = [c for c in ("device_id", "timestamp", "temperature", "humidity", "power", "set_temperature",
                           "outdoor_temperature", *targets) if c in frame]  # fmt: skip
    hashed = pd.util.hash_pandas_object(frame[columns], index=False).to_numpy()
    stamps = pd.to_datetime(frame["timestamp"]) if "timestamp" in frame else pd.Series([], dtype="M8[ns]")
    start, end = stamps.min(), stamps.max()
    devices = frame["device_id"].nunique() if "device_id" in frame else 0
    return {
        "n_rows": int(len(frame)),
        "rows_learned": int(len(rows)),
        "n_devices": int(devices),
        "start": None if pd.isna(start) else start.isoformat(),
        "end": None if pd.isna(end) else end.isoformat(),
        "data_digest": hashlib.sha256(hashed.tobytes()).hexdigest(),
        "features": list(F.FEATURE_NAMES),
        "feature_digest": FEATURE_DIGEST,
        "epochs": int(network.epochs),
        "validation_loss": float(np.nanmin(network.history)) if np.isfinite(network.history).any() else None,
    }
