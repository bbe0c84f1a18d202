"""Occupants: votes on the 7-point scale from PMV, at home and awake only; their AC habits."""

from __future__ import annotations

import numpy as np
import pandas as pd

from skynet.domain import FEEDBACK_VALUES, TARGET_MODES


def _truth_at(run, frame: pd.DataFrame) -> pd.DataFrame:
    """The ground truth of each record's home and minute."""
    minutes = ((frame.timestamp - pd.Timestamp(run.start)) / pd.Timedelta("1min")).astype(int).to_numpy()
    homes = frame.device_id.map({d: i for i, d in enumerate(run.device_ids)}).to_numpy()
    return pd.DataFrame({name: run.truth[name][minutes, homes] for name in ("temperature", "occupants", "awake",
                                                                             "pmv", "sensation")})  # fmt: skip


def test_votes_are_on_the_seven_point_scale(hot_run):
    votes = hot_run.feedback.value
    assert len(votes) > 50
    assert set(votes.unique()) <= set(map(float, FEEDBACK_VALUES))
    assert votes.nunique() >= 4
    per_home_day = len(votes) / len(hot_run.device_ids) / (hot_run.minutes / 1440)
    assert 0.5 < per_home_day < 15  # a few votes a day
    assert all(
        u.startswith(d) for u, d in zip(hot_run.feedback.user_id, hot_run.feedback.device_id, strict=True)
    )


def test_hotter_rooms_get_higher_votes(hot_run, small_run):
    votes = pd.concat([hot_run.feedback, small_run.feedback], ignore_index=True)
    truth = pd.concat([_truth_at(hot_run, hot_run.feedback), _truth_at(small_run, small_run.feedback)],
                      ignore_index=True)  # fmt: skip
    assert np.corrcoef(truth.temperature, votes.value)[0, 1] > 0.3
    assert np.corrcoef(truth.pmv, votes.value)[0, 1] > 0.3
    warm = votes.value[truth.temperature > truth.temperature.median()].mean()
    cool = votes.value[truth.temperature <= truth.temperature.median()].mean()
    assert warm > cool


def test_no_feedback_when_nobody_is_home(hot_run, small_run):
    for run in (hot_run, small_run):
        truth = _truth_at(run, run.feedback)
        assert (truth.occupants > 0).all()
        assert (truth.awake > 0).all()
        occupied = run.truth["occupants"] > 0
        assert 0.1 < occupied.mean() < 0.98  # people do go out


def test_people_change_the_ac_themselves(hot_run):
    states = hot_run.appliance_states
    by_origin = states.origin.value_counts()
    assert by_origin.get("user", 0) > 10 and by_origin.get("skynet", 0) > 10
    after_start = states[states.timestamp > pd.Timestamp(hot_run.start)]
    assert (after_start.origin == "user").sum() > 0
    assert set(states["mode"]) <= {"cool", "heat", "dry", "fan", "auto"}
    assert states.set_temperature.between(16, 30).all()


def test_control_targets_are_mostly_comfort(hot_run, small_run):
    targets = pd.concat([hot_run.control_targets, small_run.control_targets])
    assert set(targets["mode"]) <= set(TARGET_MODES)
    assert (targets["mode"] == "comfort").mean() > 0.4
    temperature = targets[targets["mode"] == "temperature"]
    assert temperature.value.between(16, 30).all()
    first = targets.sort_values("timestamp").groupby("device_id").head(1)
    assert len(first) == len(hot_run.device_ids) + len(small_run.device_ids)  # every home starts with one
