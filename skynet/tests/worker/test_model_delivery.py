"""Delivery (issue 12 item 6): a real worker process on Redis serves the models of a SQLite
registry, picks up a promotion while it runs (polling every second here), refuses a corrupt
promoted model and keeps the one it serves, names its models in heartbeats and decision
documents, and is unhealthy while a model is missing. No worker is restarted: its pid is checked.

The registry and the artifact folder are the data directory's defaults (``sqlite:///{data_dir}/
skynet.db``, ``{data_dir}/models``), shared by this test process (which trains, registers and
promotes, as the nightly DAG would) and the worker process.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from skynet.config import load_settings
from skynet.storage.decisions import open_decision_log
from skynet.storage.live import open_live_store
from skynet.tests.worker.conftest import T0, device_events, wait_for

pytestmark = pytest.mark.integration

#: the worker looks at the registry every second
POLL = {"SKYNET_MODELS_WORKER_POLL_S": "1"}
#: how long a promotion may take to be served here: the poll, a load and a warm-up on a busy machine
PICKUP_S = 30


@pytest.fixture
def settings_here(worker_procs, monkeypatch):
    """This process's settings on the workers' data directory (their registry and model folder)."""
    monkeypatch.setenv("SKYNET_GENERAL_DATA_DIR", str(worker_procs.data_dir))
    return load_settings(None)


@pytest.fixture(scope="module")
def control_models():
    """The session's small real estimation and comfort models (trained once, ~30 s)."""
    from skynet.tests.control._models import small_control_models

    return small_control_models()


def comfort_model(seed: int):
    """Another small user model (a name of its own: other data)."""
    from skynet.models.user_model import SAMPLE_PARAMS, UserModel, sample_data

    return UserModel(**SAMPLE_PARAMS).fit(sample_data(400, seed=seed))


def register(settings, model, alias: str | None = None) -> str:
    from skynet.api.models import register_trained

    return register_trained(settings, model, {}, alias=alias)


def heartbeat(live, name: str) -> dict:
    return live.members().get(name) or {}


def decisions(live, log, device: str, start) -> list[dict]:
    """Queue a comfort target and three readings of a new device; its three decision documents."""
    live.append_events(device_events(device, 3, start))
    return wait_for(
        lambda: (docs := log.read(device)) and len(docs) == 3 and docs, 60, f"{device}'s decisions"
    )


def health(cli_env, monkeypatch, *args: str):
    from click.testing import CliRunner

    from skynet.cli import cli

    for key, value in cli_env.items():
        monkeypatch.setenv(key, value)
    return CliRunner().invoke(cli, ["control", "health", *args])


def test_health_fails_while_a_model_is_missing_and_the_newest_models_are_served_once_registered(
    worker_procs, settings_here, control_models, monkeypatch
):
    live = open_live_store(worker_procs.live_url)
    log = open_decision_log(worker_procs.decisions_url)
    proc = worker_procs.start("w1", **POLL)
    beat = wait_for(lambda: heartbeat(live, "w1").get("models_missing"), 60, "the worker's heartbeat")
    assert set(beat) == {"estimator", "comfort"}
    assert beat["comfort"] == "no user_model@production and no user_model model in the registry"
    env = {"SKYNET_STORAGE_LIVE_URL": worker_procs.live_url}

    sick = health(env, monkeypatch, "--consumer", "w1")
    assert sick.exit_code == 1 and json.loads(sick.stdout)["healthy"] is False
    assert "unhealthy: worker w1 runs the fallback thermostat, a model is missing (estimator: no estimation@" in (
        sick.stderr)  # fmt: skip
    assert health(env, monkeypatch, "--consumer", "w1", "--allow-fallback").exit_code == 0
    docs = decisions(live, log, "before", T0)
    assert {d["fallback"] for d in docs} == {"no estimation model"}
    assert docs[-1]["models"] == {"estimator": None, "comfort": None}

    # the nightly DAG registers models (no alias yet): the worker serves the newest, unrestarted
    names = {role: register(settings_here, control_models[role]) for role in ("estimator", "comfort")}
    served = wait_for(
        lambda: heartbeat(live, "w1").get("models") == names, PICKUP_S, "the new models to be served"
    )
    assert served
    beat = heartbeat(live, "w1")
    assert beat["models_from"] == {"estimator": "newest estimation", "comfort": "newest user_model"}
    assert beat["models_missing"] == {} and beat["pid"] == proc.pid and proc.poll() is None
    assert health(env, monkeypatch, "--consumer", "w1").exit_code == 0
    docs = decisions(live, log, "after", T0)
    assert [d["models"] for d in docs] == [names] * 3 and {d["fallback"] for d in docs} == {None}
    assert docs[0]["models_from"]["comfort"] == "newest user_model"


def test_a_promotion_is_served_without_restart_and_a_corrupt_one_is_refused(
    worker_procs, settings_here, control_models
):
    from skynet.api._context import open_model_registry
    from skynet.api.promotion import promote, rollback

    estimator = register(settings_here, control_models["estimator"], alias="production")
    first = register(settings_here, control_models["comfort"], alias="production")
    live = open_live_store(worker_procs.live_url)
    log = open_decision_log(worker_procs.decisions_url)
    proc = worker_procs.start("w1", **POLL)
    wait_for(lambda: heartbeat(live, "w1").get("models"), 60, "the worker's heartbeat")
    docs = decisions(live, log, "d-first", T0)
    assert {d["models"]["comfort"] for d in docs} == {first} and {d["fallback"] for d in docs} == {None}
    assert docs[0]["models"]["estimator"] == estimator
    assert docs[0]["models_from"] == {
        "estimator": "estimation@production",
        "comfort": "user_model@production",
    }

    second = register(settings_here, comfort_model(seed=2))
    promoted = time.monotonic()
    promote(settings_here, second, reason="better")
    wait_for(lambda: heartbeat(live, "w1")["models"]["comfort"] == second, PICKUP_S, "the promoted model")
    print(f"promotion served after {time.monotonic() - promoted:.1f} s (poll 1 s)")
    docs = decisions(live, log, "d-second", T0 + timedelta(hours=1))
    assert {d["models"]["comfort"] for d in docs} == {second} and {d["fallback"] for d in docs} == {None}
    assert heartbeat(live, "w1")["pid"] == proc.pid and proc.poll() is None

    # a model whose artifact is damaged after it was checked is promoted behind the gate's back
    third = register(settings_here, comfort_model(seed=3))
    (worker_procs.data_dir / "models" / third / "model.npz").write_bytes(b"damaged on the shared disk")
    with open_model_registry(settings_here) as registry:
        registry.set_alias("user_model", "production", third, "ops", "by hand", "promote")
    refused = wait_for(lambda: heartbeat(live, "w1").get("models_refused"), PICKUP_S, "the refusal")
    assert refused["comfort"].startswith(f"{third}: user_model@production: ")
    assert "corrupt" in refused["comfort"] or "sha256" in refused["comfort"]
    docs = decisions(live, log, "d-third", T0 + timedelta(hours=2))
    assert {d["models"]["comfort"] for d in docs} == {second} and {d["fallback"] for d in docs} == {None}
    assert f"worker models: refused comfort {third}" in worker_procs.output("w1")
    assert worker_procs.output("w1").count(f"refused comfort {third}") == 1  # once, not at every poll

    rollback(settings_here, "production", "user_model", "the corrupt one")  # back to the model served
    wait_for(lambda: "models_refused" not in heartbeat(live, "w1"), PICKUP_S, "the refusal to clear")
    assert heartbeat(live, "w1")["models"]["comfort"] == second
    assert heartbeat(live, "w1")["pid"] == proc.pid and proc.poll() is None
