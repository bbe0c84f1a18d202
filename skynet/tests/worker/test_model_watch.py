"""The worker's models provider in process (no server): which version it serves without the
alias, and the warm-up that refuses a model that loads but cannot decide."""

from __future__ import annotations

import logging

from skynet.api._model_watch import WARM_UP_DEVICE, ModelWatch, _warm_up
from skynet.control import Controller


def _user_model():
    from skynet.models.user_model import SAMPLE_PARAMS, UserModel, sample_data

    return UserModel(**SAMPLE_PARAMS).fit(sample_data(300, seed=4))


def test_without_the_alias_the_newest_model_is_served_unless_worker_newest_is_off(settings):
    from skynet.api.models import register_trained

    name = register_trained(settings, _user_model(), {})
    watch = ModelWatch(settings, Controller, poll_s=0)
    watch.start()
    facts = watch.facts()
    assert facts["models"] == {"estimator": None, "comfort": name}
    assert facts["models_from"]["comfort"] == "newest user_model"
    assert facts["models_missing"] == {
        "estimator": "no estimation@production and no estimation model in the registry"
    }
    assert watch.controller.models.comfort is not None and watch.take() is None  # nothing newer

    strict = ModelWatch(settings, Controller, newest=False, poll_s=0)
    strict.start()
    assert strict.facts()["models"] == {"estimator": None, "comfort": None}
    assert (
        strict.facts()["models_missing"]["comfort"]
        == "no user_model@production (models.worker_newest is off)"
    )
    assert strict.controller.models.comfort is None
    docs = [{"decision_id": "x"}]
    strict.stamp(docs)
    assert docs == [{"decision_id": "x", "models": {"estimator": None, "comfort": None},
                     "models_from": {"estimator": None, "comfort": None}}]  # fmt: skip


def test_the_warm_up_refuses_a_model_that_cannot_decide_and_keeps_its_lines_out_of_the_log(caplog):
    from skynet.tests.control._models import small_control_models

    models = small_control_models()

    class Broken:
        def predict(self, frame, **options):
            raise RuntimeError("boom")

    caplog.set_level(logging.INFO)
    assert _warm_up(Controller(models["estimator"], models["comfort"])) is None
    assert _warm_up(Controller(models["estimator"], Broken())) == "comfort model raised RuntimeError: boom"
    assert not [r for r in caplog.records if WARM_UP_DEVICE in r.getMessage()]
