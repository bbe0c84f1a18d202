"""Application functions of the user comfort model: train, evaluate, predict.

They read comfort frames through :mod:`skynet.api.data`, register trained models (artifact in
``models.store``, version in the registry, training frame materialised under
``models.datasets``: :func:`skynet.api.models.register_trained`) and write evaluation reports
under ``models.reports``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from skynet.api._context import reports_path
from skynet.api.data import device_history, latest_context, load_comfort_frame
from skynet.api.models import load_trained, register_trained, select_training_frame
from skynet.config import Settings
from skynet.data import PREDICT_RANGES, validated
from skynet.errors import DataError, brief

__all__ = ["train", "evaluate", "predict", "load", "MODEL_TYPE"]

MODEL_TYPE = "user_model"


def _bar(progress: bool, total: int, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, disable=None if progress else True, leave=False)


def train(
    settings: Settings,
    device_ids: list[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    params: dict[str, Any] | None = None,
    frame: pd.DataFrame | None = None,
    progress: bool = True,
    *,
    dataset: str | Path | None = None,
    holdout_days: float = 0.0,
    alias: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """Train the user model on the store's votes, save it in the artifact store and register it.

    Args:
        settings: the effective configuration (``models.seed`` seeds the model).
        device_ids, start, end: which votes to learn from (default all).
        params: UserModel hyper-parameters overriding the defaults.
        frame: a comfort frame to learn from instead of the store's.
        progress: show progress on stderr.
        dataset: a materialised data set (parquet) to learn from instead: exactly the rows a
            registered model was trained on (its lineage names the file).
        holdout_days: leave the last days before ``end`` out (the promotion gate's window).
        alias: point this alias (e.g. ``candidate``) at the new model.

    Returns:
        The model's name and its metrics (out-of-fold on the training devices).

    Raises:
        DataError: no votes in that selection, bad data, or an unreadable data set.
    """
    from skynet.models.user_model import UserModel

    with _bar(progress, 3, "train user_model") as bar:
        bar.set_postfix_str("reading votes")
        data, selection, source = select_training_frame(
            settings, lambda lo, hi: load_comfort_frame(settings, device_ids, lo, hi), device_ids, start, end,
            frame, dataset, holdout_days,
        )  # fmt: skip
        bar.update()
        bar.set_postfix_str(f"fitting on {len(data)} votes")
        model = UserModel(**{"random_state": settings.models.seed, **(params or {})}).fit(data)
        bar.update()
        metrics = {
            **model.metrics_,
            "n_rows": model.training_["n_rows"],
            "n_devices": model.training_["n_devices"],
        }
        name = register_trained(settings, model, metrics, frame=data, selection=selection, dataset=source,
                                alias=alias)  # fmt: skip
        bar.update()
    return name, metrics


def load(settings: Settings, name: str | None = None) -> tuple[str, Any]:
    """(name, model) of a stored user model: ``name`` or the newest one.

    Raises:
        StorageError: no such model (or none at all); ModelError: the artifact is corrupt.
    """
    return load_trained(settings, MODEL_TYPE, name)


def evaluate(
    settings: Settings,
    folds: int = 5,
    device_ids: list[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    params: dict[str, Any] | None = None,
    frame: pd.DataFrame | None = None,
    progress: bool = True,
    holdout: float = 0.0,
    sim_homes: int = 0,
    sim_days: float = 30.0,
) -> dict[str, Any]:
    """Cross-validate the user model by device against PMV and "always comfy"; plot and save a report.

    Args:
        settings: the effective configuration (``models.reports`` receives the report).
        folds: device-grouped folds.
        device_ids, start, end: which votes (default all).
        params: UserModel hyper-parameters.
        frame: a comfort frame to evaluate on instead of the store's.
        progress: show a progress bar on stderr.
        holdout: share of the devices set aside and reported separately (0: none).
        sim_homes: also simulate this many homes (in memory, ``models.seed``) for ``sim_days``
            and measure how well their people's true comfort offsets are found (0: skip).
        sim_days: days simulated.

    Returns:
        ``table`` (one row per estimate), ``curve`` (device personalization), ``person_curve``,
        ``calibration``, ``calibration_online``, ``holdout`` (the same on the held-out devices),
        ``recovery`` (simulated offsets), ``plots`` and ``report`` (paths), ``n_rows``,
        ``n_devices``, ``n_people``, ``folds``, ``seconds``.

    Raises:
        DataError: no votes, bad data, a holdout share outside [0, 0.5], or fewer devices than folds.
    """
    from skynet.models.user_model import evaluate as run
    from skynet.models.user_model import plot_person_curve, plot_personalization, plot_predicted_vs_voted

    if not 0.0 <= holdout <= 0.5:
        raise DataError(f"holdout must be a share of the devices in [0, 0.5], got {holdout:g}")
    data = load_comfort_frame(settings, device_ids, start, end) if frame is None else frame
    result = run(data, folds=folds, params=params, random_state=settings.models.seed, progress=progress,
                 holdout=holdout)  # fmt: skip
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = reports_path(settings) / f"{MODEL_TYPE}-evaluation-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    plots = [
        str(plot_personalization(result.curve, folder / "personalization.png")),
        str(plot_person_curve(result.person_curve, folder / "person_curve.png")),
        str(plot_predicted_vs_voted(result.predictions, folder / "predicted_vs_voted.png")),
    ]
    if result.holdout is not None:
        plots.append(str(plot_person_curve(result.holdout.person_curve, folder / "holdout_person_curve.png")))
    out = result.as_dict()
    if sim_homes:
        out["recovery"] = _simulated_recovery(
            settings, sim_homes, sim_days, folds, params, progress, folder, plots
        )
    out["plots"] = plots
    out["report"] = str(_write_json(folder / "evaluation.json", out))
    return out


def _simulated_recovery(settings: Settings, homes: int, days: float, folds: int, params: dict[str, Any] | None,
                        progress: bool, folder: Path, plots: list[str]) -> dict[str, Any]:  # fmt: skip
    """Simulate homes in memory and compare their people's true comfort offsets with the found ones."""
    from tqdm import tqdm

    from skynet.data import comfort_frame
    from skynet.domain import Device, Feedback, SensorReading, Weather
    from skynet.models.user_model import plot_offset_recovery, recover_offsets
    from skynet.sim import simulate_fleet

    if homes < folds:
        raise DataError(f"{homes} simulated homes cannot be split into {folds} folds")
    seed = settings.models.seed
    with tqdm(total=int(round(days * 1440)), unit="min", desc="simulate", disable=not progress or None,
              leave=False) as bar:  # fmt: skip
        sim = simulate_fleet(
            homes, days, seed, keep_truth=False, progress=lambda _s, done, _t: bar.update(done - bar.n)
        )
    votes = comfort_frame(
        sim.frame(Feedback), sim.frame(SensorReading), sim.frame(Weather), sim.frame(Device)
    )
    truth = {f"{device}-u{p}": float(offset) for device, offsets in zip(sim.params["device_id"],
             sim.params["comfort_offsets"], strict=True) for p, offset in enumerate(offsets)}  # fmt: skip
    rows, found = recover_offsets(votes, truth, folds=folds, params=params, random_state=seed)
    plots.append(str(plot_offset_recovery(found, folder / "offset_recovery.png")))
    return {
        "homes": homes,
        "days": days,
        "seed": seed,
        "votes": len(votes),
        "people": len(found),
        "table": rows,
    }


def _write_json(path: Path, data: dict[str, Any]) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2, default=str)
    os.replace(tmp, path)
    return path


def _read_rows(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"input file {path} does not exist")
    suffixes = "".join(path.suffixes[-2:]).lower()
    try:
        if suffixes.endswith(".parquet") or suffixes.endswith(".pq"):
            return pd.read_parquet(path)
        if ".csv" in suffixes:
            return pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    raise DataError(f"{path}: expected a .csv, .csv.gz or .parquet file")


#: What ``conditions`` may name: a comfort frame's columns but the vote.
_CONDITION_KEYS = (
    "device_id",
    "user_id",
    "timestamp",
    *PREDICT_RANGES,
    "climate",
    "building_type",
    "cooling_type",
)


def _input_rows(
    settings: Settings,
    device_id: str | None,
    conditions: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
    path: str | Path | None,
) -> pd.DataFrame:
    """The rows to predict for, each value checked against what is physically possible.

    One check for every way in (options, a file, rows given over HTTP, the store's latest
    readings): a room at 500 °C or a metabolic rate of 0 is an error naming the field, the value
    and the range, never a confident answer. In a file or the store a missing optional value is
    unknown (the model imputes it); a value given as a condition must be a number.

    Raises:
        DataError: an unknown condition, or a value that is not a number, not a date or not
            possible; no rows.
    """
    if path is not None:
        rows = validated(_read_rows(path), where=str(path))
    elif conditions is not None:
        many = not isinstance(conditions, Mapping)
        listed: Sequence[Mapping[str, Any]] = [conditions] if isinstance(conditions, Mapping) else conditions
        given = [_condition(row, device_id) for row in listed]
        # a value one row gives and another does not is unknown in that row (imputed), as in a file
        rows = validated(pd.DataFrame(given), name_rows=many, missing_ok=many)
    else:
        rows = validated(latest_context(settings, str(device_id)), where=f"device {brief(device_id)}'s latest readings",
                         name_rows=False)  # fmt: skip
    if rows.empty:
        raise DataError("nothing to predict: no rows")
    return rows


def _condition(row: Mapping[str, Any], device_id: str | None) -> dict[str, Any]:
    """One row of conditions without its empty values, checked for unknown keys."""
    given = {key: value for key, value in dict(row).items() if value is not None}
    unknown = [key for key in given if key not in _CONDITION_KEYS]
    if unknown:
        raise DataError(f"unknown condition {brief(unknown[0])}; known: {', '.join(_CONDITION_KEYS)}")
    given.update({"device_id": device_id} if device_id else {})
    return given


def predict(
    settings: Settings,
    device_id: str | None = None,
    conditions: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    path: str | Path | None = None,
    model: str | None = None,
    *,
    loaded: tuple[str, Any] | None = None,
    user_id: str | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """Expected feedback and the probabilities of each vote, with the newest (or a named) model.

    Give one of: ``device_id`` alone (its latest readings and weather from the store,
    personalized with its stored votes), ``conditions`` (a dict of comfort-frame values, or a
    list of them; with ``device_id`` too, personalized with that device's votes) or ``path``
    (a CSV/Parquet comfort frame; devices seen in training get their learned offsets).
    ``loaded`` is a model already loaded, as ``(name, model)`` (the REST service's), used
    instead of ``model``.

    Returns:
        The model's name and one dict per row: the inputs used, ``expected`` (mean vote),
        ``median``, ``offset`` and ``p_-3`` … ``p_3``.

    Raises:
        DataError: nothing or too much to predict from, or bad input: an unknown condition, a
            value that is not a number or not a date, or one outside what is physically possible
            (:data:`skynet.data.PREDICT_RANGES`); StorageError: no model.
    """
    from skynet.models.user_model import VOTES

    given = [x is not None for x in (conditions, path)]
    if sum(given) > 1 or not (any(given) or device_id):
        raise DataError("predict needs exactly one of: a device id, conditions, or an input file")
    rows = _input_rows(settings, device_id, conditions, path)
    if user_id is not None:
        if not str(user_id).strip():
            raise DataError("--user: a person's id cannot be empty")
        rows = rows.assign(user_id=str(user_id))  # every row is this person's (a file's column included)
    name, user_model = loaded or load(settings, model)
    history = None
    if device_id:
        history = device_history(settings, device_id)
        history = history if len(history) else None
    proba = user_model.predict_proba(rows, history=history)
    expected = proba @ VOTES
    median = VOTES[np.argmax(np.cumsum(proba, axis=1) >= 0.5 - 1e-9, axis=1)]
    found = user_model.personal_params(history) if history is not None else {}
    out = []
    for i, row in enumerate(rows.drop(columns=["value"], errors="ignore").to_dict("records")):
        item = {k: _plain(v) for k, v in row.items() if not _missing(v)}
        params = _personal(user_model, found, row)
        item.update(expected=float(expected[i]), median=float(median[i]), offset=params.offset,
                    slope=params.slope, n_feedback=params.n, personal=params.level)  # fmt: skip
        item.update({f"p_{int(v)}": float(p) for v, p in zip(VOTES, proba[i], strict=True)})
        out.append(item)
    return name, out


def _personal(model: Any, found: dict[tuple[str, str | None], Any], row: dict[str, Any]) -> Any:
    """The personal parameters a row was predicted with: from the history, else from training."""
    from skynet.models.user_model._people import as_user, from_summary

    device, user = str(row.get("device_id")), as_user(row.get("user_id"))
    if (device, None) in found:
        return found.get((device, user), found[(device, None)])
    return from_summary(model.personal_, device, user)


def _missing(value: Any) -> bool:
    return (
        value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT or value is pd.NA
    )


def _plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value
