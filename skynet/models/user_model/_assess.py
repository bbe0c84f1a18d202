"""How well personalization works on devices a model never saw (parts of :func:`evaluate`).

Three measures, each on a held-out device's votes with the population model's locations:

- *online*: every vote predicted from the votes before it in its device (its person's and the
  others'), then added to the :class:`~._people.Ledger`; what a user of the product gets.
- *person curve*: people with more than ``max(counts)`` votes; the votes after their
  ``max(counts)``-th are scored after personalizing with their first ``n`` votes (the same rows
  for every ``n``), alone and with every other vote of their device as well, beside the
  population model on the same rows.
- *offset recovery* (:func:`offset_recovery`): simulated people's true comfort offsets against
  the offsets the model finds from their votes.

And the fixed hold-out: :func:`holdout_devices` picks devices by a hash of their id, stratified
so the held-out share of devices with people of many votes is the share asked for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from skynet.models.user_model._ordinal import VOTES
from skynet.models.user_model._people import Ledger, as_user

__all__ = ["holdout_devices", "online_shifts", "person_curve", "offset_recovery", "median_vote"]


def median_vote(proba: np.ndarray) -> np.ndarray:
    """The median vote of each row of probabilities (the point estimate with the least MAE)."""
    return VOTES[np.argmax(np.cumsum(proba, axis=1) >= 0.5 - 1e-9, axis=1)]


def holdout_devices(
    frame: pd.DataFrame, share: float, min_votes: int = 20, salt: str = "skynet-holdout"
) -> set[str]:
    """A fixed ``share`` of the devices, chosen by the sha256 of ``salt:device`` (not by any result).

    Devices where someone gave at least ``min_votes`` votes and the others are ranked by the
    hash separately and every ``round(1/share)``-th of each is held out, so both kinds are
    held out in that proportion.
    """
    if share <= 0:
        return set()
    devices = frame["device_id"].astype(str)
    rich: set[str] = set()
    if "user_id" in frame:
        labelled = frame[frame["user_id"].notna()]
        sizes = labelled.groupby([labelled["device_id"].astype(str), labelled["user_id"].astype(str)]).size()
        rich = set(sizes[sizes >= min_votes].index.get_level_values(0))
    table = pd.DataFrame({"device": pd.unique(devices)})
    table["rich"] = table["device"].isin(rich)
    table["hash"] = [hashlib.sha256(f"{salt}:{d}".encode()).hexdigest() for d in table["device"]]
    table = table.sort_values(["rich", "hash"]).reset_index(drop=True)
    step = max(1, int(round(1.0 / share)))
    rank = table.groupby("rich").cumcount()
    return set(table.loc[rank % step == 0, "device"])


def _keys(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    devices = frame["device_id"].astype(str).to_numpy()
    users = frame["user_id"].to_numpy(dtype=object) if "user_id" in frame else np.full(len(frame), None)
    return devices, np.array([as_user(u) for u in users], dtype=object)


def online_shifts(ledger: Ledger, frame: pd.DataFrame, residuals: np.ndarray) -> np.ndarray:
    """Each vote's shift from the votes before it (``frame`` in time order within each device).

    Every vote is first predicted from ``ledger`` as it stands, then added to it.
    """
    devices, users = _keys(frame)
    temperature = frame["temperature"].to_numpy(dtype=float)
    shift = np.empty(len(frame))
    for i in range(len(frame)):
        shift[i] = ledger.params(devices[i], users[i]).shift(temperature[i])
        ledger.add(devices[i], users[i], temperature[i], residuals[i])
    return shift


def person_curve(
    new_ledger: Any,
    frame: pd.DataFrame,
    residuals: np.ndarray,
    loc_proba: Any,
    counts: Sequence[int],
    aim_votes: int,
) -> pd.DataFrame:
    """Per person with more than ``max(counts)`` votes and per ``n``: sums of absolute errors.

    Args:
        new_ledger: makes an empty :class:`Ledger` of the model's prior.
        frame: the held-out votes, in time order within each device.
        residuals: vote minus the population model's expected vote, per row.
        loc_proba: ``(rows, shift) -> probabilities`` of the population model shifted.
        counts: history sizes ``n``.
        aim_votes: people with at least this many votes are also flagged (``aim``).

    Returns:
        One row per person and ``n``: ``n_feedback``, ``aim``, ``rows`` and the summed absolute
        errors of the median and mean vote: personalized with the person's ``n`` votes only
        (``ae_median``, ``ae_mean``), with the device's other votes too (``ae_median_device``),
        and not personalized (``ae_median0``, ``ae_mean0``).
    """
    devices, users = _keys(frame)
    temperature = frame["temperature"].to_numpy(dtype=float)
    y = frame["value"].to_numpy(dtype=float)
    top = max(counts)
    out = []
    labelled = pd.Series(np.flatnonzero(users != None))  # noqa: E711 - an object array
    for (device, user), index in labelled.groupby([devices[labelled], users[labelled]], sort=True):
        rows = index.to_numpy()
        if len(rows) <= top:
            continue
        scored = rows[top:]
        others = np.flatnonzero((devices == device) & (users != user))
        alone, with_device = new_ledger(), new_ledger()
        for i in others:
            with_device.add(device, users[i], temperature[i], residuals[i])
        base = loc_proba(scored, 0.0)
        done = 0
        for n in sorted(counts):
            for i in rows[done:n]:
                alone.add(device, user, temperature[i], residuals[i])
                with_device.add(device, user, temperature[i], residuals[i])
            done = n
            own = loc_proba(scored, alone.params(device, user).shift(temperature[scored]))
            shared = loc_proba(scored, with_device.params(device, user).shift(temperature[scored]))
            out.append({
                "n_feedback": n, "aim": len(rows) >= aim_votes, "rows": len(scored),
                "ae_median": np.abs(median_vote(own) - y[scored]).sum(),
                "ae_mean": np.abs(own @ VOTES - y[scored]).sum(),
                "ae_median_device": np.abs(median_vote(shared) - y[scored]).sum(),
                "ae_median0": np.abs(median_vote(base) - y[scored]).sum(),
                "ae_mean0": np.abs(base @ VOTES - y[scored]).sum(),
            })  # fmt: skip
    columns = [
        "n_feedback",
        "aim",
        "rows",
        "ae_median",
        "ae_mean",
        "ae_median_device",
        "ae_median0",
        "ae_mean0",
    ]
    return pd.DataFrame(out, columns=columns)


def summarize_person_curve(parts: pd.DataFrame) -> list[dict[str, Any]]:
    """Person-curve rows (one per ``n``): MAEs over all people, and over the ``aim`` people."""
    rows = []
    for n, part in parts.groupby("n_feedback", sort=True):
        row: dict[str, Any] = {"n_feedback": int(n)}
        for label, sub in (("", part), ("aim_", part[part["aim"]])):
            total = max(int(sub["rows"].sum()), 1)
            row[f"{label}people"] = int(len(sub))
            row[f"{label}rows"] = int(sub["rows"].sum())
            row[f"{label}mae_median"] = float(sub["ae_median"].sum() / total)
            row[f"{label}mae_median_no_feedback"] = float(sub["ae_median0"].sum() / total)
            row[f"{label}gain"] = float(1.0 - sub["ae_median"].sum() / max(sub["ae_median0"].sum(), 1e-12))
            if not label:
                row["mae_median_with_device"] = float(sub["ae_median_device"].sum() / total)
                row["mae_mean"] = float(sub["ae_mean"].sum() / total)
                row["mae_mean_no_feedback"] = float(sub["ae_mean0"].sum() / total)
        rows.append(row)
    return rows


def offset_recovery(
    new_ledger: Any,
    frame: pd.DataFrame,
    residuals: np.ndarray,
    truth: dict[str, float],
    counts: Sequence[int] = (5, 10, 20),
) -> pd.DataFrame:
    """Per known person of ``frame``: their true offset and the offset found from their votes.

    Args:
        new_ledger: makes an empty :class:`Ledger` of the model's prior.
        frame: held-out votes (``device_id``, ``user_id``, ``temperature``), time-ordered.
        residuals: vote minus the population model's expected vote, per row.
        truth: user id -> true comfort offset.
        counts: also the offset found from each person's first ``n`` votes (with every vote
            of the others in the device).

    Returns:
        One row per person: ``user_id``, ``device_id``, ``votes``, ``true``, ``found`` (all
        their votes), ``found_<n>`` and ``device`` (the device's offset from the same votes
        with the users ignored: what a model of devices, not people, gives everyone there).
    """
    devices, users = _keys(frame)
    temperature = frame["temperature"].to_numpy(dtype=float)
    out = []
    for device in pd.unique(devices):
        rows = np.flatnonzero(devices == device)
        full, anonymous = new_ledger(), new_ledger()
        for i in rows:
            full.add(device, users[i], temperature[i], residuals[i])
            anonymous.add(device, None, temperature[i], residuals[i])
        per_device = anonymous.params(device).offset  # what a model of devices, not people, finds
        for user in full.people(device):
            if user not in truth:
                continue
            own = rows[users[rows] == user]
            others = rows[users[rows] != user]
            record = {"user_id": user, "device_id": device, "votes": len(own), "true": float(truth[user]),
                      "found": full.params(device, user).offset, "device": per_device}  # fmt: skip
            for n in counts:
                ledger = new_ledger()
                for i in [*others, *own[:n]]:
                    ledger.add(device, users[i], temperature[i], residuals[i])
                record[f"found_{n}"] = ledger.params(device, user).offset if len(own) >= n else np.nan
            out.append(record)
    return pd.DataFrame(out)


def summarize_recovery(found: pd.DataFrame, counts: Sequence[int] = (5, 10, 20)) -> list[dict[str, Any]]:
    """Correlation, RMSE and bias of found vs true offsets (all votes, first ``n``, per device, none)."""
    rows = []
    columns = [("all votes", "found"), *((f"first {n} votes", f"found_{n}") for n in counts),
               ("per device (users ignored)", "device")]  # fmt: skip
    for label, column in columns:
        sub = found[[column, "true"]].dropna() if column in found else pd.DataFrame(columns=[column, "true"])
        if len(sub) < 3:
            continue
        err = sub[column].to_numpy() - sub["true"].to_numpy()
        rows.append({
            "estimate": label, "people": int(len(sub)),
            "correlation": float(np.corrcoef(sub[column], sub["true"])[0, 1]),
            "rmse": float(np.sqrt(np.mean(err**2))), "bias": float(np.mean(err)),
            "rmse_no_personalization": float(np.sqrt(np.mean(sub["true"].to_numpy() ** 2))),
        })  # fmt: skip
    return rows
