"""Open the stores the settings name (shared by the api modules)."""

from __future__ import annotations

from pathlib import Path

from skynet.config import Settings
from skynet.storage import RecordStore, open_store

__all__ = ["open_records", "records_url", "model_store_path", "reports_path"]


def records_url(settings: Settings) -> str:
    """The expanded ``storage.url``; an embedded SQLite file's folder is created."""
    url = settings.path(settings.storage.url)
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    return url


def open_records(settings: Settings) -> RecordStore:
    """Open the record store at ``storage.url`` (creating the data directory if embedded)."""
    return open_store(records_url(settings), auto_migrate=settings.storage.auto_migrate)


def model_store_path(settings: Settings) -> Path:
    return Path(settings.path(settings.models.store))


def reports_path(settings: Settings) -> Path:
    return Path(settings.path(settings.models.reports))
