"""The personalization methods of :class:`~._model.UserModel` (a mixin: they need its
``predict``, ``predict_one``, ``people_`` and ``personal_``).

A controller keeps a :class:`~._people.Ledger` per device (or one for all) from
:meth:`PersonalMixin.ledger`, feeds it each new vote with :meth:`PersonalMixin.observe` (O(1)),
and asks it for the :class:`~._people.PersonalParams` of the people present; or it asks
:meth:`PersonalMixin.personal_params` for everyone in a history at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from skynet.errors import DataError
from skynet.models.user_model._people import Ledger, PersonalParams, as_user, from_summary

__all__ = ["PersonalMixin"]


class PersonalMixin:
    """Personal parameters from feedback histories, for :class:`~._model.UserModel`."""

    people_: Any
    personal_: dict[str, Any]

    def ledger(self, history: pd.DataFrame | None = None) -> Ledger:
        """A :class:`Ledger` of this model's prior holding ``history``'s votes.

        Keep it and feed it each new vote with :meth:`observe` (O(1) a vote) rather than
        recomputing from the whole history.
        """
        self.check_is_fitted()  # type: ignore[attr-defined]
        ledger = Ledger(self.people_)
        if history is None or not len(history):
            return ledger
        if "value" not in history or "device_id" not in history:
            raise DataError("feedback history needs the columns 'device_id' and 'value'")
        y = pd.to_numeric(history["value"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        keep = np.isfinite(y)
        history, y = history.loc[keep], y[keep]
        if len(history):
            users = history["user_id"] if "user_id" in history else [None] * len(history)
            temperature = pd.to_numeric(history["temperature"], errors="coerce").to_numpy(dtype=float)
            residual = y - self.predict(history, personalize=False)  # type: ignore[attr-defined]
            ledger.add_many(history["device_id"], users, temperature, residual)
        return ledger

    def observe(self, ledger: Ledger, row: Mapping[str, Any], vote: float) -> None:
        """Add one vote (its context as a dict with ``device_id``, ``user_id``) to ``ledger``."""
        expected = self.predict_one(row, offset=PersonalParams())  # type: ignore[attr-defined]
        ledger.add(
            str(row.get("device_id")), as_user(row.get("user_id")), float(row["temperature"]), vote - expected
        )

    def personal_params(self, history: pd.DataFrame) -> dict[tuple[str, str | None], PersonalParams]:
        """Per device in ``history`` (key ``(device, None)``: its typical person) and per person
        in it (key ``(device, user)``): the posterior :class:`PersonalParams`."""
        ledger = self.ledger(history)
        out: dict[tuple[str, str | None], PersonalParams] = {}
        for device in ledger.devices():
            out[(device, None)] = ledger.params(device)
            for user in ledger.people(device):
                out[(device, user)] = ledger.params(device, user)
        return out

    def personal_offsets(self, history: pd.DataFrame) -> dict[str, tuple[float, int]]:
        """Per device in ``history``: (offset of its typical person at the reference
        temperature, votes used); see :meth:`personal_params` for people and slopes."""
        ledger = self.ledger(history)
        return {d: (p.offset, p.n) for d in ledger.devices() for p in [ledger.params(d)]}

    def _lookup(self, history: pd.DataFrame | None) -> Callable[[str, str | None], PersonalParams]:
        """``(device, user) -> PersonalParams``: from ``history`` for its devices, else from training."""
        ledger = self.ledger(history) if history is not None and len(history) else None
        known = set(ledger.devices()) if ledger is not None else set()

        def lookup(device: str, user: str | None) -> PersonalParams:
            if ledger is not None and device in known:
                return ledger.params(device, user)
            return from_summary(self.personal_, device, user)

        return lookup
