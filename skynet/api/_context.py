"""Open the stores the settings name (shared by the api modules)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from skynet.config import Settings, masked
from skynet.errors import StorageError
from skynet.storage import RecordStore, RoutedStore, open_store

if TYPE_CHECKING:
    from skynet.storage.artifacts import ArtifactStore
    from skynet.storage.registry import ModelRegistry

__all__ = [
    "open_records",
    "records_url",
    "timeseries_url",
    "model_store_path",
    "reports_path",
    "registry_url",
    "open_model_registry",
    "open_artifacts",
    "datasets_path",
]


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


def datasets_path(settings: Settings) -> Path:
    return Path(settings.path(settings.models.datasets))


def registry_url(settings: Settings) -> str:
    """``models.registry_url``, or ``storage.url`` when it is empty (the embedded SQLite by default)."""
    url = settings.path(settings.models.registry_url)
    return _embedded(url) if url else records_url(settings)


def open_model_registry(settings: Settings) -> ModelRegistry:
    """The model registry the settings name.

    Raises:
        StorageError: its URL is not a SQL database or ``memory://`` (the message says which
            setting to change), or it cannot be reached.
    """
    from skynet.storage.registry import open_registry, registry_schemes

    url = registry_url(settings)
    scheme = url.split("://", 1)[0]
    if scheme not in registry_schemes():
        where = (
            "models.registry_url"
            if settings.models.registry_url
            else "storage.url (models.registry_url is empty)"
        )
        raise StorageError(
            "registry",
            f"{where} is {masked(url)!r}: the model registry needs a SQL database or memory:// "
            f"(set models.registry_url; known schemes: {', '.join(registry_schemes())})",
        )
    return open_registry(url, auto_migrate=settings.storage.auto_migrate)


def open_artifacts(settings: Settings, location: str | None = None) -> ArtifactStore:
    """The artifact store at ``location`` (default ``models.store``), with the host's cache and AWS settings."""
    from skynet.storage.artifacts import open_artifact_store

    return open_artifact_store(
        location or settings.path(settings.models.store),
        cache=settings.path(settings.models.cache),
        endpoint_url=settings.aws.endpoint_url,
        region=settings.aws.region,
    )
