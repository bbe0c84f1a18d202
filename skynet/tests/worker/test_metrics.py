"""The control worker's Prometheus metrics, scraped over HTTP: counted from each batch's results
(events, decisions, commands, dead letters, fallbacks by kind, latency, stream lag), and served by
``skynet control worker --metrics-port`` on a real Redis."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from skynet.control import Controller
from skynet.errors import ConfigError
from skynet.storage.live import Entry
from skynet.worker import make_event, serve_metrics

T0 = datetime(2025, 7, 1, 12, 0)


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The samples of http://127.0.0.1:PORT/metrics: (name, labels) -> value."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def events(device: str = "d1") -> list[str]:
    out = [make_event(device, "target", time=T0, event_id="t", mode="comfort")]
    out += [make_event(device, "reading", time=T0 + timedelta(minutes=m), event_id=f"r{m}", temperature=28.0 + m / 10,
                       humidity=55.0, outdoor_temperature=33.0) for m in (1, 2, 3)]  # fmt: skip
    return out


def test_a_processed_batch_is_counted_and_scraped():
    make_processor, stop, port = serve_metrics(0, host="127.0.0.1")
    try:
        processor = make_processor(Controller(), "w1")  # no models: the fallback thermostat decides
        queued = int((datetime.now(UTC) - timedelta(seconds=30)).timestamp() * 1000)
        payloads = [*events(), '{"device_id": "d1", "type": "reading"}']
        batch = [Entry(0, f"{queued + i}-0", text, 1, "d1") for i, text in enumerate(payloads)]
        result = processor.process(batch, {})
        assert len(result.docs) == 3 and len(result.dead) == 1

        found = scrape(port)
        assert found[("skynet_worker_events_total", ())] == 5
        assert found[("skynet_worker_decisions_total", ())] == 3
        assert found[("skynet_worker_commands_total", ())] == len(result.commands) >= 1
        assert found[("skynet_worker_dead_letters_total", ())] == 1
        kinds = {labels: v for (name, labels), v in found.items() if name == "skynet_worker_fallbacks_total"}
        assert sum(kinds.values()) == 3 and all(dict(k)["kind"] for k in kinds)
        assert found[("skynet_worker_decision_seconds_count", ())] == 3
        assert 29 <= found[("skynet_worker_stream_lag_seconds", ())] < 120  # queued 30 s before
    finally:
        stop()
    with pytest.raises(OSError):
        scrape(port)  # stopped: nothing listens any more


def test_a_port_in_use_is_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(ConfigError, match=r"worker metrics: cannot listen on 127.0.0.1:\d+"):
            serve_metrics(taken.getsockname()[1], host="127.0.0.1")


@pytest.mark.integration
def test_the_worker_serves_its_metrics_on_redis(redis_url, data_dir, tmp_path):
    from skynet.api.worker import send_event
    from skynet.config import load_settings

    env = {**os.environ, "SKYNET_STORAGE_LIVE_URL": redis_url, "SKYNET_GENERAL_DATA_DIR": str(data_dir)}
    settings = load_settings(None, environ=env)
    port = free_port()
    worker = subprocess.Popen(
        [sys.executable, "-m", "skynet", "control", "worker", "--metrics-port", str(port), "--lease-ms", "1000"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        for text in events("m1"):
            event = __import__("json").loads(text)
            fields = {k: v for k, v in event.items() if k not in ("event_id", "device_id", "type", "time")}
            send_event(settings, "m1", event["type"], at=datetime.fromisoformat(event["time"]),
                       event_id=event["event_id"], fields=fields)  # fmt: skip
        deadline, found = time.monotonic() + 60, {}
        while time.monotonic() < deadline:
            try:
                found = scrape(port)
            except OSError:
                found = {}  # not listening yet (the worker is still importing)
            if found.get(("skynet_worker_decisions_total", ())) == 3:
                break
            assert worker.poll() is None, worker.communicate()
            time.sleep(0.3)
        assert found.get(("skynet_worker_decisions_total", ())) == 3, found
        assert found[("skynet_worker_events_total", ())] == 4
        assert found[("skynet_worker_decision_seconds_count", ())] == 3
        assert found[("skynet_worker_backlog", ())] == 0  # asked of Redis at the scrape
        assert 0 <= found[("skynet_worker_stream_lag_seconds", ())] < 60
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
