"""Storage: small adapters behind one contract, chosen by URL.

``open_store(url)`` returns a :class:`RecordStore` for ``sqlite://``, ``mysql+pymysql://``,
``postgresql+psycopg://`` or ``memory://`` URLs; the model store keeps trained model files.
Storage never imports models.
"""

from skynet.errors import StorageError
from skynet.storage._base import RecordStore
from skynet.storage._registry import known_schemes, open_store, register_scheme

__all__ = ["RecordStore", "StorageError", "open_store", "known_schemes", "register_scheme"]
