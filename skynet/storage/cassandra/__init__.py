"""The Cassandra record store of the time-series kinds (sensor readings, weather).

``CassandraStore("cassandra://host1,host2:9042/keyspace")`` keeps each kind in a table
partitioned by device and UTC day; pair it with a SQL store for the other kinds through
``storage.timeseries_url`` (see :class:`skynet.storage.RoutedStore`). The schema is
:func:`schema_cql` (``install/cassandra/schema.cql``). The driver (``pip install
'skynet[cassandra]'``) is imported only when a store opens.
"""

from skynet.storage.cassandra._schema import KINDS, schema_cql, schema_statements
from skynet.storage.cassandra._store import NOT_TIMESERIES, CassandraStore
from skynet.storage.cassandra._url import CassandraURL, parse_url

__all__ = [
    "CassandraStore",
    "CassandraURL",
    "parse_url",
    "schema_cql",
    "schema_statements",
    "KINDS",
    "NOT_TIMESERIES",
]
