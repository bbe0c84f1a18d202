"""Models follow the registry: a promotion is served within the reload interval, swapped whole;
a version that cannot load leaves the old one serving; ``skynet serve`` and its health probe."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from skynet.api.promotion import promote
from skynet.api.serving import ServedModels

ROW = {"temperature": 26.0, "humidity": 50.0}


def wait_for(check, seconds: float = 30.0, every: float = 0.2):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    return check()


def test_a_promoted_model_is_served_within_the_interval(served_settings, trained_home):
    from fastapi.testclient import TestClient

    from skynet.serve import create_app

    first, spare = trained_home["user_model"], trained_home["spare"]
    with TestClient(create_app(served_settings, reload_interval=1)) as client:
        assert client.post("/v1/user_model/predict", json={"rows": [ROW]}).json()["model"] == first
        answers: list[str] = []
        stop = threading.Event()

        def ask() -> None:  # requests all along the swap: each is answered by one model or the other
            while not stop.is_set():
                answer = client.post("/v1/user_model/predict", json={"rows": [ROW]})
                answers.append(f"{answer.status_code} {answer.json().get('model')}")

        asking = threading.Thread(target=ask)
        asking.start()
        try:
            promote(served_settings, spare, "production", "serve reload test")
            assert wait_for(
                lambda: client.post("/v1/user_model/predict", json={"rows": [ROW]}).json()["model"] == spare
            )
        finally:
            stop.set()
            asking.join()
        assert set(answers) <= {f"200 {first}", f"200 {spare}"} and f"200 {spare}" in answers
        metrics = client.get("/metrics").text
        assert 'skynet_serve_model_reloads_total{model_type="user_model"} 1.0' in metrics
        assert client.get("/readyz").json()["models"]["user_model"]["name"] == spare


def test_a_version_that_cannot_load_leaves_the_old_one_serving(served_settings, trained_home, home):
    from skynet.api import user_model
    from skynet.models.user_model import SAMPLE_PARAMS, sample_data

    served = ServedModels(served_settings)
    served.refresh()
    assert served.get("user_model").name == trained_home["user_model"]
    # a model of this home's own store (the trained home's are shared), damaged after its promotion
    params = {**SAMPLE_PARAMS, "max_iter": 5}
    broken, _ = user_model.train(
        served_settings, params=params, frame=sample_data(200, seed=3), progress=False
    )
    promote(served_settings, broken, "production")
    artifact = home / "models" / broken / "model.npz"
    artifact.write_bytes(artifact.read_bytes()[:-10] + b"0123456789")
    assert served.refresh() == []
    assert served.get("user_model").name == trained_home["user_model"]
    assert "cannot be loaded" in served.problems["user_model"] and "corrupt" in served.problems["user_model"]


def test_references_pick_the_model(served_settings, trained_home):
    served = ServedModels(served_settings, {"user_model": trained_home["spare"]})
    assert served.refresh()[0] == ("user_model", None, trained_home["spare"])
    wrong = ServedModels(served_settings, {"user_model": "estimation@production"})
    wrong.refresh()
    with pytest.raises(Exception, match="names a estimation model"):
        wrong.get("user_model")


def test_skynet_serve_runs_and_its_health_probe_answers(home):
    """The real command: uvicorn on a free port, probed by `skynet serve health`, stopped by SIGTERM."""
    from skynet.tests.worker.test_metrics import free_port

    port = free_port()
    env = {**os.environ, "SKYNET_GENERAL_DATA_DIR": str(home), "SKYNET_SERVE_PORT": str(port)}
    skynet = [sys.executable, "-m", "skynet"]
    server = subprocess.Popen([*skynet, "serve", "--reload-interval", "0"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:

        def healthy() -> subprocess.CompletedProcess | None:
            assert server.poll() is None, server.communicate()
            probe = subprocess.run([*skynet, "serve", "health", "--timeout", "2"], env=env, capture_output=True,
                                   text=True)  # fmt: skip
            return probe if probe.returncode == 0 else None

        found = wait_for(healthy, seconds=90, every=0.5)
        assert found is not None and found.stdout.startswith("ready: user_model user_model-")
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)
    # uvicorn stops gracefully, then re-raises the signal (a process manager sees it was stopped)
    assert server.returncode == -signal.SIGTERM
    down = subprocess.run([*skynet, "serve", "health", "--url", f"http://127.0.0.1:{port}/readyz"], env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert down.returncode == 1 and down.stderr.startswith(
        f"Error: probe: http://127.0.0.1:{port}/readyz did not answer"
    )
