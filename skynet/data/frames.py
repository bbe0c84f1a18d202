"""Join stored records into the frames models learn from.

The *comfort frame* has one row per feedback vote with the climate the user felt: the
device's latest sensor reading at or before the vote (within ``reading_tolerance``), the
latest outdoor weather (within ``weather_tolerance``) and the device's location and type.
Its columns are :data:`COMFORT_COLUMNS`; the user comfort model consumes it.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["COMFORT_COLUMNS", "comfort_frame", "context_frame"]

#: The comfort frame: one row per vote with its context (see :func:`skynet.data.comfort_frame`).
COMFORT_COLUMNS = [
    "device_id", "user_id", "timestamp", "temperature", "humidity", "air_speed", "clothing",
    "metabolic_rate", "outdoor_temperature", "outdoor_humidity", "outdoor_running_mean",
    "latitude", "climate", "building_type", "cooling_type", "value",
]  # fmt: skip


_DEVICE_COLUMNS = ["device_id", "latitude", "climate", "building_type", "cooling_type"]


def _asof(left: pd.DataFrame, right: pd.DataFrame, tolerance: pd.Timedelta) -> pd.DataFrame:
    """Per device, attach the newest ``right`` row at or before each ``left`` timestamp."""
    if right.empty:
        return left.assign(**{c: pd.NA for c in right.columns if c not in ("device_id", "timestamp")})
    left = left.assign(timestamp=left["timestamp"].astype("datetime64[us]")).sort_values("timestamp")
    right = right.assign(timestamp=right["timestamp"].astype("datetime64[us]")).sort_values("timestamp")
    return pd.merge_asof(
        left, right, on="timestamp", by="device_id", tolerance=tolerance, direction="backward"
    )


def context_frame(
    moments: pd.DataFrame,
    readings: pd.DataFrame,
    weather: pd.DataFrame,
    devices: pd.DataFrame,
    reading_tolerance: pd.Timedelta = pd.Timedelta("30min"),
    weather_tolerance: pd.Timedelta = pd.Timedelta("36h"),
) -> pd.DataFrame:
    """Attach indoor climate, weather and device facts to ``moments`` (device_id, timestamp, ...).

    Args:
        moments: at least ``device_id`` and ``timestamp``; other columns are kept.
        readings, weather, devices: frames of those record kinds (store ``read_frame`` output).
        reading_tolerance: how old a sensor reading may be and still count as "now".
        weather_tolerance: how old outdoor weather may be (DB II's is daily).

    Returns:
        ``moments`` with the comfort frame's context columns, sorted by device and time.
    """
    indoor = readings[["device_id", "timestamp", "temperature", "humidity", "air_speed"]]
    outdoor = weather[
        ["device_id", "timestamp", "temperature", "humidity", "running_mean_temperature"]
    ].rename(
        columns={
            "temperature": "outdoor_temperature",
            "humidity": "outdoor_humidity",
            "running_mean_temperature": "outdoor_running_mean",
        }
    )
    out = _asof(moments, indoor, reading_tolerance)
    out = _asof(out, outdoor, weather_tolerance)
    out = out.merge(devices[_DEVICE_COLUMNS], on="device_id", how="left")
    for column in ("clothing", "metabolic_rate", "user_id", "value"):
        if column not in out:
            out[column] = pd.NA if column == "user_id" else float("nan")
    numeric = ["temperature", "humidity", "air_speed", "clothing", "metabolic_rate", "outdoor_temperature",
               "outdoor_humidity", "outdoor_running_mean", "latitude", "value"]  # fmt: skip
    out[numeric] = out[numeric].apply(pd.to_numeric, errors="coerce").astype(float)
    return out[COMFORT_COLUMNS].sort_values(["device_id", "timestamp"]).reset_index(drop=True)


def comfort_frame(
    feedback: pd.DataFrame, readings: pd.DataFrame, weather: pd.DataFrame, devices: pd.DataFrame
) -> pd.DataFrame:
    """One row per feedback vote with its context; votes with no indoor reading are dropped."""
    votes = feedback[["device_id", "timestamp", "value", "user_id", "clothing", "metabolic_rate"]]
    out = context_frame(votes, readings, weather, devices)
    return out[out["temperature"].notna()].reset_index(drop=True)
