"""Ingestion on the real servers: events queued on Redis end up in SQLite, MariaDB and PostgreSQL,
once per key, acknowledged only after the write commits, taken over from a dead ingester.

Events are queued with :func:`skynet.api.worker.send_event` (what ``skynet control send-event``
calls). A slow store is a real one: another connection holds a lock on the readings table.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from skynet.api._ingester import INGEST_GROUP, Ingester, IngestOptions
from skynet.api.ingest import ingest_health, run_ingest
from skynet.api.worker import send_event
from skynet.config import load_settings
from skynet.domain import ApplianceState, ControlTarget, Feedback, SensorReading, Weather
from skynet.storage import open_store
from skynet.storage.live import open_live_store

pytestmark = pytest.mark.integration

T0 = datetime(2025, 7, 1, 12, 0)
#: what each kind of event sent by :func:`send_all` stores
SENT = {"sensor_reading": 2, "weather": 2, "feedback": 1, "appliance_state": 1, "control_target": 1}


@pytest.fixture
def setup(sql_url, redis_url, tmp_path):
    """Settings with the record store at ``sql_url`` and the live store on Redis."""
    environ = {
        "SKYNET_GENERAL_DATA_DIR": str(tmp_path / "data"),
        "SKYNET_STORAGE_URL": sql_url,
        "SKYNET_STORAGE_LIVE_URL": redis_url,
    }
    open_store(sql_url).close()  # the schema, before any test locks a table of it
    return load_settings(None, environ=environ)


def send_all(settings, device: str = "d1") -> None:
    """One event of each stored kind (a reading with the outdoor temperature also is weather)."""
    send = lambda kind, minute, **fields: send_event(  # noqa: E731
        settings,
        device,
        kind,
        at=T0 + timedelta(minutes=minute),
        event_id=f"{device}-{kind}-{minute}",
        fields=fields,
    )
    send("reading", 0, temperature=24.5, humidity=50.0, outdoor_temperature=31.0, outdoor_humidity=40.0)
    send("reading", 1, temperature=24.0)
    send("weather", 2, temperature=30.5, running_mean_temperature=27.0)
    send("feedback", 3, value=1.0, user_id="u1", clothing=0.5)
    send("appliance", 4, power=True, mode="cool", set_temperature=24.0, fan="auto")
    send("target", 5, mode="temperature", value=23.0)
    send("device", 6, timezone="Europe/Paris")


def counts(url: str) -> dict[str, int]:
    with open_store(url) as store:
        return {kind: n for kind, n in store.describe()["counts"].items() if kind in SENT}


def test_sent_events_are_stored_with_their_values_and_once(setup):
    send_all(setup)
    first = run_ingest(setup, once=True)
    assert first["events"] == 7 and first["stored"] == SENT and first["backlog"] == 0
    assert first["skipped"] == {"device": 1} and first["duplicates"] == 0
    url = setup.storage.url
    with open_store(url) as store:
        assert store.read(SensorReading, "d1") == [
            SensorReading("d1", T0, 24.5, humidity=50.0),
            SensorReading("d1", T0 + timedelta(minutes=1), 24.0),
        ]
        assert store.read(Weather, "d1") == [
            Weather("d1", T0, 31.0, humidity=40.0),
            Weather("d1", T0 + timedelta(minutes=2), 30.5, running_mean_temperature=27.0),
        ]
        assert store.read(Feedback) == [
            Feedback("d1", T0 + timedelta(minutes=3), 1.0, user_id="u1", clothing=0.5)
        ]
        assert store.read(ApplianceState) == [
            ApplianceState("d1", T0 + timedelta(minutes=4), True, "cool", 24.0, "auto", "user")
        ]
        assert store.read(ControlTarget) == [
            ControlTarget("d1", T0 + timedelta(minutes=5), "temperature", 23.0)
        ]

    send_all(setup)  # sent again (a producer retrying): nothing new
    again = run_ingest(setup, once=True)
    assert again["events"] == 7 and again["stored"] == {} and again["duplicates"] == sum(SENT.values())
    assert counts(url) == SENT


def test_an_event_redelivered_after_a_crash_stores_nothing_twice(setup):
    send_all(setup)
    url, live_url = setup.storage.url, setup.storage.live_url
    with open_live_store(live_url) as live, open_store(url) as store:
        # what a crash between the commit and the acknowledgement leaves: the records written,
        # the events still pending for the crashed ingester (the first half of Ingester.ingest)
        crashed = Ingester(live, store, "crashed")
        live.join_group(INGEST_GROUP)
        entries = live.read_events("crashed", range(live.partitions), 100, group=INGEST_GROUP)
        pairs, _, _ = crashed._records(entries)
        crashed._write(pairs)
        assert counts(url) == SENT and live.pending(group=INGEST_GROUP) == 7

        other = Ingester(live, store, "other", IngestOptions(claim_idle_ms=0, fail_fast=True))
        stats = other.run(drain=True)
        assert stats.claimed == 7 and stats.events == 7 and stats.stored == {}
        assert stats.duplicates == sum(SENT.values())
        assert live.pending(group=INGEST_GROUP) == 0 and live.backlog(group=INGEST_GROUP) == 0
    assert counts(url) == SENT


@contextmanager
def readings_locked(url: str):
    """Hold a lock that makes every write of sensor readings wait (SQLite: fail after 5 s)."""
    if url.startswith("sqlite"):
        connection = sqlite3.connect(url[len("sqlite:///") :], isolation_level=None)
        connection.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as locked:
            if url.startswith("mysql"):
                locked.execute(text("LOCK TABLES sensor_readings WRITE"))
            else:
                locked.execute(text("LOCK TABLE sensor_readings IN EXCLUSIVE MODE"))
            try:
                yield
            finally:
                if url.startswith("mysql"):
                    locked.execute(text("UNLOCK TABLES"))
                locked.rollback()
    finally:
        engine.dispose()


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_a_slow_store_holds_up_ingestion_not_decisions_and_nothing_is_acknowledged_early(setup, sql_url):
    from skynet.control import Controller
    from skynet.storage.decisions import open_decision_log
    from skynet.worker import Processor, Worker, WorkerOptions

    live = open_live_store(setup.storage.live_url)
    store = open_store(sql_url)
    ingester = Ingester(live, store, "ingester", IngestOptions(batch=50, block_ms=100, retry_s=0.2))
    log = open_decision_log("memory://")
    worker = Worker(
        live,
        log,
        Processor(Controller(), "w"),
        "w",
        WorkerOptions(block_ms=50, lease_ms=1000, heartbeat_ms=100),
    )
    threads = []
    try:
        with readings_locked(sql_url):
            for i in range(3):
                send_event(setup, f"d{i}", "target", at=T0, event_id=f"t{i}", fields={"mode": "comfort"})
                send_event(setup, f"d{i}", "reading", at=T0 + timedelta(minutes=1), event_id=f"r{i}",
                           fields={"temperature": 28.0})  # fmt: skip
            threads = [threading.Thread(target=ingester.run), threading.Thread(target=worker.run)]
            for thread in threads:
                thread.start()
            # the workers decide while the ingester waits for the database
            wait_for(lambda: live.backlog() == 0 and log.count() == 3, 30, "the worker's 3 decisions")
            wait_for(lambda: ingester.writing_since is not None, 30, "the ingester's write to start")
            time.sleep(0.3)
            assert live.pending(group=INGEST_GROUP) == 6 and live.backlog(group=INGEST_GROUP) == 6
            assert ingester.stats.events == 0
            if sql_url.startswith("sqlite"):  # SQLite gives up after its busy timeout: a failure, retried
                wait_for(lambda: ingester.stats.failures >= 1, 30, "the locked write to fail")
                assert ingester.stats.failing and "locked" in ingester.stats.failing
                assert live.pending(group=INGEST_GROUP) == 6
        wait_for(lambda: live.backlog(group=INGEST_GROUP) == 0, 30, "the ingester to catch up")
        assert ingester.stats.events == 6 and ingester.stats.stored == {
            "control_target": 3,
            "sensor_reading": 3,
        }
        assert ingester.stats.failing is None
    finally:
        ingester.stop()
        worker.stop()
        for thread in threads:
            thread.join(30)
        store.close()
        live.close()
    assert counts(sql_url)["sensor_reading"] == 3
    assert live.groups() == {"workers": 0, "ingest": 0}


def test_a_killed_ingesters_pending_events_are_taken_over(setup, sql_url, tmp_path):
    for i in range(5):
        send_event(
            setup,
            "d1",
            "reading",
            at=T0 + timedelta(minutes=i),
            event_id=f"r{i}",
            fields={"temperature": 25.0},
        )
    beat = tmp_path / "ingest.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYNET_") or k.startswith("SKYNET_TEST_")}
    env.update(SKYNET_GENERAL_DATA_DIR=str(tmp_path / "data"), SKYNET_STORAGE_URL=sql_url,
               SKYNET_STORAGE_LIVE_URL=setup.storage.live_url)  # fmt: skip
    live = open_live_store(setup.storage.live_url)
    live.join_group(INGEST_GROUP)
    with readings_locked(sql_url):
        proc = subprocess.Popen(
            [sys.executable, "-m", "skynet", "data", "ingest", "--consumer", "doomed", "--heartbeat-file", str(beat)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            wait_for(
                lambda: live.pending(group=INGEST_GROUP) == 5, 60, "the doomed ingester to read the events"
            )
            wait_for(
                lambda: ingest_health(beat)["ingester"].get("writing_s") is not None, 30, "its heartbeat"
            )
            assert ingest_health(beat)["healthy"]  # alive while it waits for the database
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
    time.sleep(1.1)
    assert not ingest_health(beat, max_age=1)["healthy"]  # dead: its heartbeat goes stale
    assert live.pending(group=INGEST_GROUP) == 5  # nothing acknowledged
    result = run_ingest(setup, once=True, claim_idle_ms=0)
    assert result["claimed"] == 5 and result["events"] == 5 and result["stored"] == {"sensor_reading": 5}
    assert result["backlog"] == 0 and live.pending(group=INGEST_GROUP) == 0
    assert counts(sql_url)["sensor_reading"] == 5
    live.close()


def test_bad_events_are_skipped_with_counts_and_a_record_the_store_refuses_is_left_out(setup):
    from skynet.worker import make_event

    live = open_live_store(setup.storage.live_url)
    now = datetime.now(UTC).replace(tzinfo=None)
    live.append_events([
        ("d1", "not json"),
        ("d1", make_event("d2", "reading", time=T0, temperature=20.0)),  # queued under another device
        ("d1", make_event("d1", "reading", time=now + timedelta(hours=1), temperature=20.0)),  # a clock ahead
        ("d1", make_event("d1", "feedback", time=T0, value=0.0, user_id="u" * 100)),  # longer than the column
        ("d1", make_event("d1", "feedback", time=T0 + timedelta(minutes=1), value=-1.0, user_id="u1")),
        ("d1", make_event("d1", "reading", time=T0, temperature=21.0)),
    ])  # fmt: skip
    result = run_ingest(setup, once=True)
    assert result["skipped"] == {"malformed": 1, "key": 1, "future": 1}
    assert result["refused"] == 1 and result["stored"] == {"feedback": 1, "sensor_reading": 1}
    assert result["events"] == 6 and result["backlog"] == 0
    assert live.read_dead_letters() == []  # the workers dead-letter what is malformed, not the ingester
    with open_store(setup.storage.url) as store:
        assert [f.user_id for f in store.read(Feedback)] == ["u1"]
    live.close()


def test_readings_and_weather_go_to_the_time_series_store(redis_url, tmp_path):
    records, series = f"sqlite:///{tmp_path / 'records.db'}", f"sqlite:///{tmp_path / 'series.db'}"
    settings = load_settings(None, environ={"SKYNET_GENERAL_DATA_DIR": str(tmp_path / "data"),
                                            "SKYNET_STORAGE_URL": records, "SKYNET_STORAGE_TIMESERIES_URL": series,
                                            "SKYNET_STORAGE_LIVE_URL": redis_url})  # fmt: skip
    send_all(settings)
    assert run_ingest(settings, once=True)["stored"] == SENT
    assert counts(series) == {**dict.fromkeys(SENT, 0), "sensor_reading": 2, "weather": 2}
    assert counts(records) == {**SENT, "sensor_reading": 0, "weather": 0}
    assert Path(tmp_path / "series.db").exists()


def test_sigterm_finishes_the_batch_and_leaves_a_stopped_heartbeat(redis_url, tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYNET_") or k.startswith("SKYNET_TEST_")}
    env.update(SKYNET_GENERAL_DATA_DIR=str(tmp_path / "data"), SKYNET_STORAGE_URL=url, SKYNET_STORAGE_LIVE_URL=redis_url,
               SKYNET_GENERAL_LOG_LEVEL="INFO")  # fmt: skip
    beat = tmp_path / "ingest.json"
    proc = subprocess.Popen([sys.executable, "-m", "skynet", "data", "ingest", "--heartbeat-file", str(beat)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        settings = load_settings(None, environ={"SKYNET_STORAGE_LIVE_URL": redis_url})
        for i in range(3):
            send_event(settings, "d1", "reading", at=T0 + timedelta(minutes=i), fields={"temperature": 25.0})
        wait_for(
            lambda: beat.exists() and ingest_health(beat)["ingester"].get("events") == 3,
            60,
            "3 events ingested",
        )
        assert ingest_health(beat)["healthy"]
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out.startswith("ingested 3 events from redis://") and "sensor_reading    3" in out
    assert "INFO skynet.ingest: ingester " in err and " stopped: {'events': 3" in err
    health = ingest_health(beat)
    assert not health["healthy"] and health["problem"] == "the ingester stopped"
    assert counts(url)["sensor_reading"] == 3
