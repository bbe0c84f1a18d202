"""Storage: small adapters behind one contract, chosen by URL.

``open_store(url)`` returns a :class:`RecordStore` for ``sqlite://``, ``mysql+pymysql://``,
``postgresql+psycopg://``, ``memory://`` or ``cassandra://`` (sensor readings and weather
only) URLs; :class:`RoutedStore` joins a time-series store to a store of the other kinds (what
``storage.timeseries_url`` sets up). Trained models: ``open_registry(url)`` (SQL or
``memory://``) keeps model versions, aliases and their history; ``open_artifact_store(location)``
keeps their files in a folder or ``s3://bucket/prefix`` (cached per host by sha256);
:class:`LocalModelStore` reads a folder of saved models (names, manifests).
The control worker's stores are chosen by URL the same way: ``open_decision_log(url)`` (SQL,
``mongodb://``, ``memory://``) and ``open_live_store(url)`` (``redis://``, ``memory://``).
Every server adapter has connect and read timeouts (:data:`TIMEOUTS`, overridable per URL).
Storage never imports models.
"""

from skynet.errors import StorageError
from skynet.storage._base import TIMEOUTS, RecordStore, Timeouts
from skynet.storage._registry import known_schemes, open_store, register_scheme
from skynet.storage._routed import TIMESERIES_KINDS, RoutedStore, is_timeseries
from skynet.storage.artifacts import ArtifactCache, ArtifactStore, open_artifact_store
from skynet.storage.decisions import DecisionLog, open_decision_log
from skynet.storage.live import LiveStore, open_live_store
from skynet.storage.model_store import LocalModelStore
from skynet.storage.registry import ModelRegistry, ModelVersion, open_registry

__all__ = [
    "RecordStore",
    "StorageError",
    "Timeouts",
    "TIMEOUTS",
    "open_store",
    "known_schemes",
    "register_scheme",
    "RoutedStore",
    "TIMESERIES_KINDS",
    "is_timeseries",
    "DecisionLog",
    "open_decision_log",
    "LiveStore",
    "open_live_store",
    "LocalModelStore",
    "ModelRegistry",
    "ModelVersion",
    "open_registry",
    "ArtifactStore",
    "ArtifactCache",
    "open_artifact_store",
]
