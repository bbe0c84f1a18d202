"""``cassandra://`` URLs: contact points, keyspace, credentials and the adapter's options.

    cassandra://[user[:password]@]host1[,host2...][:port]/keyspace[?option=value&...]

One port for every host (the driver connects to all contact points on one port); it may be
written after any host, ``host1,host2:9042`` being the usual form. Options: ``consistency``
(a consistency level name, default ``LOCAL_QUORUM``), ``local_dc`` (the data centre to
prefer; default: the contact points'), ``replication_factor`` (used only when skynet creates
a missing keyspace; default 1), ``concurrency`` (requests in flight per bulk operation,
default 64), ``fetch_size`` (rows per page, default 5000), ``connect_timeout`` (seconds to
open a connection, the control connection's included) and ``request_timeout`` (seconds per
request); their defaults are :data:`~skynet.storage._base.TIMEOUTS`' ``connect`` and ``read``.
"""

from __future__ import annotations

import dataclasses
import re
from urllib.parse import parse_qsl, unquote

from skynet.config import masked
from skynet.errors import StorageError
from skynet.storage._base import TIMEOUTS

__all__ = ["CassandraURL", "parse_url", "DEFAULT_PORT", "DEFAULT_KEYSPACE"]

DEFAULT_PORT = 9042
DEFAULT_KEYSPACE = "skynet"
#: Consistency levels for reads and writes (not SERIAL / LOCAL_SERIAL: those are for Paxos).
_CONSISTENCY = ("ANY", "ONE", "TWO", "THREE", "QUORUM", "ALL", "LOCAL_QUORUM", "EACH_QUORUM", "LOCAL_ONE")
_KEYSPACE = re.compile(r"[a-z][a-z0-9_]{0,47}")
_HOST = re.compile(r"(?:\[(?P<ipv6>[^\]]+)\]|(?P<name>[^:\[\]]+))(?::(?P<port>\d+))?")


@dataclasses.dataclass(frozen=True)
class CassandraURL:
    """A parsed ``cassandra://`` URL."""

    hosts: tuple[str, ...]
    port: int = DEFAULT_PORT
    keyspace: str = DEFAULT_KEYSPACE
    username: str | None = None
    password: str | None = None
    consistency: str = "LOCAL_QUORUM"
    local_dc: str | None = None
    replication_factor: int = 1
    concurrency: int = 64
    fetch_size: int = 5000
    connect_timeout: float = TIMEOUTS.connect
    request_timeout: float = TIMEOUTS.read


_INTS = {"replication_factor", "concurrency", "fetch_size"}
_FLOATS = {"connect_timeout", "request_timeout"}
OPTIONS = ("consistency", "local_dc", *sorted(_INTS), *sorted(_FLOATS))


def parse_url(url: str) -> CassandraURL:
    """Parse a ``cassandra://`` URL.

    Raises:
        StorageError: the URL is malformed or has an unknown or invalid option (the message
            masks the password).
    """

    def bad(why: str) -> StorageError:
        return StorageError("cassandra", f"bad URL {masked(url)!r}: {why}")

    scheme, sep, rest = url.partition("://")
    if scheme != "cassandra" or not sep:
        raise bad("expected cassandra://host1[,host2...][:port]/keyspace")
    location, _, query = rest.partition("?")
    netloc, _, path = location.partition("/")
    userinfo, at, hostlist = netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username, password = unquote(user), (unquote(secret) if colon else None)
    hosts, ports = [], set()
    for item in filter(None, hostlist.split(",")):
        match = _HOST.fullmatch(item.strip())
        if match is None:
            raise bad(f"cannot read the host {item!r}")
        hosts.append(match["ipv6"] or match["name"])
        if match["port"]:
            ports.add(int(match["port"]))
    if not hosts:
        raise bad("no host")
    if len(ports) > 1:
        raise bad(f"one port for every host, got {sorted(ports)}")
    keyspace = unquote(path.strip("/")).lower() or DEFAULT_KEYSPACE
    if not _KEYSPACE.fullmatch(keyspace):
        raise bad(f"keyspace {keyspace!r} is not a CQL name (letters, digits, _; a letter first; <= 48)")
    values: dict[str, object] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in OPTIONS:
            raise bad(f"unknown option {key!r} (known: {', '.join(OPTIONS)})")
        try:
            if key in _INTS:
                values[key] = int(value)
            elif key in _FLOATS:
                values[key] = float(value)
            else:
                values[key] = value
        except ValueError:
            raise bad(f"option {key}={value!r} is not a number") from None
        if key in _INTS | _FLOATS and values[key] <= 0:  # type: ignore[operator]
            raise bad(f"option {key} must be positive, got {value}")
    consistency = str(values.get("consistency", "LOCAL_QUORUM")).upper()
    if consistency not in _CONSISTENCY:
        raise bad(f"consistency {consistency!r} is not one of {', '.join(_CONSISTENCY)}")
    values["consistency"] = consistency
    return CassandraURL(
        hosts=tuple(hosts),
        port=ports.pop() if ports else DEFAULT_PORT,
        keyspace=keyspace,
        username=username,
        password=password,
        **values,  # type: ignore[arg-type]
    )
