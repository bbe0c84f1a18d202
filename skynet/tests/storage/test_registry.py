"""The model registry contract over every backend: SQLite, memory, MariaDB and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from skynet.errors import DataError, StorageError
from skynet.storage.registry import DELETED, READY, ModelVersion, open_registry, utc_now
from skynet.tests.storage.conftest import BACKENDS, _clean_url

SHA = "ab" * 32


@pytest.fixture(params=BACKENDS)
def registry(request, tmp_path):
    for url in _clean_url(request.param, tmp_path, request.node.name):
        with open_registry(url) as opened:
            yield opened


def version(name: str, model_type: str = "user_model", minutes: int = 0, **changes) -> ModelVersion:
    fields = dict(
        name=changes.pop("rename", name),
        model_type=model_type,
        artifact_uri=f"s3://bucket/models/{name}",
        sha256=SHA,
        params={"lr": 0.05, "depth": [3, 4]},
        metrics={"mae": 0.61, "nan": float("nan")},
        lineage={"data_digest": "d" * 64, "dataset": {"path": "/x.parquet"}, "parent": None},
        registered_by="ann@train-1",
        registered_at=utc_now() + timedelta(minutes=minutes),
    )
    return ModelVersion(**{**fields, **changes})


def test_register_get_and_list_newest_first(registry):
    first = registry.register(version("user_model-a", minutes=-2))
    registry.register(version("user_model-b", minutes=-1))
    registry.register(version("estimation-a", model_type="estimation"))
    got = registry.get("user_model-a")
    assert got == first and got.status == READY
    assert got.metrics == {"mae": 0.61, "nan": None}  # NaN is stored as JSON null
    assert got.lineage["dataset"] == {"path": "/x.parquet"} and got.params["depth"] == [3, 4]
    assert abs((got.registered_at - first.registered_at).total_seconds()) < 1e-3  # microseconds kept
    assert [v.name for v in registry.versions("user_model")] == ["user_model-b", "user_model-a"]
    assert {v.name for v in registry.versions()} == {"user_model-a", "user_model-b", "estimation-a"}
    assert registry.get("user_model-zzz") is None
    assert registry.describe()["versions"] == 3


def test_registering_a_name_again_replaces_it_and_keeps_its_aliases(registry):
    registry.register(version("user_model-a"))
    registry.set_alias("user_model", "production", "user_model-a", "ann@h")
    registry.register(version("user_model-a", sha256="cd" * 32, metrics={"mae": 0.5}))
    assert registry.get("user_model-a").sha256 == "cd" * 32
    assert registry.get("user_model-a").metrics == {"mae": 0.5}
    assert registry.alias("user_model", "production").name == "user_model-a"
    assert len(registry.versions()) == 1


def test_set_alias_records_history_with_the_previous_version(registry):
    for i, name in enumerate(["user_model-a", "user_model-b"]):
        registry.register(version(name, minutes=i))
    first = registry.set_alias("user_model", "production", "user_model-a", "ann@h", "first")
    second = registry.set_alias("user_model", "production", "user_model-b", "bob@h", "better mae", "promote")
    back = registry.set_alias("user_model", "production", "user_model-a", "cat@h", None, "rollback")
    assert (first.old_name, first.new_name) == (None, "user_model-a")
    assert (second.old_name, second.new_name, second.who) == ("user_model-a", "user_model-b", "bob@h")
    assert back.action == "rollback" and back.old_name == "user_model-b"
    history = registry.history("user_model", "production")
    assert [(e.old_name, e.new_name, e.action, e.reason) for e in history] == [
        (None, "user_model-a", "promote", "first"),
        ("user_model-a", "user_model-b", "promote", "better mae"),
        ("user_model-b", "user_model-a", "rollback", None),
    ]
    assert [a.reference for a in registry.aliases()] == ["user_model@production"]
    assert registry.alias("user_model", "staging") is None


def test_an_alias_refuses_unknown_deleted_and_other_type_models(registry):
    registry.register(version("estimation-a", model_type="estimation"))
    registry.register(version("user_model-gone"))
    registry.delete("user_model-gone")
    with pytest.raises(StorageError, match="no model named 'user_model-x' is registered"):
        registry.set_alias("user_model", "production", "user_model-x", "ann@h")
    with pytest.raises(StorageError, match="is a estimation model, not a user_model"):
        registry.set_alias("user_model", "production", "estimation-a", "ann@h")
    with pytest.raises(StorageError, match="was deleted"):
        registry.set_alias("user_model", "production", "user_model-gone", "ann@h")
    with pytest.raises(DataError, match="not an alias name"):
        registry.set_alias("user_model", "Prod uction", "estimation-a", "ann@h")
    with pytest.raises(DataError, match="not one of promote, rollback"):
        registry.set_alias("estimation", "production", "estimation-a", "ann@h", action="steal")
    assert registry.aliases() == [] and registry.history() == []  # nothing half-written


def test_delete_refuses_an_aliased_version_and_keeps_the_row(registry):
    registry.register(version("user_model-a"))
    registry.register(version("user_model-b", minutes=1))
    registry.set_alias("user_model", "production", "user_model-a", "ann@h")
    with pytest.raises(StorageError, match=r"user_model-a is user_model@production: promote another"):
        registry.delete("user_model-a")
    assert registry.get("user_model-a").status == READY
    assert registry.delete("user_model-b").status == READY  # as it was
    assert registry.get("user_model-b").status == DELETED
    assert [v.name for v in registry.versions()] == ["user_model-a"]
    assert [v.name for v in registry.versions(include_deleted=True)] == ["user_model-b", "user_model-a"]
    with pytest.raises(StorageError, match="no model named 'user_model-c'"):
        registry.delete("user_model-c")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rename": "../etc"}, "is not a model name"),
        ({"sha256": "xyz"}, "is not 64 hex digits"),
        ({"model_type": "User Model"}, "is not a model type"),
        ({"lineage": {"when": object()}}, "lineage is not plain JSON"),
        ({"artifact_uri": ""}, "artifact_uri must be"),
    ],
)
def test_bad_versions_are_refused_with_one_line(registry, changes, message):
    with pytest.raises(DataError, match=message):
        registry.register(version("user_model-a", **changes))
    assert registry.versions(include_deleted=True) == []


def test_concurrent_promotions_lose_no_event(registry):
    names = [f"user_model-{i}" for i in range(6)]
    for name in names:
        registry.register(version(name))
    registry.set_alias("user_model", "production", names[0], "ann@h")
    errors = []

    def promote(name):
        try:
            registry.set_alias("user_model", "production", name, "ann@h")
        except StorageError as exc:  # a database may refuse a deadlocked one: never a silent loss
            errors.append(exc)

    threads = [threading.Thread(target=promote, args=(name,)) for name in names[1:]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    history = registry.history("user_model", "production")
    assert len(history) == 6 - len(errors)
    # each event's old version is the previous event's new one: the chain is unbroken
    assert all(b.old_name == a.new_name for a, b in zip(history, history[1:], strict=False))
    assert registry.alias("user_model", "production").name == history[-1].new_name


def test_unknown_scheme_lists_the_known_ones():
    with pytest.raises(StorageError, match="known: .*memory.*postgresql"):
        open_registry("cassandra://h/ks")
