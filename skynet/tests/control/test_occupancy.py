"""A home's weekly occupancy pattern learned from its own history, and the forecast from it."""

from __future__ import annotations

import numpy as np
import pytest

from skynet.control import OccupancyProfile
from skynet.control._occupancy import SLOTS_PER_DAY, week_slot


def _workday_home(days: int = 3, weekday0: int = 0) -> OccupancyProfile:
    """Someone home 18:00–08:00, out 08:00–18:00, every day, observed minute by minute."""
    profile = OccupancyProfile()
    for day in range(days):
        for minute in range(0, 1440, 5):
            hour = minute / 60.0
            profile.observe((weekday0 + day) % 7, hour, not 8.0 <= hour < 18.0, minutes=5)
    return profile


def test_slots_are_half_hours_of_the_week():
    assert week_slot(0, 0.0) == 0 and week_slot(0, 23.99) == SLOTS_PER_DAY - 1
    assert week_slot(6, 23.5) == 7 * SLOTS_PER_DAY - 1 and week_slot(7, 0.2) == 0


def test_an_arrival_is_forecast_from_the_learned_pattern():
    profile = _workday_home()
    # Thursday 16:00, nobody home: likely back at 18:00 (a day the home was never seen on)
    ahead = np.array([15.0, 60.0, 150.0, 240.0])
    chance = profile.forecast(3, 16.0, False, ahead)
    assert chance[0] < 0.3 and chance[2] > 0.6 and chance[3] > 0.7
    assert np.all(np.diff(chance) >= 0)
    # and a departure at 08:00 when someone is home at 07:00
    leaving = profile.forecast(3, 7.0, True, np.array([15.0, 90.0, 180.0]))
    assert leaving[0] > 0.8 and leaving[2] < 0.4


def test_without_history_the_present_state_persists():
    empty = OccupancyProfile()
    assert not empty.learned
    np.testing.assert_array_equal(empty.forecast(2, 12.0, False, np.array([30.0, 300.0])), [0.0, 0.0])
    np.testing.assert_array_equal(empty.forecast(2, 12.0, None, np.array([30.0])), [1.0])  # unknown: occupied
    # one vote at 20:00 says little: the empty present still weighs in at 20:00 another day
    profile = OccupancyProfile()
    profile.observe(0, 20.0, True)
    assert 0.0 < profile.forecast(1, 19.5, False, np.array([30.0]))[0] < 0.3


def test_the_weekly_pattern_wins_over_the_daily_one_with_enough_weeks():
    profile = OccupancyProfile()
    for _ in range(4):  # four weeks: Monday to Friday out by day, weekends at home all day
        week = _workday_home(days=5)
        profile.home += week.home
        profile.seen += week.seen
        for weekday in (5, 6):
            for minute in range(0, 1440, 10):
                profile.observe(weekday, minute / 60.0, True, minutes=10)
    saturday_noon = profile.forecast(5, 10.0, None, np.array([120.0]))[0]
    tuesday_noon = profile.forecast(1, 10.0, None, np.array([120.0]))[0]
    assert saturday_noon > 0.7 and tuesday_noon < 0.2


def test_a_profile_round_trips_through_json():
    import json

    profile = _workday_home(days=1)
    again = OccupancyProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    ahead = np.array([30.0, 300.0])
    assert again.forecast(0, 6.0, True, ahead) == pytest.approx(
        profile.forecast(0, 6.0, True, ahead), abs=1e-3
    )
