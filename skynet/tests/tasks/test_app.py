"""The tasks' own logic, run in this process by Celery (``Task.apply``) on kombu's in-memory
transport: retries and the three-attempt limit, a redelivered task of a done point, the finish
queued by the point that ends a search. The same tasks on RabbitMQ: test_faults.py."""

from __future__ import annotations

import pytest

from skynet.api import search as steps

pytestmark = pytest.mark.usefixtures("recorded")


@pytest.fixture
def app(settings, monkeypatch):
    from skynet.config import load_settings
    from skynet.tasks import create_app

    monkeypatch.setenv("SKYNET_TRAIN_BROKER_URL", "memory://")
    return create_app(load_settings(None), threads=1)


def _point(settings, search_id, point_id):
    from skynet.api.experiments import open_experiments

    with open_experiments(settings) as store:
        return store.points(search_id)[point_id]


def _queued(app, queue: str) -> list:
    """The messages waiting in a queue of the in-memory broker (taken off it)."""
    found = []
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            found.append(message)
    return found


def test_a_point_failing_is_retried_then_marked_failed_after_three_attempts(app, settings, recorded):
    result = app.tasks["skynet.training"].apply(args=(recorded.id, 2))  # a negative learning rate
    assert result.state == "IGNORED"  # the chain stops: nothing to save
    point = _point(settings, recorded.id, 2)
    assert (point.status, point.attempts) == ("failed", 3)
    assert (
        point.error.startswith("failed 3 times; the last: InvalidParameterError")
        and "learning_rate" in point.error
    )


def test_a_redelivered_task_of_a_done_point_does_nothing(app, settings, recorded):
    payload = app.tasks["skynet.training"].apply(args=(recorded.id, 0)).get()
    assert app.tasks["skynet.save_result"].apply(args=(payload, recorded.id, 0)).get() is True
    again = app.tasks["skynet.training"].apply(args=(recorded.id, 0))
    assert again.state == "IGNORED" and _point(settings, recorded.id, 0).attempts == 1
    assert app.tasks["skynet.save_result"].apply(args=(payload, recorded.id, 0)).get() is False


def test_a_point_whose_workers_died_three_times_is_given_up(app, settings, recorded):
    for _ in range(3):  # three attempts counted, none ended: their workers died
        steps.start_point(settings, recorded.id, 1, "gone@host")
    assert app.tasks["skynet.training"].apply(args=(recorded.id, 1)).state == "IGNORED"
    point = _point(settings, recorded.id, 1)
    assert point.status == "failed" and point.error.startswith("gave up after 3 attempts whose worker died")


def test_the_point_that_ends_the_search_queues_its_finish(app, settings, recorded):
    _queued(app, "training")
    steps.fail_point(settings, recorded.id, 1, "x")
    steps.fail_point(settings, recorded.id, 2, "y")
    payload = app.tasks["skynet.training"].apply(args=(recorded.id, 0)).get()
    assert _queued(app, "training") == []
    app.tasks["skynet.save_result"].apply(args=(payload, recorded.id, 0)).get()
    queued = _queued(app, "training")
    assert [m.headers["task"] for m in queued] == ["skynet.finish_search"]
    assert steps.search_status(settings, recorded.id) == "finishing"
    assert app.tasks["skynet.finish_search"].apply(args=(recorded.id,)).get().startswith("user_model-")
    assert steps.search_status(settings, recorded.id) == "done"
