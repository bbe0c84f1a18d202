"""The experiment store contract over every backend: SQLite, memory, MariaDB and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from skynet.errors import DataError, StorageError
from skynet.storage.experiments import OVERALL, Metric, Search, open_experiment_store, utc_now
from skynet.tests.storage.conftest import BACKENDS, _clean_url

HASH = "d" * 64


@pytest.fixture(params=BACKENDS)
def experiments(request, tmp_path):
    for url in _clean_url(request.param, tmp_path, request.node.name):
        with open_experiment_store(url) as opened:
            yield opened


def search(search_id: str = "user_model-1", minutes: int = 0, **changes) -> Search:
    fields = dict(id=search_id, model_type="user_model", kind="grid", dataset_hash=HASH, metric="mae",
                  spec={"space": {"max_iter": [20, 40]}, "folds": 3}, created=utc_now() + timedelta(minutes=minutes),
                  created_by="ann@train-1")  # fmt: skip
    return Search(**{**fields, **changes})


def metrics(search_id: str, point: int, value: float = 0.7) -> list[Metric]:
    rows = [
        Metric(search_id, point, fold, "mae", value + fold / 100, HASH, "user_model-gbm") for fold in range(3)
    ]
    return [*rows, Metric(search_id, point, OVERALL, "mae", value, HASH, "user_model-gbm"),
            Metric(search_id, point, OVERALL, "bias", float("nan"), HASH, "user_model-gbm")]  # fmt: skip


def test_create_read_and_list_newest_first(experiments):
    experiments.create_search(search("s-old", minutes=-1), [{"max_iter": 20}])
    made = experiments.create_search(search(), [{"max_iter": 20}, {"max_iter": 40, "hidden": [64, 32]}])
    experiments.create_search(search("e-1", model_type="estimation", metric="rmse"), [{"epochs": 3}])
    got = experiments.search("user_model-1")
    assert got.spec == made.spec and got.status == "running" and got.dataset_hash == HASH
    assert abs((got.created - made.created).total_seconds()) < 1e-3
    assert [s.id for s in experiments.searches("user_model")] == ["user_model-1", "s-old"]
    assert [s.id for s in experiments.searches(limit=1)] == ["e-1"]
    points = experiments.points("user_model-1")
    assert [(p.point_id, p.params, p.status, p.attempts) for p in points] == [
        (0, {"max_iter": 20}, "pending", 0), (1, {"max_iter": 40, "hidden": [64, 32]}, "pending", 0)]  # fmt: skip
    assert experiments.search("nope") is None
    assert experiments.describe()["searches"] == 3


def test_a_search_id_is_created_once(experiments):
    experiments.create_search(search(), [{"a": 1}])
    with pytest.raises(StorageError, match="exists already"):
        experiments.create_search(search(), [{"a": 2}])
    assert [p.params for p in experiments.points("user_model-1")] == [{"a": 1}]


@pytest.mark.parametrize(
    "changes, points, message",
    [
        ({"id": "../etc"}, [{}], "is not a search id"),
        ({"kind": "bayes"}, [{}], "search kind 'bayes' is not one of grid, random, tpe"),
        ({}, [], "has no points"),
        ({}, [{"lr": float("nan")}], "point 0's parameters is not plain JSON"),
        ({"spec": {"x": object()}}, [{}], "spec is not plain JSON"),
    ],
)
def test_bad_searches_are_refused_and_store_nothing(experiments, changes, points, message):
    with pytest.raises(DataError, match=message):
        experiments.create_search(search(**changes), points)
    assert experiments.searches() == []


def test_a_point_runs_is_stored_once_and_a_second_finish_writes_nothing(experiments):
    experiments.create_search(search(), [{"a": 1}, {"a": 2}])
    first = experiments.start_point("user_model-1", 0, "w1@host-a")
    assert (first.status, first.worker, first.attempts) == ("running", "w1@host-a", 1)
    # the worker dies; the broker redelivers the task to another worker: a second attempt
    again = experiments.start_point("user_model-1", 0, "w2@host-b")
    assert (again.status, again.worker, again.attempts) == ("running", "w2@host-b", 2)
    assert experiments.finish_point("user_model-1", 0, metrics("user_model-1", 0)) is True
    # the first worker's orphaned run finishes too: nothing more is written
    assert experiments.finish_point("user_model-1", 0, metrics("user_model-1", 0, value=9.0)) is False
    stored = experiments.metrics("user_model-1", 0)
    assert len(stored) == 5 and {m.value for m in stored if m.name == "mae"} == {0.7, 0.71, 0.72}
    assert [m.value for m in stored if m.name == "bias"] == [None]  # NaN stored as NULL
    done = experiments.points("user_model-1")[0]
    assert done.status == "done" and done.finished is not None and done.seconds >= 0
    # a redelivered task sees the point done and is told so (nothing left to do)
    assert experiments.start_point("user_model-1", 0, "w3@host-c") == done
    assert experiments.fail_point("user_model-1", 0, "late error") is False
    assert experiments.points("user_model-1")[0].status == "done"


def test_failing_a_point_keeps_its_error_and_the_search_can_finish(experiments):
    experiments.create_search(search(), [{"a": 1}, {"a": 2}])
    experiments.start_point("user_model-1", 1, "w1")
    assert experiments.fail_point("user_model-1", 1, "ValueError: learning_rate must be > 0" + "x" * 5000)
    failed = experiments.points("user_model-1")[1]
    assert (
        failed.status == "failed"
        and failed.error.startswith("ValueError: learning_rate")
        and len(failed.error) <= 2001
    )
    assert experiments.claim_finish("user_model-1") is False  # point 0 is still pending
    experiments.start_point("user_model-1", 0, "w1")
    experiments.finish_point("user_model-1", 0, metrics("user_model-1", 0))
    assert experiments.claim_finish("user_model-1") is True
    assert experiments.claim_finish("user_model-1") is False  # exactly once
    assert experiments.search("user_model-1").status == "finishing"
    experiments.end_search("user_model-1", "done", best_point=0, model_name="user_model-gbm40-x")
    ended = experiments.search("user_model-1")
    assert (ended.status, ended.best_point, ended.model_name) == ("done", 0, "user_model-gbm40-x")
    assert ended.finished is not None
    experiments.name_model("user_model-1", 0, "user_model-gbm40-x")
    assert {m.model_name for m in experiments.metrics("user_model-1", 0)} == {"user_model-gbm40-x"}


def test_finish_is_claimed_by_one_of_many_workers_at_once(experiments):
    experiments.create_search(search(), [{"a": i} for i in range(6)])
    claimed, errors = [], []

    def finish(point: int) -> None:
        try:
            experiments.start_point("user_model-1", point, f"w{point}")
            experiments.finish_point("user_model-1", point, metrics("user_model-1", point))
            claimed.append(experiments.claim_finish("user_model-1"))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=finish, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert claimed.count(True) == 1
    assert len(experiments.metrics("user_model-1")) == 6 * 5


def test_the_same_point_finished_by_two_workers_at_once_is_stored_once(experiments):
    experiments.create_search(search(), [{"a": 1}])
    results, errors = [], []

    def finish(value: float) -> None:
        try:
            results.append(experiments.finish_point("user_model-1", 0, metrics("user_model-1", 0, value)))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=finish, args=(v,)) for v in (0.5, 0.6, 0.7, 0.8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and sorted(results) == [False, False, False, True]
    assert len(experiments.metrics("user_model-1")) == 5


def test_bad_metrics_and_unknown_points_are_refused(experiments):
    experiments.create_search(search(), [{"a": 1}])
    with pytest.raises(DataError, match="belongs to other/0"):
        experiments.finish_point("user_model-1", 0, [Metric("other", 0, 0, "mae", 1.0)])
    with pytest.raises(DataError, match="given twice"):
        experiments.finish_point("user_model-1", 0, [Metric("user_model-1", 0, 0, "mae", 1.0)] * 2)
    with pytest.raises(DataError, match="is not a metric name"):
        experiments.finish_point("user_model-1", 0, [Metric("user_model-1", 0, 0, "m a e", 1.0)])
    with pytest.raises(DataError, match="fold -2 is not"):
        experiments.finish_point("user_model-1", 0, [Metric("user_model-1", 0, -2, "mae", 1.0)])
    assert experiments.points("user_model-1")[0].status == "pending"  # nothing was written
    with pytest.raises(StorageError, match="no point 7 in search 'user_model-1'"):
        experiments.start_point("user_model-1", 7, "w")
    with pytest.raises(DataError, match="ends done or failed"):
        experiments.end_search("user_model-1", "finishing")


def test_unknown_scheme_lists_the_known_ones():
    with pytest.raises(StorageError, match="known: .*memory.*postgresql"):
        open_experiment_store("cassandra://h/ks")


def test_points_appended_at_once_never_pass_the_limit(experiments):
    experiments.create_search(search(kind="tpe"), [{"a": 0}, {"a": 1}])
    added, errors = [], []

    def append(i: int) -> None:
        try:
            added.append(experiments.append_point("user_model-1", {"a": 10 + i}, limit=5))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    made = [p for p in added if p is not None]
    assert sorted(p.point_id for p in made) == [2, 3, 4] and added.count(None) == 3
    points = experiments.points("user_model-1")
    assert [p.point_id for p in points] == [0, 1, 2, 3, 4] and {p.status for p in points[2:]} == {"pending"}
    assert experiments.append_point("user_model-1", {"a": 99}, limit=6).point_id == 5
    with pytest.raises(StorageError, match="no search 'nope'"):
        experiments.append_point("nope", {}, limit=3)
