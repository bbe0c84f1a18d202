"""Personal comfort: each person's offset and temperature slope, shrunk towards their device and the fleet.

The population model gives every vote an expected value; a vote's *residual* ``r`` is the vote
minus that. Personalization is an empirical-Bayes linear model of the residuals::

    r = a + b (t - t_ref) + e          e ~ N(0, noise)
    (a, b) of person j in device d = mean + device effect + person effect
    device effect ~ N(0, device_cov),  person effect ~ N(0, person_cov)

``a`` is the person's offset at the reference temperature ``t_ref`` (vote units), ``b`` how
much more (or less) sharply than the population they feel a degree (vote units per °C). A vote
without a user counts as one vote of its own unknown person: it tells about the device, not
about anyone in particular. The hyper-parameters (:class:`PeoplePrior`) are learned by maximum
marginal likelihood on out-of-fold residuals (people of devices the population model never
saw). The posterior is exact and conjugate: a person's votes enter as sufficient statistics
(5 numbers), each person sends their device one Gaussian message, and adding a vote changes
one person's statistics and their device's sum of messages (:class:`Ledger`): O(1) per vote.

Fallbacks: a known person of a known device gets their own posterior; anyone else in a known
device gets the device's (the expected person there); an unknown device gets no shift (the
population model is calibrated across devices; the fleet mean is only the prior of a device
that has votes).

2 x 2 matrices are tuples ``(m00, m01, m10, m11)`` of floats or of numpy arrays (one matrix
per element), so the same few lines serve one vote at a time and every person at once.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from skynet.errors import DataError, brief

__all__ = [
    "PersonalParams",
    "PeoplePrior",
    "Ledger",
    "learn_prior",
    "from_summary",
    "row_shifts",
    "as_user",
    "MODES",
]

#: Personalization modes: offset and slope, offset only, none.
MODES = ("slope", "offset", "none")
_TINY = 1e-10  # variance of a parameter that is switched off


@dataclass(frozen=True)
class PersonalParams:
    """A person's (or a device's) comfort parameters: ``shift = offset + slope (t - reference)``.

    Attributes:
        offset: added to the population model's location at the reference temperature
            (vote units; positive: feels warmer than the population).
        slope: change of that shift per °C (positive: feels a degree more sharply on the
            warm side than the population).
        n: votes behind it (the person's own; for a device, all its votes).
        reference: the reference temperature (°C) of ``offset``.
        level: ``"person"``, ``"device"`` (the person is unknown: the device's typical
            person) or ``"fleet"`` (nothing known: no shift).
    """

    offset: float = 0.0
    slope: float = 0.0
    n: int = 0
    reference: float = 24.0
    level: str = "fleet"

    def shift(self, temperature: Any) -> Any:
        """The location shift at ``temperature`` (a number or an array, °C)."""
        return self.offset + self.slope * (np.asarray(temperature, dtype=float) - self.reference)


@dataclass
class PeoplePrior:
    """Learned hyper-parameters of the personal model (see the module docstring)."""

    mean: np.ndarray  # (2,) fleet offset and slope of the residuals
    device_cov: np.ndarray  # (2, 2)
    person_cov: np.ndarray  # (2, 2)
    noise: float  # residual variance of one vote
    reference: float  # °C
    mode: str = "slope"


# -- 2 x 2 algebra on tuples (floats or arrays) ------------------------------------------------
def _mm(p: tuple, q: tuple) -> tuple:
    return (p[0] * q[0] + p[1] * q[2], p[0] * q[1] + p[1] * q[3],
            p[2] * q[0] + p[3] * q[2], p[2] * q[1] + p[3] * q[3])  # fmt: skip


def _mv(p: tuple, v: tuple) -> tuple:
    return p[0] * v[0] + p[1] * v[1], p[2] * v[0] + p[3] * v[1]


def _inv(p: tuple) -> tuple[tuple, Any]:
    det = p[0] * p[3] - p[1] * p[2]
    return (p[3] / det, -p[1] / det, -p[2] / det, p[0] / det), det


def _plus_eye(p: tuple) -> tuple:
    return p[0] + 1.0, p[1], p[2], p[3] + 1.0


def _sub(p: tuple, q: tuple) -> tuple:
    return tuple(a - b for a, b in zip(p, q, strict=True))


def _add(p: tuple, q: tuple) -> tuple:
    return tuple(a + b for a, b in zip(p, q, strict=True))


def _message(A: tuple, b: tuple, S: tuple) -> tuple[tuple, tuple, Any, Any]:
    """A group's likelihood ``exp(-x'Ax/2 + b'x)`` of ``x + u``, ``u ~ N(0, S)``, integrated over ``u``.

    Returns the message to ``x`` (precision ``M = (I + A S)^-1 A``, information
    ``m = (I + A S)^-1 b``), ``log det(I + A S)`` and ``b' S (I + A S)^-1 b`` (for the marginal
    likelihood). ``A`` may be singular (one vote).
    """
    G, det = _inv(_plus_eye(_mm(A, S)))
    M, m = _mm(G, A), _mv(G, b)
    Sm = _mv(S, m)
    return M, m, det, b[0] * Sm[0] + b[1] * Sm[1]


def _posterior(m0: tuple, S0: tuple, A: tuple, b: tuple) -> tuple[tuple, tuple]:
    """Mean and covariance of ``N(m0, S0)`` updated with information ``(A, b)`` (A may be singular)."""
    G, _ = _inv(_plus_eye(_mm(S0, A)))
    C = _mm(G, S0)
    am = _mv(A, m0)
    d = _mv(C, (b[0] - am[0], b[1] - am[1]))
    return (m0[0] + d[0], m0[1] + d[1]), C


def _tuple(matrix: np.ndarray) -> tuple:
    return tuple(float(x) for x in np.asarray(matrix, dtype=float).ravel())


# -- learning the prior --------------------------------------------------------------------------
def _cov(a: float, b: float, c: float) -> np.ndarray:
    low = np.array([[math.exp(a), 0.0], [b, math.exp(c)]])
    return low @ low.T


def _unpack(theta: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    if mode == "slope":
        mean = theta[0:2]
        device, person = _cov(*theta[2:5]), _cov(*theta[5:8])
        noise = math.exp(theta[8])
    else:  # offset only: 4 parameters, slopes switched off
        mean = np.array([theta[0], 0.0])
        device = np.diag([math.exp(2 * theta[1]), _TINY])
        person = np.diag([math.exp(2 * theta[2]), _TINY])
        noise = math.exp(theta[3])
    return mean, device, person, noise


@dataclass
class _Groups:
    """Per person (labelled user, or one anonymous vote): sufficient statistics, and their device."""

    A: tuple  # sum x x' with x = (1, t - t_ref), as 4 arrays
    b: tuple  # sum x r
    rr: np.ndarray
    n: np.ndarray
    device: np.ndarray  # device code of each group
    n_devices: int


def _groups(r: np.ndarray, z: np.ndarray, devices: np.ndarray, users: np.ndarray) -> _Groups:
    anonymous = pd.isna(users)
    key = pd.Series(devices.astype(str), dtype=object) + "\x1f" + pd.Series(users, dtype=object).astype(str)
    key[anonymous] = np.char.add("\x1e", np.arange(len(r)).astype(str))[anonymous]
    codes, _ = pd.factorize(key, sort=False)
    k = int(codes.max()) + 1 if len(codes) else 0

    def total(w: np.ndarray | None) -> np.ndarray:
        return np.bincount(codes, w, k)

    s1, sz, szz = total(None), total(z), total(z * z)
    device_codes, _ = pd.factorize(devices, sort=False)
    device_of = np.zeros(k, dtype=np.intp)
    device_of[codes] = device_codes
    return _Groups(A=(s1, sz, sz, szz), b=(total(r), total(r * z)), rr=total(r * r), n=s1,
                   device=device_of, n_devices=int(device_codes.max()) + 1 if len(device_codes) else 0)  # fmt: skip


def _neg_log_likelihood(theta: np.ndarray, g: _Groups, mode: str) -> float:
    """Minus the log marginal likelihood of the residuals (devices and people integrated out)."""
    mean, device, person, noise = _unpack(theta, mode)
    A = tuple(a / noise for a in g.A)
    b = tuple(v / noise for v in g.b)
    M, m, det, quad = _message(A, b, _tuple(person))
    const = -0.5 * g.rr / noise - 0.5 * g.n * math.log(2 * math.pi * noise) - 0.5 * np.log(det) + 0.5 * quad

    def per_device(values: Any) -> np.ndarray:
        return np.bincount(g.device, values, g.n_devices)

    Md = tuple(per_device(x) for x in M)
    md = tuple(per_device(x) for x in m)
    mu = (float(mean[0]), float(mean[1]))
    Mmu = _mv(Md, mu)
    lin = (md[0] - Mmu[0], md[1] - Mmu[1])
    total = per_device(const) + md[0] * mu[0] + md[1] * mu[1] - 0.5 * (mu[0] * Mmu[0] + mu[1] * Mmu[1])
    _, _, det_d, quad_d = _message(Md, lin, _tuple(device))
    total = total - 0.5 * np.log(det_d) + 0.5 * quad_d
    return -float(total.sum())


def learn_prior(
    residuals: np.ndarray,
    temperatures: np.ndarray,
    devices: np.ndarray,
    users: np.ndarray | None,
    mode: str = "slope",
) -> PeoplePrior:
    """Hyper-parameters by maximum marginal likelihood (empirical Bayes).

    Args:
        residuals: votes minus the population model's expected votes, out of fold.
        temperatures: indoor air temperature of each vote (°C).
        devices: device of each vote.
        users: user of each vote (None/NaN: unknown), or None for no users at all.
        mode: ``"slope"`` (offset and slope), ``"offset"`` (offset only) or ``"none"``.

    Returns:
        The prior; with ``mode="none"`` (or no residuals) one that never shifts anything.
    """
    from scipy.optimize import minimize

    r = np.asarray(residuals, dtype=float)
    t = np.asarray(temperatures, dtype=float)
    reference = float(np.round(np.median(t), 1)) if len(t) else 24.0
    if mode == "none" or len(r) < 2:
        zero = np.diag([_TINY, _TINY])
        return PeoplePrior(np.zeros(2), zero, zero.copy(), 1.0, reference, "none")
    users = (
        np.full(len(r), None, dtype=object)
        if users is None
        else np.array([as_user(u) for u in users], dtype=object)
    )
    g = _groups(r, t - reference, np.asarray(devices), users)
    var = float(np.var(r)) or 1.0
    if mode == "slope":
        theta0 = np.array([0.0, 0.0, math.log(0.3), 0.0, math.log(0.05), math.log(0.4), 0.0,
                           math.log(0.05), math.log(0.7 * var)])  # fmt: skip
        bounds = [(-2, 2), (-0.5, 0.5)] + [(-9, 2), (-1, 1), (-9, 1)] * 2 + [(-5, 3)]
    else:
        theta0 = np.array([0.0, math.log(0.3), math.log(0.4), math.log(0.7 * var)])
        bounds = [(-2, 2), (-9, 2), (-9, 2), (-5, 3)]
    found = minimize(_neg_log_likelihood, theta0, args=(g, mode), method="L-BFGS-B", bounds=bounds)
    mean, device, person, noise = _unpack(found.x, mode)
    return PeoplePrior(mean.copy(), device, person, float(noise), reference, mode)


# -- the online posterior ------------------------------------------------------------------------
class _Person:
    __slots__ = ("A", "b", "M", "m", "n")

    def __init__(self) -> None:
        self.A: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)
        self.b: tuple[float, ...] = (0.0, 0.0)
        self.M: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)
        self.m: tuple[float, ...] = (0.0, 0.0)
        self.n = 0


class _Device:
    __slots__ = ("M", "m", "n", "people")

    def __init__(self) -> None:
        self.M: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)
        self.m: tuple[float, ...] = (0.0, 0.0)
        self.n = 0
        self.people: dict[str, _Person] = {}


class Ledger:
    """The posterior of devices and people given their votes, updated in O(1) per vote.

    Per person: the sufficient statistics of their votes (``sum x x'``, ``sum x r``,
    ``x = (1, t - reference)``) and the message they send their device; per device: the sum of
    its people's messages (and of its anonymous votes'). A vote changes one person and one
    device; :meth:`params` reads a posterior in a few dozen float operations.
    """

    def __init__(self, prior: PeoplePrior) -> None:
        self.prior = prior
        self._mu = (float(prior.mean[0]), float(prior.mean[1]))
        self._D = _tuple(prior.device_cov)
        self._U = _tuple(prior.person_cov)
        self._devices: dict[str, _Device] = {}

    def __len__(self) -> int:
        """The number of votes held."""
        return sum(d.n for d in self._devices.values())

    def digest(self) -> str:
        """A short digest of the prior: a device's state only fits a ledger with the same one."""
        p = self.prior
        numbers = np.concatenate([p.mean, p.device_cov.ravel(), p.person_cov.ravel(), [p.noise, p.reference]])
        return hashlib.sha256(np.round(numbers, 12).tobytes() + p.mode.encode()).hexdigest()[:16]

    def device_state(self, device: str) -> dict[str, Any]:
        """One device's posterior as plain numbers (JSON-ready), e.g. for a worker's live state.

        Restore it with :meth:`set_device_state` on a ledger of the same model; after a
        retraining (another prior) rebuild it from the votes (``UserModel.ledger(history)``).
        """
        d = self._devices.get(device) or _Device()
        people = {u: {"A": list(p.A), "b": list(p.b), "M": list(p.M), "m": list(p.m), "n": p.n}
                  for u, p in d.people.items()}  # fmt: skip
        return {"prior": self.digest(), "M": list(d.M), "m": list(d.m), "n": d.n, "people": people}

    def set_device_state(self, device: str, state: dict[str, Any]) -> None:
        """Replace one device's posterior by a :meth:`device_state`.

        Raises:
            DataError: the state was made with another prior, or is not a device state.
        """
        if state.get("prior") != self.digest():
            raise DataError(
                f"device state of {brief(device)} was made with another model's prior: rebuild it"
            )
        try:
            d = _Device()
            d.M, d.m, d.n = tuple(map(float, state["M"])), tuple(map(float, state["m"])), int(state["n"])
            for user, item in state["people"].items():
                p = d.people[str(user)] = _Person()
                p.A, p.b = tuple(map(float, item["A"])), tuple(map(float, item["b"]))
                p.M, p.m, p.n = tuple(map(float, item["M"])), tuple(map(float, item["m"])), int(item["n"])
                if (len(p.A), len(p.b), len(p.M), len(p.m)) != (4, 2, 4, 2):
                    raise ValueError("a person's statistics are 4 + 2 + 4 + 2 numbers")
            if (len(d.M), len(d.m)) != (4, 2):
                raise ValueError("a device's statistics are 4 + 2 numbers")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(f"not a device state of a comfort ledger: {brief(state)} ({exc})") from None
        self._devices[device] = d

    def add(self, device: str, user: str | None, temperature: float, residual: float) -> None:
        """One vote: its device, user (None: unknown), temperature (°C) and residual."""
        if not (math.isfinite(temperature) and math.isfinite(residual)):
            raise DataError(
                f"a vote needs a temperature and a residual, got {temperature!r} and {residual!r}"
            )
        if self.prior.mode == "none":
            return
        z = float(temperature) - self.prior.reference
        s = self.prior.noise
        A, b = (1.0 / s, z / s, z / s, z * z / s), (residual / s, residual * z / s)
        d = self._devices.get(device)
        if d is None:
            d = self._devices[device] = _Device()
        d.n += 1
        if user is None:
            M, m, _, _ = _message(A, b, self._U)
            d.M, d.m = _add(d.M, M), _add(d.m, m)
            return
        p = d.people.get(user)
        if p is None:
            p = d.people[user] = _Person()
        p.A, p.b, p.n = _add(p.A, A), _add(p.b, b), p.n + 1
        M, m, _, _ = _message(p.A, p.b, self._U)
        d.M, d.m = _add(_sub(d.M, p.M), M), _add(_sub(d.m, p.m), m)
        p.M, p.m = M, m

    def add_many(self, devices: Iterable[Any], users: Iterable[Any], temperatures: Iterable[float],
                 residuals: Iterable[float]) -> Ledger:  # fmt: skip
        """:meth:`add` for each vote, in order; returns self."""
        for device, user, t, r in zip(devices, users, temperatures, residuals, strict=True):
            self.add(str(device), as_user(user), float(t), float(r))
        return self

    def _device_posterior(self, M: tuple, m: tuple) -> tuple[tuple, tuple]:
        Mmu = _mv(M, self._mu)
        delta, C = _posterior((0.0, 0.0), self._D, M, (m[0] - Mmu[0], m[1] - Mmu[1]))
        return (self._mu[0] + delta[0], self._mu[1] + delta[1]), C

    def params(self, device: str, user: str | None = None) -> PersonalParams:
        """The posterior mean of a person (or of the device's typical person, or the fleet's)."""
        d = self._devices.get(device)
        reference = self.prior.reference
        if d is None:
            return PersonalParams(reference=reference, level="fleet")
        p = d.people.get(user) if user is not None else None
        if p is None:
            (a, b), _ = self._device_posterior(d.M, d.m)
            return PersonalParams(float(a), float(b), d.n, reference, "device")
        mean, C = self._device_posterior(_sub(d.M, p.M), _sub(d.m, p.m))  # the others' votes
        (a, b), _ = _posterior(mean, _add(C, self._U), p.A, p.b)
        return PersonalParams(float(a), float(b), p.n, reference, "person")

    def devices(self) -> list[str]:
        """The devices with votes."""
        return list(self._devices)

    def people(self, device: str) -> list[str]:
        """The known users of a device."""
        d = self._devices.get(device)
        return [] if d is None else list(d.people)

    def summary(self) -> dict[str, Any]:
        """Every device's and person's ``[offset, slope, n]`` as plain dicts (learned state)."""
        devices, people = {}, {}
        for name in self._devices:
            p = self.params(name)
            devices[name] = [p.offset, p.slope, p.n]
            people[name] = {u: list(_triple(self.params(name, u))) for u in self._devices[name].people}
        return {"reference": self.prior.reference, "devices": devices, "people": people}


def _triple(p: PersonalParams) -> tuple[float, float, int]:
    return p.offset, p.slope, p.n


def as_user(user: Any) -> str | None:
    """A user id as a string, or None for a missing one (None, NaN, NA, empty)."""
    if user is None or user is pd.NA or (isinstance(user, float) and math.isnan(user)):
        return None
    text = str(user)
    return text or None


def from_summary(summary: dict[str, Any], device: str, user: str | None) -> PersonalParams:
    """The params of ``(device, user)`` in a :meth:`Ledger.summary`, with the same fallbacks."""
    reference = float(summary.get("reference", 24.0))
    found = summary.get("people", {}).get(device, {}).get(user) if user is not None else None
    if found is not None:
        return PersonalParams(float(found[0]), float(found[1]), int(found[2]), reference, "person")
    found = summary.get("devices", {}).get(device)
    if found is not None:
        return PersonalParams(float(found[0]), float(found[1]), int(found[2]), reference, "device")
    return PersonalParams(reference=reference, level="fleet")


def row_shifts(
    lookup: Callable[[str, str | None], PersonalParams],
    devices: np.ndarray,
    users: np.ndarray | None,
    temperatures: np.ndarray,
) -> np.ndarray:
    """Each row's location shift: the params of its (device, user), at its temperature.

    Args:
        lookup: ``(device, user or None) -> PersonalParams`` (with its fallbacks).
        devices: device of each row.
        users: user of each row (None/NaN: unknown), or None.
        temperatures: °C of each row.
    """
    n = len(devices)
    if n == 0:
        return np.zeros(0)
    device = pd.Series(np.asarray(devices), dtype=object).astype(str)
    if users is None:
        user = pd.Series("", index=device.index)
    else:
        user = pd.Series(np.asarray(users, dtype=object), dtype=object)
        user = user.where(user.notna(), "").astype(str)  # missing -> "" (unknown, as as_user says)
    codes, keys = pd.factorize(device + "\x1f" + user, sort=False)
    first = np.zeros(len(keys), dtype=np.intp)
    first[codes[::-1]] = np.arange(n - 1, -1, -1)  # the first row of each (device, user)
    found = [
        lookup(d, u or None) for d, u in zip(device.to_numpy()[first], user.to_numpy()[first], strict=True)
    ]
    offset = np.array([p.offset for p in found])[codes]
    slope = np.array([p.slope for p in found])[codes]
    reference = np.array([p.reference for p in found])[codes]
    return offset + slope * (np.asarray(temperatures, dtype=float) - reference)
