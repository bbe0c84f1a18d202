"""The user model on the real ASHRAE DB II: it must beat PMV on buildings it never saw.

Slow (one fit on ~85k votes): ``pytest -m slow skynet/tests/models/test_ashrae.py``. Skips
with a message where ``../shared/data/ashrae_db2`` is missing (a checkout outside the team).
"""

from __future__ import annotations

import numpy as np
import pytest

from skynet.models.user_model import UserModel, score
from skynet.models.user_model import _features as F

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def db2_split(ashrae_files):
    """(train, test) comfort frames of DB II, 20 % of the buildings held out."""
    from sklearn.model_selection import GroupShuffleSplit

    from skynet.data import read_ashrae_comfort_frame

    frame = read_ashrae_comfort_frame(*ashrae_files)
    train, test = next(
        GroupShuffleSplit(1, test_size=0.2, random_state=0).split(frame, groups=frame["device_id"])
    )
    return frame.iloc[train].reset_index(drop=True), frame.iloc[test].reset_index(drop=True)


@pytest.fixture(scope="session")
def db2_model(db2_split):
    return UserModel(random_state=0).fit(db2_split[0])


def _pmv(model, frame):
    X = F.features(F.raw_from_frame(frame, model.encoders_), model.imputer_)
    return np.clip(np.round(X[:, F.FEATURES.index("pmv")], 2), -3, 3)


def test_beats_pmv_on_held_out_buildings(db2_model, db2_split):
    train, test = db2_split
    assert not set(train["device_id"]) & set(test["device_id"])
    y = test["value"].to_numpy()
    pmv = score(y, _pmv(db2_model, test))
    mean = score(y, db2_model.predict(test))
    median = score(y, db2_model.predict_median(test))
    assert mean["mae"] < pmv["mae"] - 0.1, (mean, pmv)
    assert median["mae"] < mean["mae"], (median, mean)
    assert median["exact_acc"] > pmv["exact_acc"]
    assert abs(mean["bias"]) < 0.15


def test_fast_path_matches_batch_on_real_rows(db2_model, db2_split):
    rows = db2_split[1].drop(columns="value").sample(50, random_state=1)
    batch = db2_model.predict(rows)
    for i, row in enumerate(rows.to_dict("records")):
        row = {k: v for k, v in row.items() if not (isinstance(v, float) and np.isnan(v))}
        assert db2_model.predict_one(row) == pytest.approx(batch[i], abs=1e-12)
