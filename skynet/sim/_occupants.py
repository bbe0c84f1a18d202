"""The people in each simulated home: schedules, comfort, feedback habits and AC habits.

Households have 1–3 people (35 / 40 / 25 %); each person is a *worker* (away on workdays,
about 60 %) or stays home most days (retired, working from home, caring for children).
Each local day draws: waking time (workdays N(6:50, 30 min), other days N(8:15, 50 min)),
bedtime (N(23:00, 45 min), later before weekend days), the commute (leave 30–90 min after
waking, back N(18:30, 60 min); 4 % of workdays are taken off) and at most one outing
(50 % of free days, 35 % of weekdays at home, 10 % of workers' evenings; 30 min–5 h). About
once in 20 days a household goes away for 2–5 days (a trip: nobody home, control target
"off"). Schedules are in the home's local time.

Comfort: each person has a personal offset to PMV (N(0, 0.6) sensation units: individual
differences in the ASHRAE DB II are of that order), a clothing offset (N(0, 0.1) clo) on top
of the season's clothing (1.0 clo at a running-mean outdoor temperature of 5 °C falling to
0.5 clo at 25 °C, after the ASHRAE 55 dynamic clothing model's range), and a metabolic rate
(1.0–1.2 met awake; asleep 0.8 met under bedding of 0.8 clo in summer to 2.0 clo in winter,
within the 0.9–3 clo measured for bedding by Lin & Deng, 2008). A vote is
``round(PMV + offset + N(0, 0.5))`` on the 7-point scale.

Habits: a person up at home votes at their own base rate (median 1 vote per day at home,
log-normal spread; a few hardly ever vote) times ``1 + 2 s²`` for a sensation ``s`` (people
complain more than they praise), at most one vote per 20 minutes. Someone up at home changes
the AC at a rate of ``0.02 (|s| - 1)^1.5`` per minute when uncomfortable, plus a rare fiddle
(about once in three days at home); asleep only beyond ``|s| > 2``. When the last person
leaves and skynet is not in charge (target off or manual) the AC is switched off with the
household's probability (30–95 %). With the AC off, 70 % of households open windows while
someone is up and the room is warmer than their threshold (23.5–26 °C) and at least 2 °C warmer
than outside: 1.5–5 extra air changes per hour (single-sided ventilation, CIBSE AM10 range).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skynet.domain import TARGET_MODES, Fan
from skynet.sim._ac import AUTO, COOL, DRY, FAN_ONLY, HEAT

__all__ = [
    "clothing",
    "vote_rates",
    "vote_value",
    "Household",
    "sample_household",
    "DaySchedule",
    "sample_days",
    "presence",
    "sample_targets",
    "user_change",
    "TARGET",
    "MAX_PEOPLE",
]

MAX_PEOPLE = 3
TARGET = {name: i for i, name in enumerate(TARGET_MODES)}


@dataclass
class Household:
    """One home's people (arrays of :data:`MAX_PEOPLE` slots; unused slots are absent)."""

    present: np.ndarray  # bool, the slot is a person
    worker: np.ndarray  # bool
    comfort_offset: np.ndarray  # sensation units added to PMV
    clo_offset: np.ndarray
    met: np.ndarray  # awake metabolic rate
    vote_rate: np.ndarray  # votes per minute up at home when comfortable
    pref_cool: float  # set point chosen when cooling
    pref_heat: float
    pref_fan: int
    off_on_leave: float
    fiddle_rate: float  # AC changes per minute up at home without discomfort
    comfort_share: float  # probability that a newly chosen control target is "comfort"
    window_ach: float  # air changes per hour through open windows (0: they never open them)
    window_above: float  # °C indoors above which they open windows (AC off, cooler outside)


def sample_household(rng: np.random.Generator) -> Household:
    """Draw a household (distributions in the module docstring)."""
    n = int(rng.choice([1, 2, 3], p=[0.35, 0.40, 0.25]))
    present = np.arange(MAX_PEOPLE) < n
    offset = rng.normal(0.0, 0.6, MAX_PEOPLE)
    lean = float(offset[:n].mean())
    return Household(
        present=present,
        worker=rng.random(MAX_PEOPLE) < 0.6,
        comfort_offset=offset,
        clo_offset=rng.normal(0.0, 0.1, MAX_PEOPLE),
        met=rng.uniform(1.0, 1.2, MAX_PEOPLE),
        vote_rate=np.exp(rng.normal(np.log(1.0), 0.8, MAX_PEOPLE)) / 600.0,
        pref_cool=float(np.clip(np.round((25.0 - 1.2 * lean + rng.normal(0, 0.8)) * 2) / 2, 18.0, 28.0)),
        pref_heat=float(np.clip(np.round((22.0 - 1.2 * lean + rng.normal(0, 0.8)) * 2) / 2, 17.0, 27.0)),
        pref_fan=int(
            rng.choice(
                [int(f) for f in (Fan.AUTO, Fan.LOW, Fan.MEDIUM, Fan.HIGH)], p=[0.55, 0.15, 0.15, 0.15]
            )
        ),
        off_on_leave=rng.uniform(0.3, 0.95),
        fiddle_rate=1.0 / (3 * 600.0) * rng.uniform(0.5, 1.5),
        comfort_share=float(rng.choice([0.9, 0.6, 0.2], p=[0.6, 0.25, 0.15])),
        window_ach=rng.uniform(1.5, 5.0) if rng.random() < 0.7 else 0.0,
        window_above=rng.uniform(23.5, 26.0),
    )


@dataclass
class DaySchedule:
    """Per local day and person (days, slots): minutes after local midnight."""

    wake: np.ndarray
    bed: np.ndarray
    leave: np.ndarray  # leave == back: no commute
    back: np.ndarray
    out_start: np.ndarray
    out_end: np.ndarray
    trip: np.ndarray  # (days,) bool: the whole household is away


def sample_days(rng: np.random.Generator, hh: Household, n_days: int, weekdays: np.ndarray) -> DaySchedule:
    """Draw ``n_days`` local days of a household's schedule (``weekdays``: 0 = Monday)."""
    shape = (n_days, MAX_PEOPLE)
    free = (weekdays >= 5)[:, None]
    workday = ~free & hh.worker & (rng.random(shape) > 0.04)
    wake = np.where(workday, rng.normal(410, 30, shape), rng.normal(495, 50, shape))
    wake = np.clip(wake, 300, 660).astype(int)
    late = ((weekdays == 4) | (weekdays == 5))[:, None] * 40
    bed = np.clip(rng.normal(1380, 45, shape) + late, 1260, 1439).astype(int)
    leave = np.where(workday, wake + rng.uniform(30, 90, shape), 0).astype(int)
    back = np.where(workday, np.clip(rng.normal(1110, 60, shape), 900, 1290), 0).astype(int)
    p_out = np.where(free, 0.5, np.where(hh.worker, 0.1, 0.35))
    going = rng.random(shape) < p_out
    evening = workday
    lo = np.where(evening, back + 30, wake + 60)
    out_start = (lo + rng.random(shape) * np.maximum(1200 - lo, 1)).astype(int)
    out_end = np.minimum(out_start + np.clip(rng.exponential(120, shape), 30, 300), bed - 30).astype(int)
    out_start = np.where(going & (out_end > out_start), out_start, 0)
    out_end = np.where(going & (out_end > out_start), out_end, 0)
    trip = np.zeros(n_days, dtype=bool)
    day = rng.exponential(20.0)
    while day < n_days:
        first = int(day)
        trip[first : first + int(rng.integers(2, 6))] = True
        day = first + 6 + rng.exponential(20.0)
    return DaySchedule(wake, bed, leave, back, out_start, out_end, trip)


def clothing(running_mean: float | np.ndarray, clo_offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clothing (clo) of each person up, and of their bedding, for the outdoor running mean.

    ``running_mean`` is a scalar or one value per home; ``clo_offset`` is (homes, slots). Both
    results have the shape of ``clo_offset`` (see the module docstring for the model).
    """
    season = np.clip(1.0 - 0.025 * (np.asarray(running_mean, dtype=float) - 5.0), 0.5, 1.0)
    season = season[..., None] if season.ndim else season
    return np.clip(season + clo_offset, 0.3, 1.5), np.broadcast_to(
        0.8 + 2.4 * (season - 0.5), clo_offset.shape
    )


def vote_rates(base: np.ndarray, sensation: np.ndarray) -> np.ndarray:
    """Votes per minute of people up at home: their base rate times ``1 + 2 s²``, at most 0.05."""
    return np.minimum(base * (1.0 + 2.0 * sensation * sensation), 0.05)


def vote_value(sensation: float, normal: float) -> float:
    """A vote on the 7-point scale for a sensation and a standard normal draw (never -0.0)."""
    return float(np.clip(np.round(sensation + 0.5 * normal), -3, 3)) + 0.0


def presence(days: DaySchedule, present: np.ndarray, day: np.ndarray, minute: np.ndarray):
    """Who is home and who is asleep at each minute.

    Args:
        days: the fleet's schedules stacked to (local days, homes, slots) (trip: days, homes).
        present: (homes, slots) which slots are people.
        day, minute: local day number and minute of day of each simulated minute, (M,).

    Returns:
        ``(home, asleep)``, bool arrays (M, homes, slots).
    """
    m = minute[:, None, None]

    def at(values: np.ndarray) -> np.ndarray:
        return values[day]

    away = ((m >= at(days.leave)) & (m < at(days.back))) | (
        (m >= at(days.out_start)) & (m < at(days.out_end))
    )
    home = present[None] & ~away & ~at(days.trip)[:, :, None]
    asleep = home & ((m < at(days.wake)) | (m >= at(days.bed)))
    return home, asleep


def sample_targets(rng: np.random.Generator, hh: Household, n_minutes: int, warm: bool,
                   trips: list[tuple[int, int]]) -> list[tuple[int, int, float | None]]:  # fmt: skip
    """The household's control targets over the run: ``(minute, TARGET code, value)`` events.

    Mostly "comfort" (the household's share), otherwise "temperature" at its preferred set
    point, some "manual" (skynet used as a remote); a change about once in six days; "off"
    for trips, restored after.
    """

    def draw() -> tuple[int, float | None]:
        u = rng.random()
        if u < hh.comfort_share:
            return TARGET["comfort"], None
        if u < hh.comfort_share + (1 - hh.comfort_share) * 0.75:
            return TARGET["temperature"], (hh.pref_cool + 0.5) if warm else hh.pref_heat
        return TARGET["manual"], None

    events: dict[int, tuple[int, float | None]] = {0: draw()}
    t = rng.exponential(6 * 1440.0)
    while t < n_minutes:
        events[int(t)] = draw()
        t += rng.exponential(6 * 1440.0)
    timeline = sorted(events.items())
    for begin, end in trips:  # trips override whatever was planned inside them
        before = [e for m, e in timeline if m <= begin]
        inside = [e for m, e in timeline if begin < m < end]
        after = (inside or before)[-1]
        timeline = [(m, e) for m, e in timeline if not begin <= m <= end]
        timeline += [(begin, (TARGET["off"], None))] + ([(end, after)] if end < n_minutes else [])
        timeline.sort()
    return [(m, code, value) for m, (code, value) in timeline]


def user_change(power: bool, mode: int, tset: float, fan: int, s: float, t_air: float, hh: Household,
                u: float, fiddle: bool) -> tuple[bool, int, float, int] | None:  # fmt: skip
    """What a person does to the AC (their sensation ``s``; ``u`` uniform in [0, 1)).

    Returns the new settings, or None when they leave it as it is.
    """
    step = 1.0 if u < 0.6 else 2.0
    if fiddle:
        if not power:
            return None
        if u < 0.5:
            return power, mode, float(np.clip(tset + (0.5 if u < 0.25 else -0.5), 16.0, 30.0)), fan
        return power, mode, tset, int((fan + 1 + int(u * 10) % 3) % 4)
    if s > 0:  # too warm
        if not power or mode in (HEAT, FAN_ONLY):
            if mode == HEAT and power and u < 0.5:
                return False, mode, tset, fan
            return True, COOL, hh.pref_cool, hh.pref_fan if u < 0.8 else int(Fan.HIGH)
        if mode in (COOL, DRY, AUTO):
            new_fan = int(Fan.HIGH) if u > 0.85 else fan
            return True, COOL if mode == DRY else mode, max(16.0, tset - step), new_fan
        return None
    # too cold
    if power and mode in (COOL, DRY, FAN_ONLY):
        if u < 0.45 or mode == FAN_ONLY:
            return False, mode, tset, fan
        return True, mode, min(30.0, tset + step), fan
    if power and mode in (HEAT, AUTO):
        return True, mode, min(30.0, tset + step), fan
    if not power and t_air < 20.0:
        return True, HEAT, hh.pref_heat, hh.pref_fan
    return None
