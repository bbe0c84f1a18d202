"""Each home's weekly occupancy pattern, learned from its own history, and a forecast from it.

A home's people keep a week's rhythm: up at seven, out at eight, back at six, later on Fridays.
:class:`OccupancyProfile` learns, for each half hour of the week (local time), the share of
observed time someone was home, from whatever the home says about it:

- the number of people at home, when its device reports it (a reading's ``occupancy``): the
  strongest evidence, at every reading;
- a comfort vote or a person changing the AC at the remote: someone is home at that minute;
- an ``away`` control target: nobody is.

Half-hours of the week with little evidence borrow from the same half-hour of the other days
(the daily pattern), which borrows from the present state (without evidence, an empty home is
expected to stay empty), so one day of history already gives a daily rhythm and a few weeks a
weekly one. :meth:`OccupancyProfile.forecast` gives the chance
someone is home at coming moments: the present state for the next minutes (people who are home
stay a while, an empty home stays empty a while), relaxing towards the learned pattern with a
time constant of ``persistence_minutes``. The planner weighs its comfort cost by this chance,
so it pre-cools before a likely arrival and sets back after a likely departure.

State is small (two arrays of 336 numbers) and JSON-friendly (:meth:`to_dict` / :meth:`from_dict`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["OccupancyProfile", "SLOTS_PER_DAY", "week_slot"]

SLOTS_PER_DAY = 48  # half hours
_WEEK = 7 * SLOTS_PER_DAY
#: Observed minutes a week's half-hour slot needs before it outweighs the daily pattern.
_WEEKLY_WEIGHT = 60.0
#: ... and a daily slot before it outweighs the present state.
_DAILY_WEIGHT = 30.0


def week_slot(weekday: int, hour: float) -> int:
    """The half-hour slot of the week (0 = Monday 00:00) of a local weekday (0 = Monday) and hour."""
    return int(weekday % 7) * SLOTS_PER_DAY + int(math.floor((hour % 24.0) * 2.0)) % SLOTS_PER_DAY


@dataclass
class OccupancyProfile:
    """One home's learned weekly occupancy (see the module docstring).

    Attributes:
        home: minutes someone was home, by half-hour slot of the week.
        seen: minutes with evidence either way, by slot.
        persistence_minutes: how long the present state outweighs the pattern in a forecast.
    """

    home: np.ndarray = field(default_factory=lambda: np.zeros(_WEEK))
    seen: np.ndarray = field(default_factory=lambda: np.zeros(_WEEK))
    persistence_minutes: float = 60.0

    def observe(self, weekday: int, hour: float, occupied: bool, minutes: float = 1.0) -> None:
        """Evidence that the home was (or was not) occupied for ``minutes`` at that local time."""
        slot = week_slot(weekday, hour)
        self.seen[slot] += minutes
        if occupied:
            self.home[slot] += minutes

    @property
    def learned(self) -> bool:
        """Whether any evidence was seen."""
        return bool(self.seen.sum() > 0)

    def pattern(self, prior: float = 0.5) -> np.ndarray:
        """The chance someone is home in each half hour of the week, shrunk towards the daily
        pattern, which is shrunk towards ``prior``."""
        daily_home = self.home.reshape(7, SLOTS_PER_DAY).sum(axis=0)
        daily_seen = self.seen.reshape(7, SLOTS_PER_DAY).sum(axis=0)
        daily = (daily_home + _DAILY_WEIGHT * prior) / (daily_seen + _DAILY_WEIGHT)
        return (self.home + _WEEKLY_WEIGHT * np.tile(daily, 7)) / (self.seen + _WEEKLY_WEIGHT)

    def forecast(
        self, weekday: int, hour: float, occupied: bool | None, minutes_ahead: np.ndarray
    ) -> np.ndarray:
        """The chance someone is home ``minutes_ahead`` from now (local ``weekday`` and ``hour``).

        ``occupied`` is the present state (None: unknown). Without evidence of the pattern the
        present state persists (unknown: 1, as a decision treats an unknown occupancy).
        """
        ahead = np.asarray(minutes_ahead, dtype=float)
        now = 1.0 if occupied is None else float(bool(occupied))
        if not self.learned:
            return np.full(ahead.shape, now)
        hours = hour + ahead / 60.0
        days = weekday + np.floor(hours / 24.0).astype(int)
        slots = (days % 7) * SLOTS_PER_DAY + (np.floor((hours % 24.0) * 2.0).astype(int) % SLOTS_PER_DAY)
        learned = self.pattern(now)[slots]
        if occupied is None:
            return learned
        keep = np.exp(-ahead / max(self.persistence_minutes, 1e-9))
        return keep * now + (1.0 - keep) * learned

    def to_dict(self) -> dict[str, Any]:
        return {"home": self.home.round(3).tolist(), "seen": self.seen.round(3).tolist(),
                "persistence_minutes": self.persistence_minutes}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OccupancyProfile:
        return cls(np.asarray(data["home"], dtype=float), np.asarray(data["seen"], dtype=float),
                   float(data.get("persistence_minutes", 60.0)))  # fmt: skip
