"""Range checks shared by importers: impossible values are counted and their rows skipped."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["Range", "RANGES", "check_ranges"]


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
