"""The user comfort model's own promises: distribution, personalization, fast path, input checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from skynet.errors import DataError
from skynet.models.user_model import SAMPLE_PARAMS, VOTES, UserModel, sample_data, score
from skynet.models.user_model import _features as F
from skynet.models.user_model._forest import flatten


def test_probabilities_are_a_distribution_and_predict_is_its_mean(user_model, user_sample):
    proba = user_model.predict_proba(user_sample)
    assert proba.shape == (len(user_sample), 7)
    assert (proba >= 0).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    expected = user_model.predict(user_sample)
    np.testing.assert_allclose(expected, proba @ VOTES)
    assert expected.min() >= -3 and expected.max() <= 3
    assert set(np.unique(user_model.predict_median(user_sample))) <= set(VOTES)


def test_the_model_learns_the_signal(user_model):
    held_out = sample_data(400, seed=11, n_devices=6)
    y = held_out["value"].to_numpy()
    model_mae = score(y, user_model.predict_median(held_out, personalize=False))["mae"]
    assert model_mae < score(y, np.zeros(len(y)))["mae"] - 0.2


@pytest.fixture(scope="module")
def booster(user_model, user_sample):
    """A scikit-learn booster as the model fits one (the model keeps only its flattened trees)."""
    X = F.features(F.raw_from_frame(user_sample, user_model.encoders_), user_model.imputer_)
    return user_model._booster(len(X)).fit(np.nan_to_num(X), user_sample["value"].to_numpy())


def test_the_model_keeps_no_scikit_learn_object(user_model):
    """Predicting walks ``forest_``; the estimator it came from is not kept (nor stored)."""
    assert not [k for k, v in vars(user_model).items() if type(v).__module__.startswith("sklearn")]


def test_flattened_trees_equal_scikit_learn(user_model, user_sample, booster):
    X = F.features(F.raw_from_frame(user_sample, user_model.encoders_), user_model.imputer_)
    X[::7, 1] = np.nan  # missing values take the learned branch
    np.testing.assert_allclose(flatten(booster).predict(X), booster.predict(X), rtol=0, atol=1e-12)


def test_personalization_lowers_the_error_of_a_device_with_a_strong_offset(user_model):
    new = sample_data(300, seed=21, n_devices=1, offsets={"dev-00": 1.5}).assign(device_id="newcomer")
    history, later = new.iloc[:40], new.iloc[40:]
    y = later["value"].to_numpy()
    plain = np.abs(user_model.predict(later) - y).mean()  # unknown device: population model
    personal = np.abs(user_model.predict(later, history=history) - y).mean()
    offset, n = user_model.personal_offsets(history)["newcomer"]
    assert n == 40 and offset > 0.5
    assert personal < plain - 0.2
    params = user_model.personal_params(history)[("newcomer", None)]
    assert params.offset == offset
    assert user_model.predict_one(later.iloc[0].to_dict(), offset=params) == pytest.approx(
        user_model.predict(later.iloc[:1], history=history)[0], abs=1e-12
    )


def test_training_devices_get_their_learned_offsets(user_model, user_sample):
    row = user_sample.iloc[:1]
    device = row["device_id"].iloc[0]
    offset = user_model.personal_["devices"][device][0]
    assert offset != 0
    shifted = user_model.predict_proba(row)
    plain = user_model.predict_proba(row, personalize=False)
    assert not np.allclose(shifted, plain)


def test_predict_one_equals_predict(user_model, user_sample):
    rows = pd.concat(
        [user_sample.iloc[:20], user_sample.iloc[:5].assign(clothing=np.nan, metabolic_rate=np.nan)]
    )
    batch_mean = user_model.predict(rows)
    batch_proba = user_model.predict_proba(rows)
    for i, row in enumerate(rows.to_dict("records")):
        row = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        assert user_model.predict_one(row) == pytest.approx(batch_mean[i], abs=1e-12)
        np.testing.assert_allclose(user_model.predict_one_proba(row), batch_proba[i], atol=1e-12)


def test_missing_optional_inputs_are_handled(user_model):
    only = pd.DataFrame({"temperature": [18.0, 24.0, 30.0]})
    proba = user_model.predict_proba(only)
    assert np.isfinite(proba).all()
    expected = user_model.predict(only)
    assert expected[0] < expected[1] < expected[2]
    assert user_model.predict_one({"temperature": 24.0}) == pytest.approx(expected[1], abs=1e-12)
    unknown = pd.DataFrame({"temperature": [24.0], "climate": ["never seen"], "building_type": [None]})
    assert np.isfinite(user_model.predict(unknown)).all()


def test_prediction_rises_with_temperature_with_or_without_clothing(user_model, user_sample):
    base = user_sample.iloc[0].to_dict()
    grid = np.arange(12.0, 38.0, 0.25)
    for clothing in (0.6, None):
        rows = pd.DataFrame([{**base, "temperature": t, "clothing": clothing} for t in grid])
        assert (np.diff(user_model.predict(rows, personalize=False)) >= -1e-9).all()


@pytest.mark.parametrize(
    "frame, message",
    [
        (pd.DataFrame({"humidity": [50.0]}), "lacks the column 'temperature'"),
        (pd.DataFrame({"temperature": [24.0, None]}), "'temperature' is missing in row 1"),
        (pd.DataFrame({"temperature": [24.0], "humidity": ["wet"]}), "'wet' \\(row 0\\) is not a number"),
        ([{"temperature": 24.0}], "expected a comfort frame"),
    ],
)
def test_bad_prediction_input_is_a_data_error(user_model, frame, message):
    with pytest.raises(DataError, match=message):
        user_model.predict(frame)


def test_bad_single_row_is_a_data_error(user_model):
    with pytest.raises(DataError, match="temperature .* is required"):
        user_model.predict_one({"humidity": 40})
    with pytest.raises(DataError, match="temperature: 'hot' is not a number"):
        user_model.predict_one({"temperature": "hot"})


def test_bad_training_data_is_a_data_error():
    data = sample_data(100, seed=3)
    with pytest.raises(DataError, match="vote 5 in row 0"):
        UserModel(**SAMPLE_PARAMS).fit(data.assign(value=[5.0] + [0.0] * 99))
    with pytest.raises(DataError, match="lacks the column 'value'"):
        UserModel(**SAMPLE_PARAMS).fit(data.drop(columns="value"))
    with pytest.raises(DataError, match="too few votes"):
        UserModel(**SAMPLE_PARAMS).fit(data.iloc[:5])


def test_learned_imputation_fills_unknown_clothing_by_season():
    data = sample_data(800, seed=4)
    winter = data["timestamp"].dt.month.isin([12, 1, 2]) & (data["latitude"] > 0)
    data.loc[winter, "clothing"] = 1.2
    data.loc[~winter, "clothing"] = 0.5
    raw = F.raw_from_frame(data, {})
    imputer = F.Imputer.fit(raw)
    hidden = raw.copy()
    hidden[:, F.RAW_COLUMNS.index("clothing")] = np.nan
    guessed = F.features(hidden, imputer)[:, F.FEATURES.index("clothing")]
    assert np.median(guessed[winter.to_numpy()]) == pytest.approx(1.2)
    assert np.median(guessed[~winter.to_numpy()]) == pytest.approx(0.5)


def test_pmv_feature_matches_pythermalcomfort():
    from pythermalcomfort.models import pmv_ppd_iso

    frame = pd.DataFrame({"temperature": [20.0, 25.0, 29.0], "humidity": [40.0, 50.0, 70.0],
                          "air_speed": [0.05, 0.1, 0.3], "clothing": [1.0, 0.6, 0.4], "metabolic_rate": [1.1, 1.2, 1.4]})  # fmt: skip
    X = F.features(F.raw_from_frame(frame, {}), F.Imputer.fit(F.raw_from_frame(frame, {})))
    vr = np.where(
        frame.metabolic_rate > 1, frame.air_speed + 0.3 * (frame.metabolic_rate - 1), frame.air_speed
    )
    ours = X[:, F.FEATURES.index("pmv")]
    theirs = pmv_ppd_iso(tdb=frame.temperature, tr=frame.temperature, vr=vr, rh=frame.humidity, met=frame.metabolic_rate,
                         clo=frame.clothing, limit_inputs=False, round_output=False).pmv  # fmt: skip
    np.testing.assert_allclose(ours, theirs, atol=1e-12)


def test_evaluate_compares_with_baselines_and_draws_the_curve(tmp_path):
    from skynet.models.user_model import evaluate, plot_personalization, plot_predicted_vs_voted

    data = sample_data(900, seed=5, n_devices=12)
    result = evaluate(data, folds=3, params=SAMPLE_PARAMS, feedback_counts=(0, 5, 20), min_remaining=5)
    names = [row["estimate"] for row in result.table]
    assert any("PMV" in n for n in names) and any("comfy" in n for n in names)
    rows = {row["estimate"]: row for row in result.table}
    model_mae = min(r["mae"] for n, r in rows.items() if n.startswith("user_model"))
    assert model_mae < rows["always comfy (0)"]["mae"]
    assert [c["n_feedback"] for c in result.curve] == [0, 5, 20]
    assert result.curve[0]["mae_mean"] == pytest.approx(result.curve[0]["mae_mean_no_feedback"])
    assert result.curve[2]["mae_mean"] < result.curve[2]["mae_mean_no_feedback"]  # devices differ a lot here
    assert len(result.predictions) == len(data)
    for plot in (plot_personalization(result.curve, tmp_path / "a.png"),
                 plot_predicted_vs_voted(result.predictions, tmp_path / "b.png")):  # fmt: skip
        assert plot.read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png"]


def _random_columns(sample: pd.DataFrame, rng: np.random.Generator, n: int) -> dict:
    """Columns as a controller gives them: arrays of climates, one value for a device's facts."""
    row = sample.iloc[int(rng.integers(len(sample)))]
    columns = {
        "temperature": rng.uniform(14.0, 36.0, n),
        "humidity": np.where(rng.random(n) < 0.2, np.nan, rng.uniform(20.0, 90.0, n)),
        "air_speed": rng.choice([0.1, 0.22, 0.3, np.nan], n),
    }
    scalars = {
        "clothing": [None, np.nan, 0.5, 1.0],
        "metabolic_rate": [None, 1.1, 1.6],
        "outdoor_temperature": [np.nan, 31.0, -2.0],
        "outdoor_humidity": [None, 60.0],
        "outdoor_running_mean": [np.nan, 12.0, 27.5],
        "latitude": [None, row["latitude"], -33.9],
        "device_id": [row["device_id"], "newcomer"],
        "timestamp": [
            row["timestamp"],
            pd.Timestamp("2024-12-30 23:00", tz="Asia/Tokyo"),
            "2024-06-01 10:00",
        ],
        "climate": [row.get("climate"), "never seen", None],
        "building_type": [row.get("building_type"), None],
        "cooling_type": [row.get("cooling_type"), np.nan],
    }
    for name, choices in scalars.items():
        if rng.random() < 0.8:  # sometimes the column is absent
            columns[name] = choices[int(rng.integers(len(choices)))]
    if rng.random() < 0.3:  # a device fact given per row
        columns["clothing"] = np.where(rng.random(n) < 0.5, np.nan, rng.uniform(0.3, 1.2, n))
    return columns


def test_predict_arrays_equals_predict_on_the_frame(user_model, user_sample):
    rng = np.random.default_rng(5)
    groups = [_random_columns(user_sample, rng, int(rng.integers(1, 40))) for _ in range(60)]
    for columns in groups:
        np.testing.assert_allclose(
            user_model.predict_arrays(columns), user_model.predict(pd.DataFrame(columns)), rtol=0, atol=1e-12
        )
    offsets = [None if rng.random() < 0.5 else float(rng.normal(0, 1)) for _ in groups]
    many = user_model.predict_many(groups, offsets)
    for columns, offset, got in zip(groups, offsets, many, strict=True):
        frame = pd.DataFrame(columns)
        if offset is None:
            expected = user_model.predict(frame)
        else:
            expected = [user_model.predict_one(row, offset=offset) for row in frame.to_dict("records")]
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_predict_arrays_checks_its_input(user_model):
    with pytest.raises(DataError, match="lacks the column 'temperature'"):
        user_model.predict_arrays({"humidity": np.array([50.0])})
    with pytest.raises(DataError, match="'temperature' is missing in row 1"):
        user_model.predict_arrays({"temperature": np.array([24.0, np.nan])})
    with pytest.raises(DataError, match="'wet' \\(row 0\\) is not a number"):
        user_model.predict_arrays({"temperature": np.array([24.0]), "humidity": "wet"})
    with pytest.raises(DataError, match="different lengths"):
        user_model.predict_arrays({"temperature": np.array([24.0, 25.0]), "humidity": np.array([50.0])})
    assert user_model.predict_many([]) == []


def test_grouped_tree_walk_equals_scikit_learn(user_model, user_sample, booster):
    X = F.features(F.raw_from_frame(user_sample, user_model.encoders_), user_model.imputer_)
    rng = np.random.default_rng(2)
    groups = []
    for _ in range(30):  # groups sharing all features but a few, as a device's candidates do
        base = X[int(rng.integers(len(X)))]
        n = int(rng.integers(1, 30))
        rows = np.repeat(base[None, :], n, axis=0)
        for j in rng.choice(X.shape[1], int(rng.integers(0, 4)), replace=False):
            rows[:, j] = X[rng.integers(len(X), size=n), j]
        rows[rng.random(rows.shape) < 0.05] = np.nan  # missing values, shared or not
        groups.append(rows)
    groups.append(X[:50])  # a group sharing nothing
    bounds = np.cumsum([0, *(len(g) for g in groups)])
    rows = np.concatenate(groups)
    forest = flatten(booster)
    grouped = forest.predict_groups(rows, bounds)
    np.testing.assert_allclose(grouped, booster.predict(rows), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(grouped, forest.predict(rows))  # the same sums, whatever the groups
    np.testing.assert_array_equal(grouped[::17], [forest.predict(row[None, :])[0] for row in rows[::17]])


def test_a_column_nobody_reported_does_not_stop_training():
    """Simulated homes have no air-speed sensor: the column is all missing (scikit-learn's
    binning fails on such a column unless the model handles it)."""
    frame = sample_data(300, seed=5, n_devices=5).assign(air_speed=np.nan)
    model = UserModel(**SAMPLE_PARAMS).fit(frame)
    held_out = sample_data(400, seed=11, n_devices=6).assign(air_speed=np.nan)
    y = held_out["value"].to_numpy()
    model_mae = score(y, model.predict_median(held_out, personalize=False))["mae"]
    assert model_mae < score(y, np.zeros(len(y)))["mae"] - 0.2


def test_a_large_batch_walked_on_every_core_gives_the_same_numbers(user_model, user_sample):
    from skynet.models.user_model._forest import _PARALLEL_ROWS

    X = F.features(F.raw_from_frame(user_sample, user_model.encoders_), user_model.imputer_)
    big = np.tile(X, (_PARALLEL_ROWS // len(X) + 2, 1))
    big[::13, 0] += 0.7  # not only repeats
    forest = user_model.forest_
    expected = np.concatenate([forest.predict(big[lo : lo + 5000]) for lo in range(0, len(big), 5000)])
    np.testing.assert_array_equal(forest.predict(big), expected)
