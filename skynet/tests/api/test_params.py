"""Hyper-parameters from the command line and grid files: checked against each model's own."""

from __future__ import annotations

import pytest

from skynet.api.params import badness, check_params, parse_params, read_grid
from skynet.errors import DataError


def test_pairs_and_files_are_read_as_yaml_values_and_pairs_win(tmp_path):
    path = tmp_path / "params.yml"
    path.write_text("learning_rate: 0.2\nmax_iter: 50\nmonotonic: false\n")
    params = parse_params("user_model", ["learning_rate=0.05", "personal=offset"], path)
    assert params == {"learning_rate": 0.05, "max_iter": 50, "monotonic": False, "personal": "offset"}
    assert parse_params("estimation", ["hidden=[32, 16]", "epochs=3"]) == {"hidden": [32, 16], "epochs": 3}


@pytest.mark.parametrize(
    "pairs, message",
    [
        (
            ["learning_rat=0.1"],
            r"--param: unknown user_model parameter 'learning_rat' \(known: max_iter, .*did you mean learning_rate\?",
        ),
        (["max_iter=many"], "max_iter = 'many': expected a whole number"),
        (["max_iter=1.5"], "expected a whole number"),
        (["monotonic=1"], "expected true or false"),
        (["learning_rate=[1]"], "expected a number"),
        (["learning_rate"], "expected NAME=VALUE"),
        (["=3"], "expected NAME=VALUE"),
        (["learning_rate=[1"], "the value is not a number"),
    ],
)
def test_bad_pairs_are_one_line_naming_the_parameter(pairs, message):
    with pytest.raises(DataError, match=message) as caught:
        parse_params("user_model", pairs)
    assert "\n" not in str(caught.value)


def test_a_parameter_file_must_be_a_mapping_of_known_parameters(tmp_path):
    path = tmp_path / "p.yml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(DataError, match="expected a mapping of parameter: value, got list"):
        parse_params("user_model", [], path)
    path.write_text("epochs: 3\n")
    with pytest.raises(DataError, match="p.yml: unknown user_model parameter 'epochs'"):
        parse_params("user_model", [], path)
    with pytest.raises(DataError, match="does not exist"):
        parse_params("user_model", [], tmp_path / "missing.yml")
    assert check_params("estimation", {"hidden": (8,)}) == {"hidden": [8]}
    with pytest.raises(DataError, match="expected a list of numbers"):
        check_params("estimation", {"hidden": []})


def _grid(tmp_path, text: str):
    path = tmp_path / "grid.yml"
    path.write_text(text)
    return path


def test_a_grid_is_every_combination_with_the_fixed_parameters(tmp_path):
    spec = read_grid("user_model", _grid(tmp_path, "params: {max_iter: [10, 20], learning_rate: [0.1, 0.2, 0.3]}\n"
                                                   "fixed: {min_samples_leaf: 5}\nmetric: f1_3class\n"))  # fmt: skip
    points = spec.points()
    assert len(points) == 6 and (spec.kind, spec.metric, spec.folds) == ("grid", "f1_3class", 3)
    assert points[0] == {"min_samples_leaf": 5, "learning_rate": 0.1, "max_iter": 10}
    assert len({tuple(sorted(p.items())) for p in points}) == 6


def test_a_random_search_draws_seeded_points_from_values_and_ranges(tmp_path):
    text = ("kind: random\ntrials: 16\nseed: 3\nparams:\n  learning_rate: {low: 0.01, high: 0.3, log: true}\n"
            "  max_leaf_nodes: {low: 8, high: 64, int: true}\n  monotonic: [true, false]\n")  # fmt: skip
    spec = read_grid("user_model", _grid(tmp_path, text))
    points = spec.points()
    assert len(points) == 16 and points == spec.points()  # the same draws every time
    assert all(0.01 <= p["learning_rate"] <= 0.3 and 8 <= p["max_leaf_nodes"] <= 64 for p in points)
    assert all(isinstance(p["max_leaf_nodes"], int) for p in points)
    assert {p["monotonic"] for p in points} == {True, False}
    check_params("user_model", points[0])  # every drawn point is a valid parameter set


@pytest.mark.parametrize(
    "text, message",
    [
        ("params: {max_iter: [1]}\nkind: bayes\n", "kind must be grid, random or tpe"),
        ("params: {max_iter: [1]}\nfolds: 1\n", "folds must be a whole number of at least 2"),
        (
            "params: {max_iter: [1]}\nmetric: auc\n",
            "metric 'auc' is not one user_model's cross-validation reports",
        ),
        ("params: {max_iter: [1]}\nextra: 1\n", "unknown key 'extra'"),
        ("params: {}\n", "params: expected a mapping"),
        ("params: {max_itr: [1]}\n", "unknown user_model parameter 'max_itr'.*did you mean max_iter"),
        ("params: {max_iter: ['a']}\n", "max_iter = 'a': expected a whole number"),
        ("params: {max_iter: {low: 1, high: 5}}\n", "a range needs kind: random or tpe"),
        ("kind: random\nparams: {max_iter: {low: 5, high: 1}}\n", "needs numbers low < high"),
        ("params: {max_iter: [1]}\nfixed: {max_iter: 2}\n", "max_iter is both searched"),
        (
            "params: {max_iter: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], learning_rate: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, "
            "0.8, 0.9, 1.0]}\nfixed: {}\n",
            None,
        ),
        ("params: [1, 2]\n", "params: expected a mapping"),
        ("params: {max_iter: [1]\n", "not valid YAML"),
    ],
)
def test_bad_grids_are_one_line_naming_the_problem(tmp_path, text, message):
    path = _grid(tmp_path, text)
    if message is None:  # 110 points: fine
        assert len(read_grid("user_model", path).points()) == 110
        return
    with pytest.raises(DataError, match=message) as caught:
        read_grid("user_model", path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_too_many_points_are_refused(tmp_path):
    values = list(range(1, 41))
    path = _grid(tmp_path, f"params: {{max_iter: {values}, max_leaf_nodes: {values}}}\n")
    with pytest.raises(DataError, match="1,600 points; a search has at most 1000"):
        read_grid("user_model", path)


def test_badness_orders_best_first():
    assert sorted([0.9, None, 0.7], key=lambda v: badness("mae", v)) == [0.7, 0.9, None]
    assert sorted([0.5, 0.8], key=lambda v: badness("f1_3class", v)) == [0.8, 0.5]
    assert sorted([0.3, -0.1], key=lambda v: badness("bias", v)) == [-0.1, 0.3]
