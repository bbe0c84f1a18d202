"""The decision log contract, run over every backend (SQLite, memory, MySQL/MariaDB, PostgreSQL, MongoDB)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from skynet.errors import DataError, StorageError
from skynet.storage.decisions import decision_log_schemes, open_decision_log

T0 = datetime(2025, 7, 1, 12, 0, 0, 123456)


def doc(i: int, device: str = "d1", minutes: float | None = None, **extra) -> dict:
    return {
        "decision_id": f"ev-{device}-{i}",
        "device_id": device,
        "time": T0 + timedelta(minutes=i if minutes is None else minutes),
        "command": {"power": True, "mode": "cool", "set_temperature": 24.5, "fan": "auto"} if i % 2 else None,
        "reason": {"why": "least cost", "chosen": {"temperature": [26.1, 25.4], "cost": {"total": 0.125}}},
        "fallback": None,
        "sequence": i,
        **extra,
    }


def expected(d: dict) -> dict:
    """What a read gives back: the document with its time to the millisecond."""
    t = d["time"]
    return {**d, "time": t.replace(microsecond=t.microsecond // 1000 * 1000)}


def test_append_returns_new_count_and_is_idempotent_on_decision_id(decision_log):
    assert decision_log.append([doc(i) for i in range(5)]) == 5
    assert decision_log.append([doc(i) for i in range(5)]) == 0
    assert decision_log.append([doc(i) for i in range(8)]) == 3
    assert decision_log.count() == 8


def test_a_known_decision_id_keeps_the_first_document(decision_log):
    decision_log.append(doc(1))
    assert decision_log.append(doc(1, sequence=99)) == 0
    assert decision_log.read("d1")[0]["sequence"] == 1


def test_duplicates_within_one_append_count_once(decision_log):
    assert decision_log.append([doc(1), doc(1), doc(2)]) == 2


def test_documents_round_trip_with_time_to_the_millisecond(decision_log):
    docs = [doc(i) for i in range(4)]
    decision_log.append(docs)
    got = decision_log.read("d1")
    assert got == [expected(d) for d in docs]
    assert all(isinstance(d["time"], datetime) and d["time"].tzinfo is None for d in got)


def test_read_filters_by_device_and_half_open_time_range(decision_log):
    decision_log.append([doc(i, "d1") for i in range(10)] + [doc(i, "d2") for i in range(3)])
    got = decision_log.read("d1", T0 + timedelta(minutes=2), T0 + timedelta(minutes=5))
    assert [d["sequence"] for d in got] == [2, 3, 4]
    assert decision_log.count("d2") == 3
    assert decision_log.count("nobody") == 0
    assert [d["device_id"] for d in decision_log.read(start=T0 + timedelta(minutes=2.5))].count("d2") == 0
    assert len(decision_log.read()) == 13


def test_read_orders_by_time_then_id_and_limits(decision_log):
    decision_log.append([doc(i, minutes=10 - i) for i in range(6)] + [doc(7, minutes=7)])  # ties with 3
    times = [d["time"] for d in decision_log.read("d1")]
    assert times == sorted(times)
    tied = [
        d["decision_id"] for d in decision_log.read("d1") if d["time"] == expected(doc(7, minutes=7))["time"]
    ]
    assert tied == sorted(tied) and len(tied) == 2
    newest = decision_log.read("d1", limit=2, newest_first=True)
    assert [d["sequence"] for d in newest] == [0, 1]  # minutes 10 and 9
    assert decision_log.read("d1", limit=0) == []


def test_aware_and_text_times_are_stored_as_naive_utc(decision_log):
    paris = timezone(timedelta(hours=2))
    decision_log.append(doc(1, time=datetime(2025, 7, 1, 14, 0, tzinfo=paris)))
    decision_log.append(doc(2, time="2025-07-01T12:30:00Z"))
    got = decision_log.read("d1")
    assert [d["time"] for d in got] == [datetime(2025, 7, 1, 12, 0), datetime(2025, 7, 1, 12, 30)]
    aware_bound = datetime(2025, 7, 1, 12, 15, tzinfo=UTC)
    assert [d["sequence"] for d in decision_log.read("d1", start=aware_bound)] == [2]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"device_id": "d1", "time": T0}, "decision_id"),
        ({"decision_id": "x", "time": T0}, "device_id"),
        ({"decision_id": "x", "device_id": "d1"}, "has no time"),
        ({"decision_id": "x", "device_id": "d1", "time": "yesterday"}, "ISO 8601"),
        ({"decision_id": "x" * 129, "device_id": "d1", "time": T0}, "longer than 128"),
        ({"decision_id": "x", "device_id": "d" * 65, "time": T0}, "longer than 64"),
        ({"decision_id": "x", "device_id": "d1", "time": T0, "cost": float("nan")}, r"\$.cost is nan"),
        (
            {"decision_id": "x", "device_id": "d1", "time": T0, "at": {"when": T0}},
            r"\$.at.when is a datetime",
        ),
    ],
)
def test_malformed_documents_are_refused_and_nothing_is_stored(decision_log, bad, message):
    with pytest.raises(DataError, match=message):
        decision_log.append([doc(1), bad])
    assert decision_log.count() == 0


def test_negative_limit_is_an_error(decision_log):
    with pytest.raises(DataError, match="limit"):
        decision_log.read(limit=-1)


def test_describe_names_the_adapter_and_counts(decision_log):
    decision_log.append([doc(i) for i in range(3)])
    described = decision_log.describe()
    assert described["count"] == 3
    assert described["adapter"].startswith("decisions[")
    assert "***" in described["url"] or "@" not in described["url"]


def test_unknown_scheme_lists_the_known_ones():
    with pytest.raises(StorageError, match="unknown URL scheme 'cassandra'.*mongodb.*sqlite"):
        open_decision_log("cassandra://h/k")
    assert {"mongodb", "memory", "sqlite", "postgresql+psycopg"} <= set(decision_log_schemes())


def test_sql_log_shares_the_record_stores_schema(tmp_path):
    from skynet.storage import open_store
    from skynet.storage.sql import head_revision

    url = f"sqlite:///{tmp_path / 'skynet.db'}"
    with open_decision_log(url) as log:
        log.append(doc(1))
    with open_store(url) as store:
        assert store.describe()["schema_revision"] == head_revision() == "0004"


def test_sql_log_without_auto_migrate_says_what_to_run(tmp_path):
    with pytest.raises(StorageError, match="run `skynet db upgrade`"):
        open_decision_log(f"sqlite:///{tmp_path / 'empty.db'}", auto_migrate=False)


def test_unreachable_mongodb_is_a_one_line_storage_error():
    pytest.importorskip("pymongo")
    from skynet.storage.decisions._mongodb import MongoDecisionLog

    with pytest.raises(StorageError, match=r"decisions\[mongodb\]: .*failed") as info:
        MongoDecisionLog("mongodb://user:secret@127.0.0.1:1/skynet?serverSelectionTimeoutMS=300")
    assert "secret" not in str(info.value) and "\n" not in str(info.value)


def test_workers_opening_a_fresh_database_together_all_get_the_schema(tmp_path):
    import subprocess
    import sys
    import time

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    start = time.time() + 8  # every process imports first, then they all open at once
    code = (
        "import time; from skynet.storage.decisions import open_decision_log; "
        f"time.sleep(max(0, {start} - time.time())); open_decision_log({url!r}).count()"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) for _ in range(6)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, errors
