"""kind: tpe: Optuna's TPE plans the next points from the ones that ended, within the grid's space."""

from __future__ import annotations

from skynet.api import search as steps
from skynet.api._slices import materialise
from skynet.api._tpe import plan
from skynet.api.experiments import open_experiments
from skynet.api.params import read_grid
from skynet.storage.experiments import Metric, Point, Search

GRID = """kind: tpe
trials: 5
batch: 2
seed: 7
params:
  learning_rate: {low: 0.02, high: 0.3, log: true}
  max_leaf_nodes: {low: 8, high: 32, int: true}
  max_iter: [4, 8]
fixed: {min_samples_leaf: 10, calibration_folds: 2}
"""


def _spec(tmp_path):
    path = tmp_path / "grid.yml"
    path.write_text(GRID)
    return read_grid("user_model", path)


def test_tpe_plans_seeded_points_within_the_space(tmp_path):
    spec = _spec(tmp_path)
    first = spec.points()
    assert len(first) == 2 and first == spec.points()  # the first batch: seeded
    for point in first:
        assert 0.02 <= point["learning_rate"] <= 0.3 and 8 <= point["max_leaf_nodes"] <= 32
        assert point["max_iter"] in (4, 8) and point["min_samples_leaf"] == 10
    done = [Point("s", i, p, "done") for i, p in enumerate(first)]
    metrics = [Metric("s", 0, -1, "mae", 0.7), Metric("s", 1, -1, "mae", 0.9)]
    later = plan(spec, done, metrics, 2)
    assert later == plan(spec, done, metrics, 2) and later != first  # the same history: the same points
    assert all(isinstance(p["max_leaf_nodes"], int) for p in later)


def test_estimation_lists_stay_lists():
    from skynet.api.params import SearchSpec

    spec = SearchSpec("tpe", "rmse", 2, {"hidden": [[8], [16, 8]]}, {"epochs": 2}, trials=4, batch=3)
    assert all(p["hidden"] in ([8], [16, 8]) for p in plan(spec, [], [], 3))


def test_points_are_planned_as_points_end_never_past_trials_or_batch(settings, tmp_path):
    from skynet.models.user_model import sample_data

    spec = _spec(tmp_path)
    data = materialise(settings, sample_data(200, n_devices=6))
    search = Search(id="s-tpe", model_type="user_model", kind="tpe", dataset_hash=data["hash"], metric="mae",
                    spec={"grid": spec.to_dict(), "dataset": data, "selection": {}, "seed": 0, "points": 2,
                          "trials": 5})  # fmt: skip
    with open_experiments(settings) as store:
        store.create_search(search, spec.points())
    assert steps.plan_points(settings, "s-tpe") == []  # both first points are in work: the batch is full
    with open_experiments(settings) as store:
        store.finish_point("s-tpe", 0, [Metric("s-tpe", 0, -1, "mae", 0.8)])
    assert steps.plan_points(settings, "s-tpe") == [2]
    with open_experiments(settings) as store:
        store.fail_point("s-tpe", 1, "x")
        store.fail_point("s-tpe", 2, "y")
    assert steps.plan_points(settings, "s-tpe") == [3, 4]  # two free places in the batch; 5 trials in all
    with open_experiments(settings) as store:
        for point in (3, 4):
            store.finish_point("s-tpe", point, [Metric("s-tpe", point, -1, "mae", 0.5 + point / 10)])
        assert len(store.points("s-tpe")) == 5
    assert steps.plan_points(settings, "s-tpe") == []  # trials reached: the search can finish
    assert steps.claim_finish(settings, "s-tpe")
