"""Read the ASHRAE Global Thermal Comfort Database II into skynet's records.

One device per building (``ashrae-<building_id>``); each thermal-sensation vote becomes a
:class:`~skynet.domain.Feedback` (with clothing and metabolic rate where present) with the
indoor :class:`~skynet.domain.SensorReading` beside it (ta, rh, air speed) at the same
timestamp, and the day's outdoor :class:`~skynet.domain.Weather` (t_out_isd, rh_out_isd,
t_mot_isd) at midnight of that day.

Timestamps. DB II gives only the survey day, and none at all for 27 % of the records. skynet
keys records by ``(device, timestamp)``, so votes get distinct, deterministic times: the
survey day at 08:00 plus 10 s per vote, in ``record_id`` order within the building and day.
Records with no day get one from the building's study year and the record's season, in the
building's hemisphere (summer → 15 July north / 15 January south, winter the reverse,
spring/autumn April/October, hot/wet like summer, cool/dry like winter). These synthetic
times keep imports idempotent; the month is approximate for those records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from skynet.data._validate import check_ranges
from skynet.data.frames import comfort_frame
from skynet.errors import DataError

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


def _timestamps(frame: pd.DataFrame) -> pd.Series:
    """Survey day (given or synthesized) + 08:00 + 10 s per vote within building and day."""
    day = pd.to_datetime(frame["timestamp"], errors="coerce", utc=True).dt.tz_localize(None).dt.normalize()
    missing = day.isna()
    if missing.any():
        sub = frame.loc[missing]
        month = sub["season"].map(_SEASON_MONTH_NORTH).fillna(1).astype(int)
        south = sub["latitude"].fillna(0).to_numpy() < 0
        month = np.where(south, (month + 5) % 12 + 1, month)
        year = sub["year"].fillna(2000).astype(int)
        day.loc[missing] = pd.to_datetime(
            pd.DataFrame({"year": year.to_numpy(), "month": month, "day": 15}), errors="coerce"
        ).to_numpy()
    order = frame.assign(_day=day).sort_values(["building_id", "_day", "record_id"])
    ordinal = order.groupby(["building_id", "_day"]).cumcount()
    offset = pd.to_timedelta(8 * 3600 + 10 * ordinal.reindex(frame.index).to_numpy(), unit="s")
    return (day + offset).astype("datetime64[us]")


def read_ashrae(measurements: str | Path, metadata: str | Path) -> AshraeImport:
    """Read, validate and convert DB II into record frames (nothing is stored here).

    Args:
        measurements: ``db_measurements_v2.1.0.csv.gz`` (or an uncompressed copy).
        metadata: ``db_metadata.csv``.

    Returns:
        The record frames (columns = :func:`skynet.domain.field_names` of each kind), the
        joined comfort frame, the number of rows read and the skipped rows per reason.

    Raises:
        DataError: a file is missing, unreadable or lacks DB II's columns.
    """
    raw = _read_csv(Path(measurements), list(_MEASUREMENT_COLUMNS), "measurements")
    meta = _read_csv(Path(metadata), _METADATA_COLUMNS, "metadata")
    rows_read = len(raw)
    frame = raw.rename(columns=_MEASUREMENT_COLUMNS)
    meta = meta.drop_duplicates("building_id").rename(columns={"lat": "latitude", "lon": "longitude"})
    frame = frame.merge(meta, on="building_id", how="left", validate="many_to_one")
    unknown = frame["country"].isna() & frame["climate"].isna() & frame["year"].isna()
    skipped: dict[str, int] = {}
    if unknown.any():
        skipped["building not in the metadata file"] = int(unknown.sum())
        frame = frame.loc[~unknown]
    for column in ("value", "temperature", "humidity", "air_speed", "clothing", "metabolic_rate",
                   "outdoor_temperature", "outdoor_humidity", "outdoor_running_mean"):  # fmt: skip
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    checked = check_ranges(frame.reset_index(drop=True))
    skipped.update(checked.skipped)
    frame = checked.frame
    frame["device_id"] = DEVICE_PREFIX + frame["building_id"].astype(str)
    frame["timestamp"] = _timestamps(frame)
    frame["user_id"] = frame["user_id"].map(_subject, na_action="ignore")
    frame["user_id"] = frame["user_id"].where(
        frame["user_id"].isna(), frame["device_id"] + "/" + frame["user_id"]
    )
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
        skipped=skipped,
    )


def _subject(value: Any) -> str:
    text = str(value).strip()
    return text[:-2] if text.endswith(".0") else text


def _devices(meta: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    used = meta[meta["building_id"].isin(frame["building_id"].unique())].copy()
    used["device_id"] = DEVICE_PREFIX + used["building_id"].astype(str)
    used["name"] = "ASHRAE DB II building " + used["building_id"].astype(str)
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
        has, ["device_id", "timestamp", "outdoor_temperature", "outdoor_humidity", "outdoor_running_mean"]
    ]
    daily = daily.assign(timestamp=daily["timestamp"].dt.normalize())
    daily = daily.groupby(["device_id", "timestamp"], as_index=False).first()
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
