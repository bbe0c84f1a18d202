"""Open the stores the settings name (shared by the api modules)."""

from __future__ import annotations

from pathlib import Path

from skynet.config import Settings
from skynet.storage import RecordStore, RoutedStore, open_store

__all__ = ["open_records", "records_url", "timeseries_url", "model_store_path", "reports_path"]


def _embedded(url: str) -> str:
    """An embedded SQLite file's folder is created."""
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    return url


def records_url(settings: Settings) -> str:
    """The expanded ``storage.url``; an embedded SQLite file's folder is created."""
    return _embedded(settings.path(settings.storage.url))


def timeseries_url(settings: Settings) -> str | None:
    """The expanded ``storage.timeseries_url``, or None when sensor readings and weather live
    in ``storage.url`` (it is empty or the same URL)."""
    url = settings.path(settings.storage.timeseries_url)
    return None if not url or url == settings.path(settings.storage.url) else _embedded(url)


def open_records(settings: Settings) -> RecordStore:
    """Open the record store the settings name (creating the data directory if embedded).

    With ``storage.timeseries_url`` set, sensor readings and weather go there and every other
    kind to ``storage.url``, behind one :class:`~skynet.storage.RoutedStore`.
    """
    options = {"auto_migrate": settings.storage.auto_migrate}
    records = open_store(records_url(settings), **options)
    series_url = timeseries_url(settings)
    if series_url is None:
        return records
    try:
        return RoutedStore(records, open_store(series_url, **options))
    except BaseException:
        records.close()
        raise


def model_store_path(settings: Settings) -> Path:
    return Path(settings.path(settings.models.store))


def reports_path(settings: Settings) -> Path:
    return Path(settings.path(settings.models.reports))
