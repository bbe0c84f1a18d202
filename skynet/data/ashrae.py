"""Read the ASHRAE Global Thermal Comfort Database II into skynet's records.

One device per building (``ashrae-<building_id>``); each thermal-sensation vote becomes a
:class:`~skynet.domain.Feedback` (with clothing and metabolic rate where present) with the
indoor :class:`~skynet.domain.SensorReading` beside it (ta, rh, air speed) at the same
timestamp, and the day's outdoor :class:`~skynet.domain.Weather` (t_out_isd, rh_out_isd,
t_mot_isd) at midnight of that day.

Keys come from the record itself, so importing is idempotent whatever else the file holds.
DB II gives only the survey day, and none at all for 27 % of the records, while skynet keys
records by ``(device, timestamp)``: a vote's time is its survey day at 08:00 plus 100 ms per
``record_id`` (DB II's own key, unique over the database), so records 1 … 110,070 fall between
08:00 and 11:04 of their day, in ``record_id`` order, and a vote keeps its time when other
rows of the file are dropped, corrected or added (past ``record_id`` 360,000 the times wrap
to 08:00 again, a microsecond apart per wrap, so they stay distinct up to 36 billion).
Records with no day get one from the building's study year and the record's season, in the
building's hemisphere (summer → 15 July north / 15 January south, winter the reverse,
spring/autumn April/October, hot/wet like summer, cool/dry like winter); the month is
approximate for those records. A row repeated whole is read once; rows that share a
``record_id`` but differ are all skipped (which of them is right is unknown). The day's
weather is the day's row with the lowest ``record_id`` that has it (the rows of one building
and day agree on it in DB II: no building-day of v2.1 has two values).

A ``record_id`` or ``building_id`` that is not a whole number is a :class:`DataError` naming
the file, the row (counted from 1 after the header) and the column.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from skynet.data._validate import check_ranges
from skynet.data.frames import comfort_frame
from skynet.errors import DataError, brief

__all__ = ["AshraeImport", "read_ashrae", "read_ashrae_comfort_frame", "DEVICE_PREFIX"]

DEVICE_PREFIX = "ashrae-"

_MEASUREMENT_COLUMNS = {
    "record_id": "record_id",
    "building_id": "building_id",
    "timestamp": "timestamp",
    "season": "season",
    "subject_id": "user_id",
    "ta": "temperature",
    "rh": "humidity",
    "vel": "air_speed",
    "clo": "clothing",
    "met": "metabolic_rate",
    "thermal_sensation": "value",
    "t_out_isd": "outdoor_temperature",
    "rh_out_isd": "outdoor_humidity",
    "t_mot_isd": "outdoor_running_mean",
}
_METADATA_COLUMNS = [
    "building_id", "country", "city", "lat", "lon", "climate",
    "building_type", "cooling_type", "timezone", "year",
]  # fmt: skip
# Month of a season's middle, in the northern hemisphere (the south is six months apart).
_SEASON_MONTH_NORTH = {
    "summer": 7, "hot/wet": 7, "winter": 1, "cool/dry": 1, "spring": 4, "autumn": 10,
}  # fmt: skip
_METADATA_TEXT = ["country", "city", "climate", "building_type", "cooling_type", "timezone"]
#: A vote's time in its survey day: 08:00 + 100 ms per record_id, wrapping after 10 h.
_DAY_START = pd.Timedelta(hours=8)
_STEP_US = 100_000
_WRAP = 360_000
#: Ids must be whole numbers below these: record_ids give distinct times up to the first, and
#: building ids make device ids (exact integers in a float64).
_MAX_RECORD_ID = _WRAP * _STEP_US
_MAX_BUILDING_ID = 2**53
#: Study years a synthesized survey day may take (outside: 2000, as for a missing year).
_YEARS = (1900, 2100)


@dataclass
class AshraeImport:
    """What one read of DB II produced: record frames per kind, and what was skipped."""

    devices: pd.DataFrame
    users: pd.DataFrame
    feedback: pd.DataFrame
    readings: pd.DataFrame
    weather: pd.DataFrame
    comfort: pd.DataFrame
    rows_read: int
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def n_skipped(self) -> int:
        return sum(self.skipped.values())


def _read_csv(path: Path, columns: list[str], what: str) -> pd.DataFrame:
    if not path.exists():
        raise DataError(f"{what} file {path} does not exist")
    try:
        head = pd.read_csv(path, nrows=0)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: cannot read as CSV ({exc})") from None
    missing = [c for c in columns if c not in head.columns]
    if missing:
        raise DataError(f"{path}: not a DB II {what} file, missing columns {', '.join(missing)}")
    try:
        return pd.read_csv(path, usecols=columns, low_memory=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: cannot read as CSV ({exc})") from None


def _ids(frame: pd.DataFrame, column: str, path: Path, limit: int) -> pd.Series:
    """A column of whole-number ids in ``0 … limit - 1`` as float64 (NaN where the cell is empty).

    Raises:
        DataError: a cell holds anything else; the message names the file, row and column.
    """
    values = frame[column]
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    with np.errstate(invalid="ignore"):
        whole = numbers % 1 == 0  # False for NaN and inf
        wrong = (numbers.isna() & values.notna()) | (numbers.notna() & ~whole)
        outside = whole & ((numbers < 0) | (numbers >= limit))
    for rows, why in ((wrong, "is not a whole number"), (outside, f"is outside 0…{limit - 1:,}")):
        if rows.any():
            row = int(np.flatnonzero(rows.to_numpy())[0])
            cell = values.iloc[row]
            cell = cell.item() if isinstance(cell, np.generic) else cell  # the cell as the file has it
            raise DataError(f"{path} row {row + 1}, column {column}: {brief(str(cell))} {why}")
    return numbers


def _unique_records(raw: pd.DataFrame, skipped: Counter[str]) -> pd.DataFrame:
    """One row per record_id: a row repeated whole is kept once, rows that share a record_id
    but differ are all skipped, and so are rows without one (their key cannot be made)."""
    missing = raw["record_id"].isna()
    if missing.any():
        skipped["no record_id"] += int(missing.sum())
        raw = raw.loc[~missing]
    repeated = raw.duplicated(keep="first")  # every column equal (NaN equal to NaN)
    if repeated.any():
        skipped["row repeated (same record_id and values)"] += int(repeated.sum())
        raw = raw.loc[~repeated]
    clash = raw["record_id"].duplicated(keep=False)
    if clash.any():
        skipped["record_id repeated with different values"] += int(clash.sum())
        raw = raw.loc[~clash]
    return raw


def _metadata(meta: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The metadata's buildings, one row each (the first), with numbers and text as such."""
    meta = meta.assign(building_id=_ids(meta, "building_id", path, _MAX_BUILDING_ID))
    meta = meta.dropna(subset=["building_id"]).drop_duplicates("building_id")
    meta = meta.rename(columns={"lat": "latitude", "lon": "longitude"})
    for column in ("latitude", "longitude", "year"):
        meta[column] = pd.to_numeric(meta[column], errors="coerce").astype("float64")
    meta["latitude"] = meta["latitude"].where(meta["latitude"].abs() <= 90)
    meta["longitude"] = meta["longitude"].where(meta["longitude"].abs() <= 180)
    meta["year"] = meta["year"].where(meta["year"].between(*_YEARS) & (meta["year"] % 1 == 0))
    for column in _METADATA_TEXT:
        meta[column] = meta[column].map(lambda v: v if isinstance(v, str) else str(v), na_action="ignore")
    return meta


def _survey_days(frame: pd.DataFrame) -> pd.Series:
    """The survey day of each row: given, or synthesized from the study year and the season."""
    # ISO 8601 only (DB II's form), parsed in C; anything else is no day, never a guess
    text = frame["timestamp"].astype("string")
    day = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
    day = day.dt.tz_localize(None).dt.normalize().astype("datetime64[us]")
    missing = day.isna()
    if missing.any():
        sub = frame.loc[missing]
        season = sub["season"].map(lambda v: v.strip().lower() if isinstance(v, str) else v)
        month = season.map(_SEASON_MONTH_NORTH).fillna(1).astype(int).to_numpy()
        south = sub["latitude"].fillna(0).to_numpy() < 0
        month = np.where(south, (month + 5) % 12 + 1, month)
        year = sub["year"].fillna(2000).astype(int).to_numpy()
        day.loc[missing] = pd.to_datetime(
            pd.DataFrame({"year": year, "month": month, "day": 15}), errors="coerce"
        ).to_numpy()
    return day


def _timestamps(day: pd.Series, record_id: pd.Series) -> pd.Series:
    """The survey day at 08:00 + 100 ms per record_id (see the module's docstring): distinct for
    distinct record_ids of a day, whatever other rows the file holds, and in record_id order."""
    rid = record_id.to_numpy(dtype="int64")
    micros = (rid % _WRAP) * _STEP_US + rid // _WRAP
    return (day + _DAY_START + pd.to_timedelta(micros, unit="us")).astype("datetime64[us]")


def read_ashrae(measurements: str | Path, metadata: str | Path) -> AshraeImport:
    """Read, validate and convert DB II into record frames (nothing is stored here).

    Args:
        measurements: ``db_measurements_v2.1.0.csv.gz`` (or an uncompressed copy).
        metadata: ``db_metadata.csv``.

    Returns:
        The record frames (columns = :func:`skynet.domain.field_names` of each kind), the
        joined comfort frame, the number of rows read and the skipped rows per reason.

    Raises:
        DataError: a file is missing, unreadable or lacks DB II's columns, or a ``record_id``
            or ``building_id`` is not a whole number (the message names file, row and column).
    """
    measurements, metadata = Path(measurements), Path(metadata)
    raw = _read_csv(measurements, list(_MEASUREMENT_COLUMNS), "measurements")
    meta = _metadata(_read_csv(metadata, _METADATA_COLUMNS, "metadata"), metadata)
    rows_read = len(raw)
    raw["record_id"] = _ids(raw, "record_id", measurements, _MAX_RECORD_ID)
    raw["building_id"] = _ids(raw, "building_id", measurements, _MAX_BUILDING_ID)
    skipped: Counter[str] = Counter()
    frame = _unique_records(raw, skipped).rename(columns=_MEASUREMENT_COLUMNS)
    frame = frame.merge(meta, on="building_id", how="left", validate="many_to_one", indicator=True)
    no_building = frame["building_id"].isna()
    unknown = (frame.pop("_merge") == "left_only") & ~no_building
    for reason, rows in (("no building_id", no_building), ("building not in the metadata file", unknown)):
        if rows.any():
            skipped[reason] += int(rows.sum())
    frame = frame.loc[~(no_building | unknown)]
    for column in ("value", "temperature", "humidity", "air_speed", "clothing", "metabolic_rate",
                   "outdoor_temperature", "outdoor_humidity", "outdoor_running_mean"):  # fmt: skip
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    frame = frame.assign(_day=_survey_days(frame))
    checked = check_ranges(frame.reset_index(drop=True))
    skipped.update(checked.skipped)
    frame = checked.frame
    frame["building_id"] = frame["building_id"].astype("int64")
    frame["device_id"] = DEVICE_PREFIX + frame["building_id"].astype(str)
    frame["timestamp"] = _timestamps(frame.pop("_day"), frame["record_id"])
    subject = frame["user_id"].map(_subject, na_action="ignore")
    known = subject.notna()
    frame["user_id"] = (frame["device_id"] + "/" + subject.where(known, "").astype(str)).where(known)
    frame = frame.sort_values(["device_id", "timestamp"]).reset_index(drop=True)
    devices = _devices(meta, frame)
    feedback = frame[["device_id", "timestamp", "value", "user_id", "clothing", "metabolic_rate"]]
    readings = frame[["device_id", "timestamp", "temperature", "humidity", "air_speed"]].assign(
        luminosity=np.nan
    )
    readings = readings[["device_id", "timestamp", "temperature", "humidity", "luminosity", "air_speed"]]
    weather = _weather(frame)
    return AshraeImport(
        devices=devices,
        users=_users(frame),
        feedback=feedback,
        readings=readings,
        weather=weather,
        # the same join the store path uses, so a file and its import give the same frame
        comfort=comfort_frame(feedback, readings, weather, devices),
        rows_read=rows_read,
        skipped=dict(skipped),
    )


def _subject(value: Any) -> str | None:
    text = str(value).strip()
    text = text[:-2] if text.endswith(".0") else text
    return text or None


def _devices(meta: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    used = meta[meta["building_id"].isin(frame["building_id"].unique())].copy()
    building = used["building_id"].astype("int64").astype(str)
    used["device_id"] = DEVICE_PREFIX + building
    used["name"] = "ASHRAE DB II building " + building
    used["min_set_temperature"] = 16.0
    used["max_set_temperature"] = 30.0
    cols = ["device_id", "name", "timezone", "latitude", "longitude", "country", "city", "climate",
            "building_type", "cooling_type", "min_set_temperature", "max_set_temperature"]  # fmt: skip
    return used[cols].sort_values("device_id").reset_index(drop=True)


def _users(frame: pd.DataFrame) -> pd.DataFrame:
    users = frame.loc[frame["user_id"].notna(), ["user_id", "device_id"]].drop_duplicates("user_id")
    return users.assign(name=None).sort_values("user_id").reset_index(drop=True)


def _weather(frame: pd.DataFrame) -> pd.DataFrame:
    has = frame["outdoor_temperature"].notna()
    daily = frame.loc[
        has, ["device_id", "timestamp", "record_id", "outdoor_temperature", "outdoor_humidity",
              "outdoor_running_mean"]
    ]  # fmt: skip
    # the day's row with the lowest record_id: the same whichever other rows the file holds
    daily = daily.assign(timestamp=daily["timestamp"].dt.normalize()).sort_values("record_id", kind="stable")
    daily = (
        daily.groupby(["device_id", "timestamp"], as_index=False, sort=True).first().drop(columns="record_id")
    )
    return daily.rename(
        columns={
            "outdoor_temperature": "temperature",
            "outdoor_humidity": "humidity",
            "outdoor_running_mean": "running_mean_temperature",
        }
    )


def read_ashrae_comfort_frame(measurements: str | Path, metadata: str | Path) -> pd.DataFrame:
    """The comfort frame of DB II straight from its files (same rows an import stores)."""
    return read_ashrae(measurements, metadata).comfort
