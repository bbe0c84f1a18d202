"""The steps the workers run, called in this process on a real SQLite store: each can run twice
and stores its result once; the finish trains and registers the best point, once."""

from __future__ import annotations

import pytest

from skynet.api import search as steps
from skynet.api.experiments import search_summary
from skynet.errors import DataError


def test_each_step_stores_once_and_the_finish_registers_and_promotes_the_best(settings, recorded):
    from skynet.api.models import lineage, list_models

    assert steps.prepare_point(settings, recorded.id) == 300
    for point in (0, 1):
        assert steps.start_point(settings, recorded.id, point, "w1@a").attempts == 1
        payload = steps.evaluate_point(settings, recorded.id, point, threads=1)
        assert steps.save_point(settings, recorded.id, point, payload) is True
        assert steps.save_point(settings, recorded.id, point, payload) is False  # a redelivered save
        assert steps.start_point(settings, recorded.id, point, "w2@b").status == "done"  # nothing left to do
    assert steps.claim_finish(settings, recorded.id) is False  # point 2 has not ended
    with pytest.raises(ValueError):
        steps.evaluate_point(settings, recorded.id, 2)  # a negative learning rate: the model refuses it
    steps.fail_point(settings, recorded.id, 2, "failed 3 times; the last: ValueError: learning_rate")
    assert steps.claim_finish(settings, recorded.id) is True
    assert steps.claim_finish(settings, recorded.id) is False
    summary = steps.finish_search(settings, recorded.id, threads=1)
    assert summary["search"]["status"] == "done" and summary["counts"] == {"pending": 0, "running": 0, "done": 2,
                                                                          "failed": 1}  # fmt: skip
    best = summary["best"]
    values = {r["point"]: r["mae"] for r in summary["points"]}
    assert best["value"] == min(values[0], values[1]) and best["point"] == min((0, 1), key=values.get)
    chain = lineage(settings, "user_model@production")
    assert chain["model"]["name"] == summary["model"] and chain["model"]["selection"]["search"] == recorded.id
    assert chain["model"]["selection"]["point"] == best["point"]
    # run again (a redelivered finish): the same summary, nothing trained or registered again
    assert steps.finish_search(settings, recorded.id) == summary
    assert [m["name"] for m in list_models(settings)] == [summary["model"]]
    assert steps.search_status(settings, recorded.id) == "done"


def test_a_search_whose_points_all_failed_fails_with_the_first_error(settings, recorded):
    for point in range(3):
        steps.fail_point(settings, recorded.id, point, f"error {point}")
    assert steps.claim_finish(settings, recorded.id)
    summary = steps.finish_search(settings, recorded.id)
    assert summary["search"]["status"] == "failed"
    assert summary["search"]["error"] == "every point failed; the first: error 0"
    assert summary["model"] is None


def test_the_finish_of_a_search_still_running_is_refused(settings, recorded):
    with pytest.raises(DataError, match="is running, not finishing"):
        steps.finish_search(settings, recorded.id)
    steps.abandon_search(settings, recorded.id, "stopped by hand")
    assert search_summary(settings, recorded.id)["search"]["error"] == "stopped by hand"
