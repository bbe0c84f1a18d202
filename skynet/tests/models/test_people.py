"""Personal comfort parameters: the exact posterior, O(1) updates, the learned prior, and the
model paths that use them (batch, one row, groups of rows, online)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal

from skynet.errors import DataError
from skynet.models.user_model import (
    SAMPLE_PARAMS,
    Ledger,
    PeoplePrior,
    PersonalParams,
    UserModel,
    sample_data,
)
from skynet.models.user_model._people import _groups, _neg_log_likelihood, learn_prior

PRIOR = PeoplePrior(
    mean=np.array([0.1, 0.02]),
    device_cov=np.array([[0.2, 0.01], [0.01, 0.01]]),
    person_cov=np.array([[0.3, -0.02], [-0.02, 0.02]]),
    noise=0.6,
    reference=24.0,
)


def _votes(seed: int = 0, n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "device": rng.choice(["a", "b"], n),
        "user": rng.choice(np.array(["p", "q", "r", None], dtype=object), n),
        "t": rng.uniform(20, 29, n),
        "r": rng.normal(0.3, 1.0, n),
    })  # fmt: skip


def _joint(votes: pd.DataFrame, prior: PeoplePrior):
    """The brute-force joint Gaussian of one device: unknowns (device effect, each person's and
    each anonymous vote's own effect), their prior and the design matrix of the residuals."""
    people = sorted({u for u in votes["user"] if pd.notna(u)})
    anonymous = [i for i, u in enumerate(votes["user"]) if pd.isna(u)]
    k = 2 + 2 * (len(people) + len(anonymous))
    H = np.zeros((len(votes), k))
    for i, (u, t) in enumerate(zip(votes["user"], votes["t"], strict=True)):
        x = np.array([1.0, t - prior.reference])
        H[i, :2] = x
        slot = people.index(u) if pd.notna(u) else len(people) + anonymous.index(i)
        H[i, 2 + 2 * slot : 4 + 2 * slot] = x
    cov = np.zeros((k, k))
    cov[:2, :2] = prior.device_cov
    for s in range(len(people) + len(anonymous)):
        cov[2 + 2 * s : 4 + 2 * s, 2 + 2 * s : 4 + 2 * s] = prior.person_cov
    mean = np.zeros(k)
    mean[:2] = prior.mean
    return people, H, mean, cov


def test_the_ledger_gives_the_exact_posterior_of_devices_and_people():
    votes = _votes()
    ledger = Ledger(PRIOR).add_many(votes["device"], votes["user"], votes["t"], votes["r"])
    for device, part in votes.groupby("device"):
        people, H, mean, cov = _joint(part.reset_index(drop=True), PRIOR)
        precision = np.linalg.inv(cov) + H.T @ H / PRIOR.noise
        post = np.linalg.solve(
            precision, np.linalg.solve(cov, mean) + H.T @ part["r"].to_numpy() / PRIOR.noise
        )
        typical = ledger.params(device)
        assert (typical.offset, typical.slope) == pytest.approx(tuple(post[:2]), abs=1e-9)
        assert typical.level == "device" and typical.n == len(part)
        for j, user in enumerate(people):
            found = ledger.params(device, user)
            assert found.level == "person" and found.n == int((part["user"] == user).sum())
            assert (found.offset, found.slope) == pytest.approx(
                tuple(post[:2] + post[2 + 2 * j : 4 + 2 * j]), abs=1e-9
            )
        stranger = ledger.params(device, "nobody")
        assert (stranger.offset, stranger.slope, stranger.level) == (typical.offset, typical.slope, "device")
    unknown = ledger.params("elsewhere", "p")
    assert (unknown.offset, unknown.slope, unknown.n, unknown.level) == (0.0, 0.0, 0, "fleet")


def test_the_posterior_does_not_depend_on_the_order_of_the_votes():
    votes = _votes(seed=3)
    forward = Ledger(PRIOR).add_many(votes["device"], votes["user"], votes["t"], votes["r"])
    back = votes.iloc[::-1]
    backward = Ledger(PRIOR).add_many(back["device"], back["user"], back["t"], back["r"])
    for device, user in [("a", None), ("a", "p"), ("b", "q"), ("b", "r")]:
        assert _numbers(forward.params(device, user)) == pytest.approx(
            _numbers(backward.params(device, user))
        )


def _numbers(params: PersonalParams) -> tuple[float, float, int]:
    return params.offset, params.slope, params.n


def test_a_device_state_restores_its_posterior_and_refuses_another_prior():
    import json

    votes = _votes(seed=5)
    ledger = Ledger(PRIOR).add_many(votes["device"], votes["user"], votes["t"], votes["r"])
    state = json.loads(json.dumps(ledger.device_state("a")))
    restored = Ledger(PRIOR)
    restored.set_device_state("a", state)
    for user in ("p", "q", None):
        assert _numbers(restored.params("a", user)) == pytest.approx(
            _numbers(ledger.params("a", user)), abs=1e-15
        )
    restored.add("a", "p", 26.0, 1.0)
    ledger.add("a", "p", 26.0, 1.0)
    assert _numbers(restored.params("a", "p")) == pytest.approx(_numbers(ledger.params("a", "p")), abs=1e-15)
    other = PeoplePrior(PRIOR.mean, PRIOR.device_cov, PRIOR.person_cov * 2, PRIOR.noise, PRIOR.reference)
    with pytest.raises(DataError, match="another model's prior"):
        Ledger(other).set_device_state("a", state)
    with pytest.raises(DataError, match="not a device state"):
        Ledger(PRIOR).set_device_state("a", {"prior": state["prior"], "M": [1]})


def test_the_marginal_likelihood_is_the_joint_gaussian_one():
    votes = _votes(seed=1, n=30)
    theta = np.array(
        [0.1, 0.02, np.log(0.4), 0.02, np.log(0.1), np.log(0.5), -0.03, np.log(0.12), np.log(0.6)]
    )
    groups = _groups(votes["r"].to_numpy(), votes["t"].to_numpy() - 24.0, votes["device"].to_numpy(),
                     votes["user"].to_numpy(dtype=object))  # fmt: skip
    ours = -_neg_log_likelihood(theta, groups, "slope")
    low_d = np.array([[0.4, 0.0], [0.02, 0.1]])
    low_u = np.array([[0.5, 0.0], [-0.03, 0.12]])
    prior = PeoplePrior(theta[:2], low_d @ low_d.T, low_u @ low_u.T, 0.6, 24.0)
    theirs = 0.0
    for _, part in votes.groupby("device"):
        _, H, mean, cov = _joint(part.reset_index(drop=True), prior)
        theirs += multivariate_normal(H @ mean, H @ cov @ H.T + prior.noise * np.eye(len(part))).logpdf(
            part["r"]
        )
    assert ours == pytest.approx(theirs, rel=1e-10)


def test_the_learned_prior_finds_how_much_people_and_devices_differ():
    rng = np.random.default_rng(4)
    rows = []
    for d in range(150):
        device = rng.normal(0, [0.4, 0.0])  # devices differ in offset only
        for p in range(3):
            own = rng.normal(0, [0.5, 0.15])  # people in offset and slope
            t = rng.uniform(20, 30, 25)
            r = device[0] + own[0] + own[1] * (t - 25) + rng.normal(0, 0.7, 25)
            rows.append(pd.DataFrame({"device": f"d{d}", "user": f"d{d}/p{p}", "t": t, "r": r}))
    votes = pd.concat(rows, ignore_index=True)
    prior = learn_prior(votes["r"], votes["t"], votes["device"], votes["user"])
    assert np.sqrt(prior.device_cov[0, 0]) == pytest.approx(0.4, abs=0.1)
    assert np.sqrt(prior.person_cov[0, 0]) == pytest.approx(0.5, abs=0.1)
    assert np.sqrt(prior.person_cov[1, 1]) == pytest.approx(0.15, abs=0.03)
    assert np.sqrt(prior.device_cov[1, 1]) < 0.05
    assert np.sqrt(prior.noise) == pytest.approx(0.7, abs=0.05)
    offset_only = learn_prior(votes["r"], votes["t"], votes["device"], votes["user"], mode="offset")
    assert offset_only.person_cov[1, 1] < 1e-8 and offset_only.mean[1] == 0
    none = learn_prior(votes["r"], votes["t"], votes["device"], votes["user"], mode="none")
    assert Ledger(none).add_many(["d0"], ["d0/p0"], [25.0], [2.0]).params("d0", "d0/p0").offset == 0


def test_few_votes_are_shrunk_towards_the_device_many_are_not():
    ledger = Ledger(PRIOR)
    for person in range(30):  # the device's other people feel warm
        for _ in range(10):
            ledger.add("a", f"warm{person}", 24.0, 1.0)
    device = ledger.params("a").offset
    assert device > 0.8
    ledger.add("a", "new", 24.0, -1.0)
    one = ledger.params("a", "new").offset
    assert (device - 1.0) / 2 < one < device  # one cold vote: nearer the device's than their own
    for _ in range(200):
        ledger.add("a", "new", 24.0, -1.0)
    assert ledger.params("a", "new").offset == pytest.approx(-1.0, abs=0.05)


@pytest.fixture(scope="module")
def people_sample():
    return sample_data(1500, seed=2, n_devices=20, people=3)


@pytest.fixture(scope="module")
def people_model(people_sample):
    return UserModel(**SAMPLE_PARAMS).fit(people_sample)


def _newcomers(seed: int = 8) -> pd.DataFrame:
    """One new home where two people feel very differently (one also far more sharply)."""
    frame = sample_data(400, seed=seed, n_devices=1, people=2, offsets={"dev-00": 0.0},
                        person_offsets={"dev-00/u0": (1.2, 0.0), "dev-00/u1": (-1.2, 0.35)})  # fmt: skip
    return frame.assign(device_id="home", user_id=frame["user_id"].str.replace("dev-00", "home"))


def test_people_of_one_home_get_their_own_offset_and_slope(people_model):
    new = _newcomers()
    history, later = new.iloc[:200], new.iloc[200:]
    found = people_model.personal_params(history)
    warm, cold = found[("home", "home/u0")], found[("home", "home/u1")]
    assert warm.offset > 0.6 and cold.offset < -0.6
    assert cold.slope > warm.slope + 0.1
    assert found[("home", None)].level == "device" and found[("home", None)].n == 200
    y = later["value"].to_numpy()
    per_person = np.abs(people_model.predict(later, history=history) - y).mean()
    per_device = np.abs(people_model.predict(later.assign(user_id=None), history=history) - y).mean()
    assert per_person < per_device - 0.3
    assert people_model.personal_offsets(history) == {"home": (found[("home", None)].offset, 200)}


def test_every_prediction_path_applies_the_same_personal_params(people_model):
    new = _newcomers()
    history, later = new.iloc[:100], new.iloc[100:130]
    batch = people_model.predict(later, history=history)
    found = people_model.personal_params(history)
    rows = later.to_dict("records")
    for i, row in enumerate(rows):
        params = found[(row["device_id"], row["user_id"])]
        assert people_model.predict_one(row, offset=params) == pytest.approx(batch[i], abs=1e-12)
    groups = [{k: later[k].to_numpy() for k in later.columns if k not in ("value", "user_id")}]
    people = [found[("home", "home/u0")], found[("home", "home/u1")]]
    each = people_model.predict_many(groups * 2, people)
    for k in range(len(people)):
        expected = people_model.predict(later.assign(user_id=f"home/u{k}"), history=history)
        np.testing.assert_allclose(each[k], expected, atol=1e-12)


def test_training_people_keep_their_learned_params(people_model, people_sample):
    row = people_sample.iloc[:1]
    device, user = row["device_id"].iloc[0], row["user_id"].iloc[0]
    own = people_model.personal_["people"][device][user]
    typical = people_model.personal_["devices"][device]
    assert own[:2] != typical[:2]
    as_trained = people_model.predict(row)
    by_hand = people_model.predict_one(row.iloc[0].to_dict(), offset=PersonalParams(
        own[0], own[1], own[2], people_model.personal_["reference"], "person"))  # fmt: skip
    assert as_trained[0] == pytest.approx(by_hand, abs=1e-12)
    assert people_model.predict_one(row.iloc[0].to_dict()) == pytest.approx(as_trained[0], abs=1e-12)
    assert not np.allclose(people_model.predict(row, personalize=False), as_trained)


def test_observing_votes_one_by_one_equals_the_whole_history(people_model):
    new = _newcomers(seed=9).iloc[:60]
    ledger = people_model.ledger()
    for row in new.to_dict("records"):
        people_model.observe(ledger, row, row["value"])
    whole = people_model.ledger(new)
    for user in ("home/u0", "home/u1", None):
        assert _numbers(ledger.params("home", user)) == pytest.approx(_numbers(whole.params("home", user)))


def test_the_online_evaluation_predicts_like_the_product(people_model):
    from skynet.models.user_model import _features as F
    from skynet.models.user_model._assess import online_shifts
    from skynet.models.user_model._model import _unknown

    new = _newcomers(seed=10).iloc[:50].reset_index(drop=True)
    residuals = new["value"].to_numpy() - people_model.predict(new, personalize=False)
    shifts = online_shifts(people_model.ledger(), new, residuals)
    X = F.features(F.raw_from_frame(new, people_model.encoders_), people_model.imputer_)
    online = people_model.head_.proba(people_model._location(X), _unknown(X), shifts) @ np.arange(-3, 4)
    for i in (0, 1, 17, 49):  # each vote predicted from the ones before it
        product = people_model.predict(new.iloc[[i]], history=new.iloc[:i] if i else None)[0]
        assert online[i] == pytest.approx(product, abs=1e-12)


def test_bad_input_is_a_data_error(people_sample, people_model):
    with pytest.raises(DataError, match="personal must be one of"):
        UserModel(**SAMPLE_PARAMS, personal="per-room").fit(people_sample)
    ledger = people_model.ledger()
    with pytest.raises(DataError, match="needs a temperature and a residual"):
        ledger.add("home", "u", float("nan"), 0.5)
    with pytest.raises(DataError, match="needs a temperature and a residual"):
        people_model.observe(ledger, {"device_id": "home", "temperature": 24.0}, float("nan"))
    assert len(ledger) == 0  # nothing half-added
    with pytest.raises(DataError, match="'device_id' and 'value'"):
        people_model.personal_params(pd.DataFrame({"temperature": [24.0]}))


def test_row_shifts_look_up_each_row_with_the_fallbacks():
    from skynet.models.user_model._people import row_shifts

    ledger = Ledger(PRIOR).add_many(["a", "a", "b"], ["p", None, "q"], [22.0, 25.0, 27.0], [1.0, -0.5, 0.8])
    devices = np.array(["a", "a", "a", "a", "b", "c"], dtype=object)
    users = np.array(["p", None, np.nan, "", "p", "q"], dtype=object)
    temperatures = np.array([20.0, 21.0, 22.0, 23.0, 24.0, 25.0])
    found = row_shifts(ledger.params, devices, users, temperatures)
    expected = [ledger.params("a", "p").shift(20.0), ledger.params("a").shift(21.0), ledger.params("a").shift(22.0),
                ledger.params("a").shift(23.0), ledger.params("b").shift(24.0), 0.0]  # fmt: skip
    np.testing.assert_allclose(found, expected, atol=1e-15)
    assert ledger.params("a", "p").offset != ledger.params("a").offset


def test_recover_offsets_finds_known_offsets_better_than_a_model_of_devices():
    from skynet.models.user_model import recover_offsets

    rng = np.random.default_rng(12)
    truth = {f"dev-{d:02d}/u{k}": float(rng.normal(0, 0.8)) for d in range(12) for k in range(2)}
    frame = sample_data(2400, seed=12, n_devices=12, people=2, offsets={f"dev-{d:02d}": 0.0 for d in range(12)},
                        person_offsets={u: (o, 0.0) for u, o in truth.items()})  # fmt: skip
    rows, found = recover_offsets(frame, truth, folds=3, params=SAMPLE_PARAMS)
    assert len(found) == 24 and set(found["user_id"]) == set(truth)
    table = {row["estimate"]: row for row in rows}
    assert table["all votes"]["correlation"] > 0.9
    assert table["all votes"]["rmse"] < 0.5 * table["all votes"]["rmse_no_personalization"]
    assert table["all votes"]["rmse"] < table["per device (users ignored)"]["rmse"] - 0.2
    assert table["first 5 votes"]["rmse"] > table["all votes"]["rmse"]


def test_the_holdout_is_fixed_by_device_ids_and_stratified_by_people_with_many_votes():
    from skynet.models.user_model._assess import holdout_devices

    rows = []
    for d in range(40):
        votes = 30 if d < 10 else 5  # ten devices with someone of many votes
        rows += [{"device_id": f"home{d}", "user_id": f"home{d}/p", "value": 0.0}] * votes
    frame = pd.DataFrame(rows)
    held = holdout_devices(frame, 0.2, min_votes=20)
    assert held == holdout_devices(frame.sample(frac=1.0, random_state=1), 0.2, min_votes=20)
    assert len(held) == 8 and len(held & {f"home{d}" for d in range(10)}) == 2
    assert holdout_devices(frame, 0.0) == set()
