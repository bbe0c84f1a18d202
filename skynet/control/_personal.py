"""Personal comfort offsets by period of the day, learned from a device's own votes.

The comfort model knows the climate, not the hour: people who feel hot at 26 °C while up and
about may sleep well at 27 °C under a duvet. Splitting each device's votes into "day" and
"night" (local 22:00–07:00) and asking the comfort model for each half's personal offset
(``UserModel.personal_offsets``: the shrunken mean of the votes above its prediction) gives
the decision the offset for the moment it decides.

Offsets are pooled first: every device's votes of a period give the period's common offset
(what the population model misses in these homes: their buildings, their clothing, a
different climate; with many votes hardly shrunk). Each device's own offset is then its
shrunken mean *around* that pooled offset: a device with few votes gets about the pooled
offset, not zero (the model's shrinkage pulls towards zero, which would keep a bias the whole
fleet shows); a device with no vote in a period gets the pooled offset. :func:`offset_for`
may add a fixed night offset (``ControlConfig.night_offset``): people asleep hardly ever vote,
so a night period's votes are those of people still up, who feel warmer than sleepers.

:class:`Personalizer` is the one personalization of skynet: the closed-loop evaluation, the
control worker and ``skynet control decide`` all use it. Its interface is two calls —
``learn(votes)`` and ``offset(device_id, hour, people)``.

Per person (issue 15): where the votes name their voter (``user_id``) and the comfort model
personalizes per person (``UserModel.personal_params``: each person's offset shrunk towards
their device's, by empirical Bayes), each person gets an offset by period too, around the same
pooled offset. A decision uses the mean offset of the people present when the caller knows
them, else the offset of the person who voted last on the device (whoever votes is home; the
worker and the closed loop know how many people are home, not who), else the device's. Only
the offset at the model's reference temperature is used (the person's slope is not).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["Personalizer", "period_of_day", "personal_offsets", "people_offsets", "offset_for", "NIGHT"]

#: The pseudo-device of the pooled offsets.
ALL = "*"
#: Local hours of the night period: [start, end).
NIGHT = (22.0, 7.0)


def period_of_day(hour: float) -> str:
    """``"night"`` for a local hour in :data:`NIGHT`, else ``"day"``."""
    return "night" if hour >= NIGHT[0] or hour < NIGHT[1] else "day"


def personal_offsets(model: Any, votes: Any, pool: bool = True) -> dict[tuple[str, str], float]:
    """Offsets by (device, period) from votes with their context.

    Args:
        model: a comfort model with ``personal_offsets(frame)``.
        votes: a comfort frame of votes (``device_id``, ``value``, the climate columns) with the
            local ``hour`` of each vote.
        pool: pool every device's votes by period (device :data:`ALL`: what a device with no
            vote in a period gets) and shrink each device's offset towards it; False: each
            device alone, shrunk towards zero.

    Returns:
        ``{(device_id, period): offset}`` for every device and period that has votes.
    """
    return people_offsets(model, votes, pool)[0]


def people_offsets(
    model: Any, votes: Any, pool: bool = True
) -> tuple[dict[tuple[str, str], float], dict[tuple[str, str, str], float]]:
    """Offsets by (device, period), as :func:`personal_offsets`, and by (device, person, period).

    The people's offsets are found where the votes have a ``user_id`` and the model has
    ``personal_params`` (per device and person, :class:`~skynet.models.user_model.PersonalParams`);
    each is the pooled offset of its period plus the person's own around it, as for devices.

    Returns:
        ``({(device_id, period): offset}, {(device_id, user_id, period): offset})``.
    """
    if votes is None or len(votes) == 0:
        return {}, {}
    periods = votes["hour"].map(period_of_day)
    own = votes.drop(columns=["hour"]).assign(device_id=votes["device_id"].astype(str) + "|" + periods)
    out: dict[tuple[str, str], float] = {}
    if pool:
        pooled = own.assign(device_id=ALL + "|" + periods)
        out = _by_period(model.personal_offsets(pooled.drop(columns=["user_id"], errors="ignore")))
        base = periods.map(lambda p: out.get((ALL, p), 0.0)).to_numpy(dtype=float)
        own = own.assign(value=own["value"].astype(float).to_numpy() - base)
    people: dict[tuple[str, str, str], float] = {}
    named = "user_id" in own and own["user_id"].notna().any()
    if named and hasattr(model, "personal_params"):
        for (key, user), params in model.personal_params(own).items():
            device, _, period = str(key).rpartition("|")
            offset = out.get((ALL, period), 0.0) + float(params.offset)
            if user is None:
                out[(device, period)] = offset
            else:
                people[(device, str(user), period)] = offset
        return out, people
    for (device, period), offset in _by_period(model.personal_offsets(own)).items():
        out[(device, period)] = out.get((ALL, period), 0.0) + offset
    return out, people


def _by_period(found: dict[str, tuple[float, int]]) -> dict[tuple[str, str], float]:
    """``{"device|period": (offset, votes)}`` as ``{(device, period): offset}``."""
    return {(key.rpartition("|")[0], key.rpartition("|")[2]): float(o) for key, (o, _) in found.items()}


def offset_for(
    offsets: dict[tuple[str, str], float], device_id: str, hour: float, night: float = 0.0
) -> float | None:
    """The offset of ``device_id`` for the period of ``hour``: its own, else the pooled one, else None;
    plus ``night`` in the night period (sleepers rarely vote: the votes of the period are those
    of people still up)."""
    period = period_of_day(hour)
    found = offsets.get((device_id, period))
    found = offsets.get((ALL, period)) if found is None else found
    if period == "night" and night:
        return (found or 0.0) + night
    return found


class Personalizer:
    """Personal comfort offsets by device and period of the day, learned from votes.

    Args:
        model: a comfort model with ``personal_offsets(frame)`` (the shrunken mean of a device's
            votes above its prediction, :meth:`skynet.models.user_model.UserModel.personal_offsets`).
        night_offset: added in the night period (``ControlConfig.night_offset``).
        pool: pool the votes of every device :meth:`learn` sees at once (the closed loop sees
            the whole fleet's); False: each device's own votes, shrunk towards zero (the worker
            and ``skynet control decide`` see one device at a time).
    """

    def __init__(self, model: Any, night_offset: float = 0.0, pool: bool = True) -> None:
        self.model, self.night_offset, self.pool = model, night_offset, pool
        self.offsets: dict[tuple[str, str], float] = {}
        #: per (device, person, period), where the votes name their voter
        self.people: dict[tuple[str, str, str], float] = {}
        #: per device, the person who voted last (among the votes learned)
        self.last_voter: dict[str, str] = {}

    def learn(self, votes: Any) -> None:
        """Learn from votes (``device_id``, ``value``, local ``hour``, the comfort columns; see
        :func:`skynet.control._features.vote_row`). With ``pool`` the offsets are replaced by
        those of these votes; otherwise the offsets of their devices are."""
        found, people = people_offsets(self.model, votes, pool=self.pool)
        last = _last_voters(votes)
        if self.pool:
            self.offsets, self.people, self.last_voter = found, people, last
            return
        devices = set(votes["device_id"].astype(str)) if len(votes) else set()
        self.offsets = {k: v for k, v in self.offsets.items() if k[0] not in devices}
        self.offsets.update(found)
        self.people = {k: v for k, v in self.people.items() if k[0] not in devices}
        self.people.update(people)
        self.last_voter = {k: v for k, v in self.last_voter.items() if k not in devices}
        self.last_voter.update(last)

    def knows(self, device_id: str) -> bool:
        """Whether votes of ``device_id`` were learned."""
        return any(key[0] == device_id for key in self.offsets)

    def offset(
        self, device_id: str, hour: float, night: bool = True, people: Sequence[str] | None = None
    ) -> float | None:
        """The personal offset at ``device_id`` and local ``hour`` (None: nothing known).

        Args:
            device_id: the device.
            hour: local hour (its period of the day picks the offsets).
            night: add the night offset in the night period (what a decision uses).
            people: the user ids of the people present, when known: the mean of their offsets
                (those known). None or empty: the person who voted last on the device, else the
                device's offset (its typical person), else the pooled one.
        """
        period = period_of_day(hour)
        who = list(people) if people else [self.last_voter[device_id]] if device_id in self.last_voter else []
        known = [self.people[(device_id, u, period)] for u in who if (device_id, u, period) in self.people]
        if not known:
            return offset_for(self.offsets, device_id, hour, self.night_offset if night else 0.0)
        found = sum(known) / len(known)
        return found + self.night_offset if night and period == "night" else found


def _last_voters(votes: Any) -> dict[str, str]:
    """Per device of ``votes``, the ``user_id`` of its newest vote that names one."""
    if votes is None or len(votes) == 0 or "user_id" not in votes:
        return {}
    named = votes[votes["user_id"].notna()]
    if "timestamp" in named:
        named = named.sort_values("timestamp", kind="stable")
    return {str(d): str(u) for d, u in zip(named["device_id"], named["user_id"], strict=True)}
