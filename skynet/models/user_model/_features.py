"""Features of the user comfort model, computed on plain numpy arrays.

A comfort frame (or one row given as a dict) first becomes a *raw* float matrix
(:data:`RAW_COLUMNS`: measured values with NaN where unknown, the day of year, category codes);
:func:`features` then turns raw rows into the model's features (:data:`FEATURES`): indoor and
outdoor climate, a hemisphere-adjusted season, clothing and metabolic rate (imputed where
unknown, with a flag), building facts and PMV (ISO 7730, computed with pythermalcomfort,
mean radiant temperature = air temperature since skynet does not measure it). The batch and
the one-row paths share :func:`features`, so they give the same numbers.

SET is not a feature: on DB II (5-fold grouped CV) it changed the MAE by less than 0.002 while
pythermalcomfort's ``set_tmp`` costs ~15 µs a row, three times the whole prediction budget.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from skynet.errors import DataError

__all__ = [
    "RAW_COLUMNS",
    "NUMERIC_COLUMNS",
    "CATEGORICAL_COLUMNS",
    "FEATURES",
    "FEATURE_DIGEST",
    "Imputer",
    "fit_encoders",
    "raw_from_frame",
    "raw_from_mapping",
    "raw_from_columns",
    "features",
    "pmv",
]

#: Measured inputs of a comfort frame, in raw-matrix order (all optional but temperature).
NUMERIC_COLUMNS = (
    "temperature", "humidity", "air_speed", "clothing", "metabolic_rate",
    "outdoor_temperature", "outdoor_humidity", "outdoor_running_mean", "latitude",
)  # fmt: skip
CATEGORICAL_COLUMNS = ("climate", "building_type", "cooling_type")
RAW_COLUMNS = (*NUMERIC_COLUMNS, "day_of_year", *CATEGORICAL_COLUMNS)
_R = {name: i for i, name in enumerate(RAW_COLUMNS)}

FEATURES = (
    "temperature", "humidity", "air_speed", "clothing", "metabolic_rate", "clothing_unknown",
    "metabolic_rate_unknown", "outdoor_temperature", "outdoor_humidity", "outdoor_running_mean",
    "abs_latitude", "season_sin", "season_cos", "climate", "building_type", "cooling_type", "pmv",
)  # fmt: skip
#: Features whose rise can only warm the predicted vote (monotonic constraint).
WARMING_FEATURES = ("temperature", "pmv")
#: Changes when the features or their meaning change (part of model names).
FEATURE_DIGEST = hashlib.sha256(("v1:" + ",".join(FEATURES)).encode()).hexdigest()[:12]

# Plausible input limits for PMV (beyond them the heat balance is meaningless, not an error).
_CLIP = {"temperature": (0.0, 50.0), "humidity": (0.0, 100.0), "air_speed": (0.0, 3.0),
         "clothing": (0.0, 2.5), "metabolic_rate": (0.7, 4.0)}  # fmt: skip
_OUTDOOR_EDGES = np.array([0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0])
_MIN_CELL = 30  # fewer samples than this in a (season, outdoor) cell: use the season's median

try:  # the numba ufunc pmv_ppd_iso wraps; calling it directly skips ~130 µs of input validation
    from pythermalcomfort.models._pmv_ppd_optimized import _pmv_ppd_optimized as _pmv_ufunc
except ImportError:  # pragma: no cover - other pythermalcomfort layouts
    _pmv_ufunc = None


def pmv(
    ta: np.ndarray, tr: np.ndarray, vr: np.ndarray, rh: np.ndarray, met: np.ndarray, clo: np.ndarray
) -> np.ndarray:
    """PMV per ISO 7730 (pythermalcomfort's ``pmv_ppd_iso`` without input limits or rounding)."""
    if _pmv_ufunc is not None:
        return _pmv_ufunc(ta, tr, vr, rh, met, clo, 0.0)
    from pythermalcomfort.models import pmv_ppd_iso  # pragma: no cover

    return pmv_ppd_iso(  # pragma: no cover
        tdb=ta, tr=tr, vr=vr, rh=rh, met=met, clo=clo, limit_inputs=False, round_output=False
    ).pmv


def relative_air_speed(v: np.ndarray, met: np.ndarray) -> np.ndarray:
    """ISO 7730 / ASHRAE 55 relative air speed (pythermalcomfort's ``v_relative``)."""
    return np.where(met > 1, v + 0.3 * (met - 1), v)


def fit_encoders(frame: pd.DataFrame, y: np.ndarray) -> dict[str, dict[str, float]]:
    """Per categorical column, category -> code ordered by the mean vote (trees split well on it)."""
    encoders: dict[str, dict[str, float]] = {}
    for column in CATEGORICAL_COLUMNS:
        if column not in frame:
            encoders[column] = {}
            continue
        means = (
            pd.Series(y).groupby(frame[column].astype("string").to_numpy()).mean().sort_values(kind="stable")
        )
        encoders[column] = {str(name): float(i) for i, name in enumerate(means.index)}
    return encoders


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame:
        return np.full(len(frame), np.nan)
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = np.isnan(values) & frame[column].notna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"column {column!r}: {frame[column].iloc[row]!r} (row {row}) is not a number")
    return values


def raw_from_frame(frame: pd.DataFrame, encoders: dict[str, dict[str, float]]) -> np.ndarray:
    """The raw float matrix (:data:`RAW_COLUMNS`) of a comfort frame.

    Raises:
        DataError: no ``temperature`` column, a missing temperature, or a non-numeric value.
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"expected a comfort frame (pandas DataFrame), got {type(frame).__name__}")
    if "temperature" not in frame:
        raise DataError("comfort frame lacks the column 'temperature' (indoor air temperature, °C)")
    raw = np.empty((len(frame), len(RAW_COLUMNS)))
    for column in NUMERIC_COLUMNS:
        raw[:, _R[column]] = _numeric(frame, column)
    if np.isnan(raw[:, 0]).any():
        row = int(np.flatnonzero(np.isnan(raw[:, 0]))[0])
        raise DataError(f"column 'temperature' is missing in row {row}; it is required")
    if "timestamp" in frame:
        stamps = pd.to_datetime(frame["timestamp"], errors="coerce")
        if getattr(stamps.dt, "tz", None) is not None:
            stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
        day = stamps.dt.day_of_year.to_numpy(dtype=float, na_value=np.nan)
        raw[:, _R["day_of_year"]] = np.where(np.isnan(day), _today(), day)
    else:
        raw[:, _R["day_of_year"]] = _today()
    for column in CATEGORICAL_COLUMNS:
        codes = encoders.get(column, {})
        if column in frame:
            mapped = frame[column].astype("string").map(codes).astype("Float64")
            raw[:, _R[column]] = mapped.to_numpy(dtype=float, na_value=np.nan)
        else:
            raw[:, _R[column]] = np.nan
    return raw


def raw_from_mapping(row: Mapping[str, Any], encoders: dict[str, dict[str, float]]) -> np.ndarray:
    """The raw float matrix (one row) of a dict with comfort-frame keys (fast path).

    Raises:
        DataError: no temperature, or a value that is not a number.
    """
    raw = np.empty((1, len(RAW_COLUMNS)))
    out = raw[0]
    for i, column in enumerate(NUMERIC_COLUMNS):
        value = row.get(column)
        if value is None:
            out[i] = math.nan
            continue
        try:
            out[i] = float(value)
        except (TypeError, ValueError):
            raise DataError(f"{column}: {value!r} is not a number") from None
    if math.isnan(out[0]):
        raise DataError("temperature (indoor air temperature, °C) is required")
    stamp = row.get("timestamp")
    if stamp is None:
        out[_R["day_of_year"]] = _today()
    else:
        try:
            out[_R["day_of_year"]] = pd.Timestamp(stamp).day_of_year
        except (TypeError, ValueError):
            raise DataError(f"timestamp: {stamp!r} is not a date") from None
    for column in CATEGORICAL_COLUMNS:
        value = row.get(column)
        out[_R[column]] = math.nan if value is None else encoders.get(column, {}).get(str(value), math.nan)
    return raw


def raw_from_columns(columns: Mapping[str, Any], encoders: dict[str, dict[str, float]]) -> np.ndarray:
    """The raw matrix of rows given as columns: name -> array, or one value for every row.

    The same numbers as ``raw_from_frame(pd.DataFrame(columns))`` without building the frame:
    a column given as one value is converted once (what a decision asks: a device's constant
    facts beside its candidates' climates), an array of numbers is used as it is, and anything
    else goes through the frame path's pandas conversions.

    Raises:
        DataError: no ``temperature``, a missing temperature, a value that is not a number, or
            arrays of different lengths.
    """
    if "temperature" not in columns:
        raise DataError("comfort frame lacks the column 'temperature' (indoor air temperature, °C)")
    arrays = {k: v for k, v in columns.items() if not _is_scalar(v)}
    lengths = {len(v) for v in arrays.values()}
    if len(lengths) > 1:
        raise DataError(f"columns of different lengths: {sorted(lengths)}")
    n = lengths.pop() if lengths else 1
    raw = np.empty((n, len(RAW_COLUMNS)))
    for column in NUMERIC_COLUMNS:
        raw[:, _R[column]] = _numeric_column(columns.get(column), column, n)
    if np.isnan(raw[:, 0]).any():
        row = int(np.flatnonzero(np.isnan(raw[:, 0]))[0])
        raise DataError(f"column 'temperature' is missing in row {row}; it is required")
    raw[:, _R["day_of_year"]] = _day_column(columns["timestamp"], n) if "timestamp" in columns else _today()
    for column in CATEGORICAL_COLUMNS:
        raw[:, _R[column]] = _category_column(columns.get(column), encoders.get(column, {}))
    return raw


def _is_scalar(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return value.ndim == 0
    return isinstance(value, (str, float, int, datetime)) or value is None or np.ndim(value) == 0


def _numeric_column(value: Any, column: str, n: int) -> np.ndarray | float:
    if value is None:
        return math.nan
    if _is_scalar(value):
        if isinstance(value, (float, int, np.number)):  # bool is an int: True -> 1.0 as in pandas
            return float(value)
        return float(_numeric(pd.DataFrame({column: [value]}), column)[0])
    array = np.asarray(value)
    if array.dtype.kind in "fiub":
        return array.astype(float, copy=False)
    return _numeric(pd.DataFrame({column: array}), column)


def _day_column(value: Any, n: int) -> np.ndarray | float:
    """Day of the year of the timestamps (naive UTC; tz-aware ones in UTC; unreadable: today)."""
    if _is_scalar(value):
        if isinstance(value, datetime):  # pandas Timestamps too
            if value.tzinfo is not None:
                value = value.astimezone(UTC)
            return float(value.timetuple().tm_yday)
        value = [value]
    stamps = pd.to_datetime(pd.Series(value), errors="coerce")
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    day = stamps.dt.day_of_year.to_numpy(dtype=float, na_value=np.nan)
    day = np.where(np.isnan(day), _today(), day)
    return day if len(day) == n else float(day[0])


def _category_column(value: Any, codes: dict[str, float]) -> np.ndarray | float:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    if isinstance(value, str):
        return codes.get(value, math.nan)
    series = pd.Series(value if not _is_scalar(value) else [value])
    mapped = series.astype("string").map(codes).astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    return mapped if not _is_scalar(value) else float(mapped[0])


def _today() -> float:
    return float(datetime.now(UTC).timetuple().tm_yday)


def _season_phase(raw: np.ndarray) -> np.ndarray:
    """Day of the year in the northern-hemisphere calendar (the south is half a year apart)."""
    south = raw[:, _R["latitude"]] < 0  # unknown latitude counts as north
    return np.mod(raw[:, _R["day_of_year"]] + np.where(south, 182.6, 0.0), 365.25)


def _season_index(phase: np.ndarray) -> np.ndarray:
    """0 winter (from 1 December), 1 spring, 2 summer, 3 autumn."""
    return (np.mod(phase + 31.0, 365.25) // 91.32).astype(np.intp).clip(0, 3)


def _outdoor_bin(raw: np.ndarray) -> np.ndarray:
    """Bin of the running-mean (else daily) outdoor temperature; the last bin means unknown."""
    outdoor = raw[:, _R["outdoor_running_mean"]]
    outdoor = np.where(np.isnan(outdoor), raw[:, _R["outdoor_temperature"]], outdoor)
    return np.where(np.isnan(outdoor), len(_OUTDOOR_EDGES) + 1, np.searchsorted(_OUTDOOR_EDGES, outdoor))


@dataclass
class Imputer:
    """Learned guesses for unknown inputs: clothing by season and outdoor temperature (not
    indoor, so that the prediction keeps rising with indoor temperature), metabolic rate by
    building type, humidity and air speed by their medians."""

    clothing: np.ndarray  # (4 seasons, outdoor bins + 1), last column = outdoor unknown
    metabolic_rate: np.ndarray  # (n building types + 1,), last = unknown type
    humidity: float
    air_speed: float

    @classmethod
    def fit(cls, raw: np.ndarray) -> Imputer:
        clo = raw[:, _R["clothing"]]
        overall = _median(clo, 0.6)
        season = _season_index(_season_phase(raw))
        tbin = _outdoor_bin(raw)
        table = np.full((4, len(_OUTDOOR_EDGES) + 2), overall)
        for s in range(4):
            in_season = season == s
            season_median = _median(clo[in_season], overall)
            for b in range(table.shape[1]):
                cell = clo[in_season & (tbin == b)]
                enough = np.count_nonzero(~np.isnan(cell)) >= _MIN_CELL
                table[s, b] = _median(cell, season_median) if enough else season_median
        met = raw[:, _R["metabolic_rate"]]
        types = raw[:, _R["building_type"]]
        n_types = int(np.nanmax(types)) + 1 if np.isfinite(types).any() else 0
        met_all = _median(met, 1.2)
        met_table = np.array([_median(met[types == t], met_all) for t in range(n_types)] + [met_all])
        return cls(
            clothing=table,
            metabolic_rate=met_table,
            humidity=_median(raw[:, _R["humidity"]], 50.0),
            air_speed=_median(raw[:, _R["air_speed"]], 0.1),
        )


def _median(values: np.ndarray, default: float) -> float:
    values = values[~np.isnan(values)]
    return float(np.median(values)) if len(values) else default


def features(raw: np.ndarray, imputer: Imputer) -> np.ndarray:
    """The model's features (:data:`FEATURES` order) of raw rows; pure numpy."""
    n = raw.shape[0]
    phase = _season_phase(raw)
    ta = raw[:, _R["temperature"]]
    clo = raw[:, _R["clothing"]]
    met = raw[:, _R["metabolic_rate"]]
    clo_unknown = np.isnan(clo)
    met_unknown = np.isnan(met)
    if clo_unknown.any():
        clo = np.where(clo_unknown, imputer.clothing[_season_index(phase), _outdoor_bin(raw)], clo)
    if met_unknown.any():
        types = raw[:, _R["building_type"]]
        last = len(imputer.metabolic_rate) - 1
        index = np.clip(np.where(np.isnan(types), last, types), 0, last).astype(np.intp)
        met = np.where(met_unknown, imputer.metabolic_rate[index], met)
    rh = raw[:, _R["humidity"]]
    vel = raw[:, _R["air_speed"]]
    # np.minimum(np.maximum()) is np.clip, several times faster on short arrays
    c = {k: np.minimum(np.maximum(v, _CLIP[k][0]), _CLIP[k][1]) for k, v in
         {"temperature": ta, "humidity": np.where(np.isnan(rh), imputer.humidity, rh),
          "air_speed": np.where(np.isnan(vel), imputer.air_speed, vel), "clothing": clo,
          "metabolic_rate": met}.items()}  # fmt: skip
    tdb = c["temperature"]
    vr = relative_air_speed(c["air_speed"], c["metabolic_rate"])
    pmv_value = np.clip(pmv(tdb, tdb, vr, c["humidity"], c["metabolic_rate"], c["clothing"]), -5.0, 5.0)
    angle = phase * (2.0 * np.pi / 365.25)
    out = np.empty((n, len(FEATURES)))
    out[:, 0] = ta
    out[:, 1] = rh
    out[:, 2] = vel
    out[:, 3] = clo
    out[:, 4] = met
    out[:, 5] = clo_unknown
    out[:, 6] = met_unknown
    out[:, 7:10] = raw[:, _R["outdoor_temperature"] : _R["outdoor_running_mean"] + 1]
    out[:, 10] = np.abs(raw[:, _R["latitude"]])
    out[:, 11] = np.sin(angle)
    out[:, 12] = np.cos(angle)
    out[:, 13:16] = raw[:, _R["climate"] : _R["cooling_type"] + 1]
    out[:, 16] = pmv_value
    return out
