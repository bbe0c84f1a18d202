"""Per-person comfort (issue 15) through the one :class:`Personalizer`: the people present, else
the last voter; the worker and the closed loop hand it who voted."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from skynet.control import Controller, DevicePolicy, Personalizer, closed_loop
from skynet.control._personal import ALL
from skynet.models.user_model import PersonalParams
from skynet.tests.control.conftest import FirstOrderRoomDouble
from skynet.tests.control.test_evaluate import make_fleet
from skynet.tests.worker.test_worker import T0, entries, reading
from skynet.worker import Processor, make_event


class PeopleDouble:
    """Comfort model double: predicts 0; offsets are the votes' sum / (votes + k), per device (its
    typical person) and per (device, person), as ``UserModel.personal_params`` keys them."""

    def __init__(self, shrinkage: float = 1.0) -> None:
        self.k = shrinkage

    def predict(self, frame: pd.DataFrame, personalize: bool = True):
        return frame["temperature"].to_numpy(float) * 0.0

    def _shrunk(self, values: pd.Series) -> PersonalParams:
        return PersonalParams(float(values.sum() / (len(values) + self.k)), 0.0, len(values), 24.0, "person")

    def personal_offsets(self, frame: pd.DataFrame) -> dict[str, tuple[float, int]]:
        grouped = frame.groupby(frame["device_id"].astype(str))["value"]
        return {d: (self._shrunk(v).offset, len(v)) for d, v in grouped}

    def personal_params(self, frame: pd.DataFrame) -> dict[tuple[str, str | None], PersonalParams]:
        out: dict[tuple[str, str | None], PersonalParams] = {}
        for device, votes in frame.groupby(frame["device_id"].astype(str)):
            out[(device, None)] = self._shrunk(votes["value"])
            for user, own in votes.dropna(subset=["user_id"]).groupby("user_id"):
                out[(device, str(user))] = self._shrunk(own["value"])
        return out


def _votes(rows: list[tuple[str, str | None, float, float]]) -> pd.DataFrame:
    """(device, user, hour, value) rows, in time order."""
    return pd.DataFrame(
        [{"device_id": d, "user_id": u, "hour": h, "value": v, "temperature": 26.0, "humidity": 60.0,
          "timestamp": T0 + timedelta(minutes=i)} for i, (d, u, h, v) in enumerate(rows)]  # fmt: skip
    )


def test_the_last_voter_or_the_people_present_not_the_devices_average():
    """On device a, u0 feels warm (+2) and u1 cold (-1); u1 voted last. Without presence the
    decision takes u1's offset; with the people present, their mean; a device without names, its own."""
    rows = [("a", "u0", 14.0, 2.0)] * 6 + [("a", "u1", 15.0, -1.0)] * 3 + [("b", None, 14.0, 1.0)] * 3
    alone = Personalizer(PeopleDouble(), night_offset=-0.6, pool=False)
    alone.learn(_votes(rows))
    assert alone.last_voter == {"a": "u1"}
    assert alone.offset("a", 14.0) == pytest.approx(-3 / 4)  # u1's, not the device's (9 / 10)
    assert alone.offset("a", 14.0, people=["u0"]) == pytest.approx(12 / 7)
    assert alone.offset("a", 14.0, people=["u0", "u1"]) == pytest.approx((12 / 7 - 3 / 4) / 2)
    assert alone.offset("a", 14.0, people=["nobody-known"]) == pytest.approx(9 / 10)  # the device's
    assert alone.offset("a", 3.0) == pytest.approx(-0.6)  # no night vote: only the night offset
    assert alone.offset("b", 14.0) == pytest.approx(3 / 4)
    # the people's offsets are around the pooled one, as the devices' are
    pooled = Personalizer(PeopleDouble(), pool=True)
    pooled.learn(_votes(rows))
    base = pooled.offsets[(ALL, "day")]
    assert pooled.people[("a", "u1", "day")] == pytest.approx(base + (-3 - 3 * base) / 4)


def test_the_worker_decides_with_the_offset_of_the_person_who_voted_last():
    class Seen(Controller):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.offsets: list[float | None] = []

        def decide_many(self, requests):
            self.offsets += [r.context.comfort_offset for r in requests]
            return super().decide_many(requests)

    def vote(minute: int, value: float, user: str) -> str:
        return make_event("d1", "feedback", time=T0 + timedelta(minutes=minute), event_id=f"f{minute}",
                          value=value, user_id=user)  # fmt: skip

    controller = Seen(comfort_model=PeopleDouble())
    batch = [("d1", reading("d1", 0)), ("d1", vote(1, 2.0, "warm")), ("d1", vote(2, 2.0, "warm")),
             ("d1", vote(3, -1.0, "cold")), ("d1", reading("d1", 4))]  # fmt: skip
    Processor(controller, "w").process(entries(*batch), {})
    assert controller.offsets[-1] == pytest.approx(-1 / 2)  # "cold"'s, not the device's 3 / 4


def test_the_closed_loop_learns_who_voted_from_the_simulator():
    """The fleet says which of a home's people voted; the closed loop's votes carry that user
    (``{device}-u{index}``, as the simulated votes are stored) to the personalizer."""
    fleets: list = []
    policy = DevicePolicy.skynet(Controller(FirstOrderRoomDouble(), PeopleDouble()))
    closed_loop(make_fleet(fleets), {"skynet": policy})
    fleet = fleets[0]
    voted = [(fleet.device_ids[i], f"{fleet.device_ids[i]}-u{p}") for _, i, p, *_ in fleet.feedback_events]
    seen = [(v["device_id"], v["user_id"]) for v in policy._votes]
    assert seen and seen == voted[: len(seen)]
    # the votes of the run's last minute come after the controller's last observation
    assert all(k >= fleet.k - 1 for k, *_ in fleet.feedback_events[len(seen) :])
    assert policy.personalizer is not None and policy.personalizer.people


def test_with_the_real_comfort_model_each_person_of_a_home_gets_their_own_offset():
    """UserModel's per-person parameters (issue 15) through the Personalizer: two people of one
    new home, one warm (+1.2) and one cold (-1.2); the decision follows whoever voted last."""
    from skynet.models.user_model import SAMPLE_PARAMS, UserModel, sample_data

    model = UserModel(**SAMPLE_PARAMS).fit(sample_data(1500, seed=2, n_devices=20, people=3))
    new = sample_data(200, seed=8, n_devices=1, people=2, offsets={"dev-00": 0.0},
                      person_offsets={"dev-00/u0": (1.2, 0.0), "dev-00/u1": (-1.2, 0.0)})  # fmt: skip
    new = new.assign(device_id="home", hour=12.0).sort_values("timestamp", kind="stable")
    personalizer = Personalizer(model, pool=False)
    personalizer.learn(new)
    warm, cold = (
        personalizer.people[("home", "dev-00/u0", "day")],
        personalizer.people[("home", "dev-00/u1", "day")],
    )
    assert warm > 0.5 and cold < -0.5
    last = str(new["user_id"].iloc[-1])
    assert personalizer.offset("home", 12.0) == (warm if last.endswith("u0") else cold)
    assert personalizer.offset("home", 12.0, people=["dev-00/u0"]) == warm


def test_a_swap_of_models_learns_the_kept_votes_again_with_the_new_comfort_model():
    """Offsets are relative to the comfort model that learned them: after the worker swaps models
    (``Processor.use``), a device's kept votes are learned again by the new one."""

    class Seen(Controller):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.offsets: list[float | None] = []

        def decide_many(self, requests):
            self.offsets += [r.context.comfort_offset for r in requests]
            return super().decide_many(requests)

    vote = make_event("d1", "feedback", time=T0 + timedelta(minutes=1), event_id="f1", value=2.0, user_id="u")
    processor = Processor(Seen(comfort_model=PeopleDouble(shrinkage=1.0)), "w")
    state = processor.process(entries(("d1", reading("d1", 0)), ("d1", vote), ("d1", reading("d1", 2))), {})
    assert processor.controller.offsets[-1] == pytest.approx(1.0)
    newer = Seen(comfort_model=PeopleDouble(shrinkage=3.0))
    processor.use(newer)
    processor.process(entries(("d1", reading("d1", 3))), state.objects)
    assert newer.offsets == [pytest.approx(0.5)]
