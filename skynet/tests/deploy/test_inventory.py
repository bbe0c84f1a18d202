"""The inventory: parsing, validation messages, overrides and per-release config."""

from __future__ import annotations

import pytest

from skynet.deploy import load_inventory
from skynet.errors import ConfigError
from skynet.tests.deploy.conftest import REPO


def test_repository_inventory_loads():
    inv = load_inventory(REPO / "inventory.yml", environ={})
    assert inv.root == "/opt/ai"
    assert set(inv.environments) == {"staging", "production"}
    assert inv.hosts("production", "pred") == ("pred-1.skynet.internal", "pred-2.skynet.internal")
    assert inv.services["pred"]["control-worker"].command.startswith("control worker ")
    assert inv.services["pred"]["ingest"].health.startswith("data ingest-health ")
    assert [t.id for t in inv.dags["train"]["estimation_training"].tasks] == [
        "collect_data",
        "train_estimation",
        "promote_estimation",
    ]
    collect, train, gate = inv.dags["train"]["user_model_training"].tasks
    for dag in ("user_model_training", "estimation_training"):
        assert inv.dags["train"][dag].tasks[0].command.startswith("data collect --start ")
    # collect -> train -> compare with @production -> promote when better: the gate scores the
    # days training left out
    assert "--holdout-days 7 --alias candidate" in train.command
    assert gate.command.startswith(
        "models promote-if-better user_model@candidate --alias production --metric mae"
    )
    assert gate.command.endswith("--end {{ data_interval_end | ds }} --days 7")


def test_environment_overrides_root_and_store(tmp_path):
    inv = load_inventory(
        REPO / "inventory.yml",
        environ={"SKYNET_DEPLOY_ROOT": str(tmp_path), "SKYNET_BUILD_STORE": "s3://b/p"},
    )
    assert (inv.root, inv.build_store) == (str(tmp_path), "s3://b/p")


def test_release_config_expands_variables_from_the_environment(monkeypatch):
    inv = load_inventory(REPO / "inventory.yml", environ={})
    monkeypatch.setenv("SKYNET_STAGING_DB_PASSWORD", "s3cret")
    config = inv.release_config("staging", {"models": {"seed": 3}})
    assert config["storage"]["url"].startswith("postgresql+psycopg://skynet:s3cret@")
    assert config["models"] == {"seed": 3} and config["general"]["log_level"] == "INFO"
    monkeypatch.delenv("SKYNET_STAGING_DB_PASSWORD")
    with pytest.raises(ConfigError, match=r"\$\{SKYNET_STAGING_DB_PASSWORD\} is not set"):
        inv.release_config("staging")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("groups: {pred: {services: {w: {health: x}}}}", "missing 'command'"),
        ("groups: {pred: {}}\nenvironments: {s: {hosts: {train: [h]}}}", "unknown group 'train'"),
        ("rooot: /x", r"unknown key\(s\) rooot"),
        ("service_manager: upstart", "service_manager must be"),
        ("groups: {t: {dags: {d: {tasks: []}}}}", "non-empty list"),
        ("groups: {t: {dags: {'bad name': {tasks: [{id: a, command: b}]}}}}", "not a valid name"),
    ],
)
def test_bad_inventory_names_the_problem(tmp_path, text, message):
    path = tmp_path / "inv.yml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_inventory(path, environ={})


def test_unknown_environment_or_group_lists_known(tmp_path):
    inv = load_inventory(REPO / "inventory.yml", environ={})
    with pytest.raises(ConfigError, match="known: staging, production"):
        inv.hosts("qa", "pred")
    with pytest.raises(ConfigError, match="known: pred, train"):
        inv.hosts("staging", "batch")
