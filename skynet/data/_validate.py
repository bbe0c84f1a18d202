"""Range checks: importers count and skip impossible rows; predictions refuse an impossible input."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from skynet.errors import DataError, brief

__all__ = ["Range", "RANGES", "check_ranges", "PREDICT_RANGES", "SET_TEMPERATURE", "validated"]


@dataclass(frozen=True)
class Range:
    """Physically possible values of one column (inclusive), and what to call it."""

    label: str
    low: float
    high: float
    required: bool = False


#: Limits of what a sensor, a person or the weather can produce (not PMV's narrower
#: applicability range): outside them a value is a data error, not an unusual climate.
RANGES: dict[str, Range] = {
    "value": Range("thermal sensation vote", -3.0, 3.0, required=True),
    "temperature": Range("indoor air temperature (°C)", 0.0, 50.0, required=True),
    "humidity": Range("indoor relative humidity (%)", 0.0, 100.0),
    "air_speed": Range("air speed (m/s)", 0.0, 5.0),
    "clothing": Range("clothing insulation (clo)", 0.0, 4.0),
    "metabolic_rate": Range("metabolic rate (met)", 0.6, 6.0),
    "outdoor_temperature": Range("outdoor temperature (°C)", -70.0, 60.0),
    "outdoor_humidity": Range("outdoor relative humidity (%)", 0.0, 100.0),
    "outdoor_running_mean": Range("outdoor running mean temperature (°C)", -70.0, 60.0),
}


@dataclass
class Checked:
    """Rows that passed, and the count of skipped rows per reason."""

    frame: pd.DataFrame
    skipped: Counter[str] = field(default_factory=Counter)


def check_ranges(frame: pd.DataFrame, ranges: dict[str, Range] = RANGES) -> Checked:
    """Drop rows with a missing required value or any value outside its range.

    A row is counted once, under the first reason found (in ``ranges`` order).
    """
    bad = np.zeros(len(frame), dtype=bool)
    skipped: Counter[str] = Counter()
    for column, rng in ranges.items():
        if column not in frame:
            continue
        values = frame[column].to_numpy(dtype=float, na_value=np.nan)
        missing = np.isnan(values)
        with np.errstate(invalid="ignore"):
            outside = ~missing & ((values < rng.low) | (values > rng.high))
        if rng.required:
            n = int((missing & ~bad).sum())
            if n:
                skipped[f"no {rng.label}"] += n
            bad |= missing
        n = int((outside & ~bad).sum())
        if n:
            skipped[f"{rng.label} outside {rng.low:g}…{rng.high:g}"] += n
        bad |= outside
    return Checked(frame.loc[~bad].reset_index(drop=True), skipped)


# --- inputs of a prediction: one bad value is an error, not a skipped row ---------------------

#: What a comfort prediction may be asked about: the measured columns of :data:`RANGES` (not the
#: vote, which a prediction does not take) and the latitude.
PREDICT_RANGES: dict[str, Range] = {
    **{column: rng for column, rng in RANGES.items() if column != "value"},
    "latitude": Range("latitude (°)", -90.0, 90.0),
}

#: What an AC can be asked to hold. Appliances accept 16…30 °C in the main; some heat pumps go
#: down to 8…10 °C (frost protection) and some up to 32 °C. Beyond that no unit can be set.
SET_TEMPERATURE = Range("AC set temperature (°C)", 8.0, 32.0)


def _floats(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(numbers, unreadable) of a column: NaN where missing or unreadable; True where unreadable.

    Booleans are not numbers here (``True`` °C is junk, not 1 °C), nor is the text ``"nan"``
    (a real NaN is a missing value). Anything but a numeric column is read cell by cell, so
    lists, dicts and huge integers are unreadable cells rather than a crash.
    """
    if values.dtype.kind in "fiu":
        return values.to_numpy(dtype=float, na_value=np.nan), np.zeros(len(values), dtype=bool)
    missing = values.isna().to_numpy(dtype=bool)
    out = np.full(len(values), np.nan)
    bad = ~missing
    for i, value in enumerate(values.to_numpy(dtype=object)):
        if missing[i] or isinstance(value, (bool, np.bool_)):
            continue
        try:
            out[i] = float(value)
        except (TypeError, ValueError, OverflowError):
            continue
        bad[i] = bool(np.isnan(out[i]))
    return out, bad


def _dates(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """(naive UTC timestamps, unreadable) of a column; tz-aware values are converted to UTC.

    Only date texts and date objects are dates: a number would be read as nanoseconds since
    1970, so a year typed as ``2024`` would silently mean January 1970.
    """
    missing = values.isna().to_numpy(dtype=bool)
    if values.dtype.kind == "M":
        parsed = pd.to_datetime(values, utc=True)
    else:
        cells = values.to_numpy(dtype=object)
        datelike = np.array([isinstance(v, (str, date, np.datetime64)) for v in cells], dtype=bool)
        texts = pd.Series(np.where(datelike, cells, None), index=values.index, dtype=object)
        try:
            # one format inferred for the column (fast), then cell by cell where it did not fit
            parsed = pd.to_datetime(texts, errors="coerce", utc=True)
            retry = parsed.isna().to_numpy(dtype=bool) & datelike
            if retry.any():
                parsed[retry] = pd.to_datetime(texts[retry], errors="coerce", utc=True, format="mixed")
        except (TypeError, ValueError, OverflowError):  # cells pandas rejects as a column: one by one
            parsed = pd.Series([_stamp(v) if d else pd.NaT for v, d in zip(cells, datelike, strict=True)],
                               index=values.index, dtype="datetime64[us, UTC]")  # fmt: skip
    bad = parsed.isna().to_numpy(dtype=bool) & ~missing
    return parsed.dt.tz_localize(None), bad


def _stamp(value: object) -> pd.Timestamp:
    """One cell as a UTC timestamp (NaT where unreadable)."""
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError, OverflowError):
        return pd.NaT
    return stamp.tz_convert("UTC") if stamp.tzinfo else stamp.tz_localize("UTC")


def validated(
    frame: pd.DataFrame,
    ranges: dict[str, Range] = PREDICT_RANGES,
    *,
    dates: tuple[str, ...] = ("timestamp",),
    where: str = "",
    name_rows: bool = True,
    missing_ok: bool = True,
) -> pd.DataFrame:
    """``frame`` with its ranged columns as floats and its date columns as naive UTC, or an error.

    The check a prediction's inputs pass, wherever they come from (options, a file, the store):
    unlike :func:`check_ranges`, which skips an importer's impossible rows, one bad value here
    is an error, since the answer would look confident about a room that cannot exist.

    Args:
        frame: the rows.
        ranges: column -> possible values; a ``required`` column must be present in every row.
        dates: columns that must hold readable dates where not missing.
        where: what the rows are (``"rows.csv"``), to start the message with.
        name_rows: say which row (1 = the first) holds the bad value.
        missing_ok: whether an optional value may be missing (NaN); ``False`` for values a
            user typed, where NaN is no answer.

    Returns:
        A copy of ``frame`` with the checked columns converted.

    Raises:
        DataError: one line naming the row, the column, the value (cut by ``brief``) and what
            is allowed.
    """

    def fail(column: str, row: int | None, problem: str) -> DataError:
        place = [where] if where else []
        if name_rows and row is not None:
            place.append(f"row {row + 1}")
        return DataError(f"{', '.join(place)}{': ' if place else ''}{column} {problem}")

    if frame.columns.has_duplicates:
        twice = frame.columns[frame.columns.duplicated()][0]
        raise fail(str(twice), None, "is given twice")
    out = frame.copy()
    for column, rng in ranges.items():
        allowed = f"{rng.low:g} … {rng.high:g}"
        if column not in frame:
            if rng.required:
                raise fail(column, None, f"is missing; it is required ({rng.label}, {allowed})")
            continue
        values, bad = _floats(frame[column])
        missing = np.isnan(values) & ~bad
        if rng.required or not missing_ok:
            bad |= missing
        with np.errstate(invalid="ignore"):
            outside = ~np.isnan(values) & ((values < rng.low) | (values > rng.high))
        for row in np.flatnonzero(bad | outside)[:1]:
            cell = _cell(frame[column], row)
            if outside[row]:
                raise fail(column, row, f"{brief(float(values[row]))} is outside {allowed} ({rng.label})")
            if missing[row] and (missing_ok or cell is None or cell is pd.NA):
                need = "; it is required" if rng.required else ""
                raise fail(column, row, f"is missing{need} ({rng.label}, {allowed})")
            raise fail(column, row, f"{brief(cell)} is not a number ({rng.label}, {allowed})")
        out[column] = values
    for column in dates:
        if column in frame:
            stamps, bad = _dates(frame[column])
            for row in np.flatnonzero(bad)[:1]:
                raise fail(column, row, f"{brief(_cell(frame[column], row))} is not a date")
            out[column] = stamps
    return out


def _cell(values: pd.Series, row: int) -> object:
    """One cell as a plain Python value (``1.5``, not ``np.float64(1.5)``, in messages)."""
    cell = values.iloc[row]
    return cell.item() if isinstance(cell, np.generic) else cell
