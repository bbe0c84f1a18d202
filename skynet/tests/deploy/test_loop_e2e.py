"""The whole loop of issue 12 on loopback hosts, with the real skynet.pex and no file copied by hand.

Both groups of a loopback inventory (the sshd of install/sshd.sh; the root holds a space and a
``;``) are configured with the SAME shared stores and nothing else in common: the record store
and the model registry on the MariaDB test database, the live store on a fresh namespace of the
Redis test database, and ``models.store`` on a bucket of moto's standalone S3 server (the train
DAG keeps its own ``general.data_dir``, so no local folder is shared either). Steps:

1. ``fab staging pred deploy`` + ``fab staging train deploy`` (the train group's nightly DAG
   ``user_model_training``, taken verbatim from the repository's inventory.yml), then
   ``fab staging pred restart-all``: the control worker (polling the registry every second) and
   the ingester run under supervisord as the ``skynet`` user.
2. Events reach the pred host's streams two ways: a comfort target, a reading and a vote with a
   user are sent with ``skynet control send-event`` on the pred host over SSH; the other ~470
   (two weeks of votes of four devices' users, each with the reading before it, and a day of
   readings every 20 min) are appended in bulk through the live store API (``append_events``),
   as the devices' gateway would. The test waits until the ingester has written every vote and
   reading to MariaDB.
3. The three tasks of the DAG release rendered on the train host (``data collect``, ``user_model
   train --alias candidate``, ``models promote-if-better user_model@candidate --alias
   production``) run there over SSH exactly as Airflow's BashOperator would (the DAG file's
   PEX, CONFIG, ENV and TASKS, the data interval 2025-07-14 .. 2025-07-15 filled in).
4. The pred worker's heartbeat names the promoted model (same pid: no restart) and the decision
   documents of events sent afterwards (``send-event`` on the pred host) name it.

Run with ``pytest -s`` to see the command sequence and its key outputs.

The services read S3 with boto3's credential chain; the deployment gives them none (no setting,
no environment), so the test provisions ``~/.aws/credentials`` in the worker's HOME (its state
folder) on the host, as an instance role would on AWS.
"""

from __future__ import annotations

import ast
import json
import re
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml

from skynet.deploy import LocalHost, SSHHost, open_build_store
from skynet.deploy._host import as_user, q
from skynet.tests.deploy.conftest import REPO, SERVICE_USER, fab_ok, run_fab, write_inventory
from skynet.tests.worker.conftest import wait_for

pytestmark = pytest.mark.integration

#: Two weeks of votes; the data intervals of two nightly runs of the DAG (each trains on the votes
#: before its end but the last 7 days, and the gate scores on those 7 days).
START, END = datetime(2025, 7, 1), datetime(2025, 7, 15)
RUNS = [("2025-07-11", "2025-07-12"), ("2025-07-14", "2025-07-15")]
DEVICES = ("loop-a", "loop-b", "loop-c", "loop-d")
WORKER = "loop-pred-1"
#: How long a promotion may take to be served: the 1 s poll, an S3 download and a warm-up on a busy machine.
PICKUP_S = 90


def say(text: str) -> None:
    """Progress and the command sequence (pytest -s shows them)."""
    print(f"[loop {time.strftime('%H:%M:%S')}] {text}", flush=True)


# -- the shared stores ----------------------------------------------------------------------------
@pytest.fixture
def shared_stores(redis_url, monkeypatch):
    """(record store + registry URL, live store URL, S3 endpoint, bucket): MariaDB emptied before
    and after, a fresh Redis namespace, a new bucket on moto's server (removed afterwards)."""
    from skynet.tests.storage.conftest import drop_schema, server_url
    from skynet.tests.storage.test_artifacts import empty_bucket, s3_bucket

    url = server_url("mysql")
    drop_schema(url)
    endpoint, bucket = s3_bucket(monkeypatch)
    yield url, redis_url, endpoint, bucket
    empty_bucket(endpoint, bucket)
    drop_schema(url)


def _inventory(path: Path, root: Path, builds: Path, sshd: dict, stores: tuple[str, str, str, str]) -> Path:
    """The loopback inventory: the pred group's worker (polling every second) and ingester, the
    train group's ``user_model_training`` DAG of the repository's inventory.yml; every store shared."""
    url, live_url, endpoint, bucket = stores
    inventory = write_inventory(path, root, builds, sshd["host"], sshd["ssh"])
    data = yaml.safe_load(inventory.read_text())
    beat = "--heartbeat-file {state_dir}/heartbeat.json"
    dag = yaml.safe_load((REPO / "inventory.yml").read_text())["groups"]["train"]["dags"][
        "user_model_training"
    ]
    for task in dag["tasks"]:  # a small model: this is a test of the loop, not of the model
        if task["id"] == "train_user_model":
            task["command"] += " --param max_iter=20 --param min_samples_leaf=10 --param calibration_folds=3"
    dag["config"] = {"general": {"data_dir": f"{root}/train-data"}}  # the train host's own folder
    data["groups"] = {
        "pred": {
            "services": {
                # --allow-fallback: the registry is empty when the loop starts
                "control-worker": {"command": f"control worker --consumer {WORKER} --batch 64 {beat}",
                                   "health": f"control health {beat} --allow-fallback", "start_seconds": 3},
                "ingest": {"command": f"data ingest --batch 200 {beat}",
                           "health": f"data ingest-health {beat}", "start_seconds": 3},
            },  # fmt: skip
            "dags": {},
        },
        "train": {"services": {}, "dags": {"user_model_training": dag}},
    }
    data["health_timeout"] = 180  # a cold PEX start on a busy machine
    data["environments"]["staging"]["config"] = {
        "general": {"data_dir": f"{root}/data", "log_level": "INFO"},
        "storage": {"url": url, "live_url": live_url},
        "models": {"store": f"s3://{bucket}/models", "worker_poll_s": 1, "seed": 7},
        "aws": {"endpoint_url": endpoint},
    }
    inventory.write_text(yaml.safe_dump(data, sort_keys=False))
    return inventory


@pytest.fixture
def loop_site(tmp_path, sshd, real_pex, deploy_root, shared_stores):
    """(root, fab environment, stores): build 201 (the real PEX) in a build store and the inventory;
    the deployment's supervisord is shut down afterwards."""
    store = open_build_store(str(tmp_path / "builds"))
    store.put(real_pex, "0.1.0-b201", {"build_num": 201})
    inventory = _inventory(tmp_path / "inventory.yml", deploy_root, tmp_path / "builds", sshd, shared_stores)
    import os

    env = {**os.environ, "SKYNET_INVENTORY": str(inventory)}
    env.pop("SKYNET_DEPLOY_ROOT", None)
    yield deploy_root, env, shared_stores
    conf = deploy_root / "supervisor" / "supervisord.conf"
    if conf.exists():
        LocalHost().run(f"supervisorctl -c {q(conf)} shutdown", check=False)


# -- on the hosts ---------------------------------------------------------------------------------
AWS_ENV = "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1"


def on_host(host: SSHHost, command: str, shown: str, timeout: float = 600) -> str:
    """Run ``command`` on the host as the service user; print ``shown`` and its output; its stdout."""
    say(f"$ {shown}")
    started = time.monotonic()
    result = host.run(f"cd /tmp && {as_user(SERVICE_USER)}{command}", check=False, timeout=timeout)
    out = result.stdout.strip()
    for line in out.splitlines()[:14]:
        print(f"    {line}")
    say(f"  (exit {result.exited}, {time.monotonic() - started:.1f} s)")
    assert result.exited == 0, f"{shown} exited {result.exited}:\n{result.stdout}\n{result.stderr}"
    return out


def pred_skynet(host: SSHHost, root: Path, pex_root: str, args: str) -> str:
    """``skynet ARGS`` with the pred host's release of the control worker (its PEX and config.yml)."""
    current = root / "services/control-worker/current"
    command = (f"env PEX_ROOT={q(pex_root)} {q(current / 'skynet.pex')} "
               f"--config {q(current / 'config.yml')} {args}")  # fmt: skip
    return on_host(host, command, f"[pred] skynet {args}")


def dag_tasks(
    root: Path, dag: str, start: str, end: str
) -> tuple[str, dict[str, str], list[tuple[str, str]]]:
    """(the bash command prefix, env, [(task id, args)]) of the DAG file rendered on the train host,
    its Airflow templates filled in for the data interval ``start`` .. ``end``."""
    source = (root / "airflow/dags" / dag / "current" / f"{dag}.py").read_text()
    values = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    fill = {"data_interval_start": start, "data_interval_end": end}

    def render(args: str) -> str:
        return re.sub(r"\{\{\s*(\w+)\s*\|\s*ds\s*\}\}", lambda m: fill[m[1]], args)

    tasks = [(task_id, render(args)) for task_id, args in values["TASKS"]]
    return f"{values['PEX']} --config {values['CONFIG']}", values["ENV"], tasks


# -- the events -----------------------------------------------------------------------------------
def bulk_events() -> tuple[list[tuple[str, str]], int, int]:
    """(events, votes, readings): every 4 h over two weeks a vote of each device's user with the
    reading a minute before it (the vote follows the temperature, as people's do), and readings
    every 20 min on the last day of each DAG run's data interval (its collect step checks them)."""
    from skynet.worker import make_event

    rng = np.random.default_rng(12)
    events, votes, readings = [], 0, 0
    for d, device in enumerate(DEVICES):
        at = START + timedelta(hours=1, minutes=7 * d)
        while at < END:
            temperature = float(rng.uniform(19, 31))
            vote = float(
                np.clip(round(0.45 * (temperature - 24.5) + 0.3 * (d - 1.5) + rng.normal(0, 0.5)), -3, 3)
            )
            events.append((device, make_event(device, "reading", time=at - timedelta(minutes=1), temperature=round(
                temperature, 1), humidity=50.0, outdoor_temperature=30.0, outdoor_humidity=60.0)))  # fmt: skip
            events.append((device, make_event(device, "feedback", time=at, value=vote, user_id=f"{device}/u1",
                                              clothing=0.6, metabolic_rate=1.1)))  # fmt: skip
            votes, readings, at = votes + 1, readings + 1, at + timedelta(hours=4)
        for day, _ in RUNS:
            for i in range(72):
                at = datetime.fromisoformat(day) + timedelta(minutes=20 * i + d)
                events.append((device, make_event(device, "reading", time=at, temperature=24.0 + (i % 8) * 0.5,
                                                  humidity=50.0, outdoor_temperature=30.0, outdoor_humidity=60.0)))  # fmt: skip
                readings += 1
    return events, votes, readings


def stored(url: str) -> tuple[int, int]:
    """(votes, readings) in the record store."""
    from skynet.domain import Feedback, SensorReading
    from skynet.storage import open_store

    with open_store(url) as store:
        return len(store.read_frame(Feedback)), len(store.read_frame(SensorReading))


def run_dag(host: SSHHost, root: Path, interval: tuple[str, str]) -> dict[str, str]:
    """The tasks of the train host's ``user_model_training`` DAG release for one data interval,
    one after the other as Airflow's BashOperator runs them (as the service user); their outputs."""
    prefix, dag_env, tasks = dag_tasks(root, "user_model_training", *interval)
    assert [t for t, _ in tasks] == ["collect_data", "train_user_model", "promote_user_model"]
    variables = " ".join(f"{k}={q(v)}" for k, v in dag_env.items())
    say(f"DAG user_model_training, data interval {interval[0]} .. {interval[1]}")
    return {
        task_id: on_host(
            host, f"env {variables} {AWS_ENV} bash -c {q(f'{prefix} {args}')}", f"[train] skynet {args}"
        )
        for task_id, args in tasks
    }


def served(live, name: str, pid: int) -> dict:
    """The worker's heartbeat once it serves ``name`` as its comfort model (the same process)."""
    promoted = time.monotonic()
    wanted = (name, "user_model@production")

    def serving() -> dict:
        beat = live.members().get(WORKER) or {}
        return (
            beat
            if (beat.get("models", {}).get("comfort"), beat.get("models_from", {}).get("comfort")) == wanted
            else {}
        )

    # (a first candidate may be served as the newest model before the gate promotes it: wait for the alias)
    beat = wait_for(serving, PICKUP_S, f"the worker to serve {name} as user_model@production")
    say(f"heartbeat of {WORKER}: pid {beat['pid']}, models {beat['models']}, from {beat.get('models_from')} "
        f"({time.monotonic() - promoted:.1f} s after the promote task ended)")  # fmt: skip
    assert beat["pid"] == pid
    return beat


def decided(host: SSHHost, root: Path, pex_root: str, log, at: datetime) -> list[dict]:
    """Send a reading of loop-after (whose comfort target came in bulk) on the pred host; the
    decision documents made of it."""
    pred_skynet(host, root, pex_root, f"control send-event --device loop-after --type reading --temperature 27 "
                                      f"--humidity 55 --field outdoor_temperature=31 --at {at:%Y-%m-%dT%H:%M}")  # fmt: skip
    docs = wait_for(lambda: log.read("loop-after", start=at, end=at + timedelta(seconds=1)), 60,
                    f"the decision of loop-after at {at}")  # fmt: skip
    for doc in docs:
        say("decision document: " + json.dumps({k: doc.get(k) for k in ("device_id", "models", "models_from",
                                                                          "fallback")}, default=str))  # fmt: skip
    return docs


def test_the_loop_events_ingested_trained_promoted_served_without_restart(loop_site, sshd):
    root, env, (url, live_url, endpoint, bucket) = loop_site
    import boto3

    from skynet.deploy import load_inventory
    from skynet.storage.decisions import open_decision_log
    from skynet.storage.live import open_live_store

    began = time.monotonic()
    host = SSHHost(sshd["host"], sshd["ssh"])
    pex_root = load_inventory(env["SKYNET_INVENTORY"]).pex_root
    live = open_live_store(live_url)
    log = open_decision_log(url)

    # 1. deploy both groups; start the pred services
    for args in (("staging", "pred", "deploy", "--build-num", "201"),
                 ("staging", "train", "deploy", "--build-num", "201"),
                 ("staging", "pred", "restart-all")):  # fmt: skip
        if args[-1] == "restart-all":  # the worker's S3 credentials (boto3's chain: HOME is its state folder)
            aws = root / "services/control-worker/state/.aws"
            owner = f" && chown -R {q(SERVICE_USER)}: {q(aws)}" if SERVICE_USER else ""
            host.run(f"mkdir -p {q(aws)} && printf '[default]\\naws_access_key_id = testing\\naws_secret_access_key"
                     f" = testing\\n' > {q(aws / 'credentials')} && chmod -R go-rwx {q(aws)}{owner}")  # fmt: skip
        say("$ fab " + " ".join(args))
        fab_ok(run_fab(env, *args))
    beat = wait_for(lambda: live.members().get(WORKER), 120, "the worker's first heartbeat")
    pid = beat["pid"]
    say(f"heartbeat of {WORKER}: pid {pid}, models {beat['models']} ({beat.get('models_missing')})")
    assert beat["models"] == {"estimator": None, "comfort": None}

    # 2. events to the pred host's streams: one vote with send-event there, the rest in bulk
    vote_at = START + timedelta(minutes=30)
    pred_skynet(host, root, pex_root, f"control send-event --device loop-a --type feedback --value -1 --field "
                                      f"user_id=loop-a/u1 --field clothing=0.6 --at {vote_at:%Y-%m-%dT%H:%M}")  # fmt: skip
    events, votes, readings = bulk_events()
    events.append(("loop-after", make_target("loop-after", END)))
    live.append_events(events)
    votes += 1
    say(
        f"appended {len(events)} events in bulk (live store API); expecting {votes} votes, {readings} readings"
    )
    counts = wait_for(lambda: stored(url) == (votes, readings) and stored(url), 180, "the ingester", every=2)
    say(f"ingested into the record store (MariaDB): {counts[0]} votes, {counts[1]} readings")

    # 3. the nightly DAG on the train host: the first run promotes (no production model yet) ...
    first = run_dag(host, root, RUNS[0])
    name = re.search(r"saved model (\S+) as user_model@candidate", first["train_user_model"])[1]
    assert first["promote_user_model"].startswith(f"promoted: {name} -> user_model@production (was None)")
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    assert f"models/{name}/model.npz" in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert not (root / "data/models").exists() and not (root / "train-data/models").exists()

    # 4. ... the pred worker serves it unrestarted, and its decisions name it
    served(live, name, pid)
    docs = decided(host, root, pex_root, log, END + timedelta(hours=1))
    assert docs and {doc["models"]["comfort"] for doc in docs} == {name}

    # 5. the next night's run trains on more data and compares it with user_model@production
    second = run_dag(host, root, RUNS[1])
    newer = re.search(r"saved model (\S+) as user_model@candidate", second["train_user_model"])[1]
    assert newer != name and second["promote_user_model"].startswith(
        f"promoted: {newer} -> user_model@production (was {name})"
    )
    assert "mae" in second["promote_user_model"]  # the comparison's table
    served(live, newer, pid)
    docs = decided(host, root, pex_root, log, END + timedelta(hours=2))
    assert docs and {doc["models"]["comfort"] for doc in docs} == {newer}

    status = LocalHost().run(f"supervisorctl -c {q(root / 'supervisor/supervisord.conf')} status").stdout
    say("supervisorctl status:\n" + status.rstrip())
    assert f"pid {pid}," in status  # the worker's process all along
    health = pred_skynet(host, root, pex_root, f"control health --consumer {WORKER} --allow-fallback")
    assert json.loads(health)["healthy"] is True
    for service in ("control-worker", "ingest"):  # what the services logged (INFO) on the pred host
        text = (root / "services" / service / "service.log").read_text()
        lines = [line for line in text.splitlines() if "models" in line or "ingest" in line][-6:]
        say(f"{service}/service.log:\n    " + "\n    ".join(line[:220] for line in lines))
        assert "Traceback" not in text
    say(f"the loop took {time.monotonic() - began:.0f} s")


def make_target(device: str, at: datetime) -> str:
    from skynet.worker import make_event

    return make_event(device, "target", time=at, mode="comfort", event_id=f"{device}-target")
