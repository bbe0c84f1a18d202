"""Hyper-parameters from the command line and search grids, checked against the model's own.

- :func:`parse_params`: ``--param key=value`` (repeatable; values read as YAML scalars or
  lists: ``0.05``, ``true``, ``[64, 32]``) over a ``--params params.yml`` mapping.
- :func:`check_params`: every name must be a parameter of the model type (one line naming the
  unknown one and the known ones) and every value of the kind its default is.
- :func:`read_grid` / :class:`SearchSpec`: a search's ``grid.yml``::

      kind: grid              # grid (every combination), random (``trials`` draws) or tpe (Optuna's TPE)
      metric: mae             # what picks the best point (default: mae)
      folds: 3                # device-grouped cross-validation folds
      trials: 16              # random and tpe
      batch: 4                # tpe: points in work at once (the first batch is drawn at random)
      seed: 0                 # random only: the draws (default models.seed)
      params:                 # the space
        max_iter: [50, 100]                          # values (random: one of them)
        learning_rate: {low: 0.02, high: 0.2, log: true}   # random only: a range
        max_leaf_nodes: {low: 15, high: 63, int: true}
      fixed: {min_samples_leaf: 20}                  # the same for every point
"""

from __future__ import annotations

import inspect
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skynet.errors import DataError, brief

__all__ = [
    "parse_params",
    "check_params",
    "read_grid",
    "SearchSpec",
    "METRICS",
    "MAX_POINTS",
    "lower_is_better",
]

#: The metrics a search can pick the best point by, per model type (what its cross-validation reports).
METRICS = {
    "user_model": ("mae", "rmse", "bias", "exact_acc", "acc_3class", "f1_3class"),
    "estimation": ("mae", "rmse", "mae_humidity", "rmse_humidity"),
}
#: At most this many points in one search (a grid grows fast).
MAX_POINTS = 1000
_GRID_KEYS = {"kind", "metric", "folds", "trials", "batch", "seed", "params", "fixed"}
#: Search kinds: every combination, seeded random draws, or Optuna's TPE planning as points end.
KINDS = ("grid", "random", "tpe")


def lower_is_better(metric: str) -> bool:
    """Whether smaller values of ``metric`` are better (``bias``: closer to 0 is)."""
    return metric in ("mae", "rmse", "bias", "mae_humidity", "rmse_humidity")


def badness(metric: str, value: float | None) -> tuple[bool, float]:
    """A sort key of a metric's values, best first (``bias``: closest to 0; no value: last)."""
    if value is None:
        return True, 0.0
    if metric == "bias":
        return False, abs(value)
    return False, value if lower_is_better(metric) else -value


def _defaults(model_type: str) -> dict[str, Any]:
    from skynet.models import model_class

    cls = model_class(model_type)
    return {p.name: p.default for p in inspect.signature(cls.__init__).parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}  # fmt: skip


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_value(model_type: str, name: str, value: Any, default: Any, where: str) -> Any:
    """``value`` if it is of the kind ``default`` is (a list for a tuple), else DataError."""
    shown = f"{where}{model_type} parameter {name} = {brief(value)}"
    if isinstance(default, bool):
        ok = isinstance(value, bool)
        kind = "true or false"
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
        kind = "a whole number"
    elif isinstance(default, float):
        ok = _is_number(value)
        kind = "a number"
    elif isinstance(default, (tuple, list)):
        ok = isinstance(value, (list, tuple)) and bool(value) and all(_is_number(v) for v in value)
        kind = "a list of numbers, e.g. [64, 32]"
    elif isinstance(default, str):
        ok = isinstance(value, str) or _is_number(value)
        kind = "text or a number"
    else:  # None: anything plain
        ok = value is None or isinstance(value, (str, bool)) or _is_number(value)
        kind = "a number, text, true/false or null"
    if not ok:
        raise DataError(f"{shown}: expected {kind} (the default is {default!r})")
    return list(value) if isinstance(value, tuple) else value


def check_params(model_type: str, params: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """The parameters, each a known parameter of ``model_type`` with a value of its kind.

    Raises:
        DataError: an unknown name (the message lists the known ones) or a value of the wrong kind.
    """
    import difflib

    known = _defaults(model_type)
    out = {}
    for name, value in params.items():
        if name not in known:
            guess = difflib.get_close_matches(str(name), list(known), n=1)
            hint = f"; did you mean {guess[0]}?" if guess else ""
            raise DataError(
                f"{where}unknown {model_type} parameter {brief(name, 60)} (known: {', '.join(known)}){hint}"
            )
        out[str(name)] = _check_value(model_type, str(name), value, known[name], where)
    return out


def _yaml_file(path: str | Path, what: str) -> Any:
    import yaml

    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{what} {file} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{what} {file} cannot be read ({type(exc).__name__})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}" if mark else str(file)
        raise DataError(
            f"{where}: not valid YAML ({getattr(exc, 'problem', None) or type(exc).__name__})"
        ) from None


def parse_params(
    model_type: str, pairs: Sequence[str] = (), path: str | Path | None = None
) -> dict[str, Any]:
    """Hyper-parameters from ``--params FILE`` (a YAML mapping) and ``--param key=value`` over it.

    Raises:
        DataError: a pair without ``=``, a value that is not YAML, a file that is not a mapping,
            or a parameter the model does not have (see :func:`check_params`).
    """
    import yaml

    params: dict[str, Any] = {}
    if path is not None:
        loaded = _yaml_file(path, "parameter file")
        if loaded is not None and not isinstance(loaded, dict):
            raise DataError(f"{path}: expected a mapping of parameter: value, got {type(loaded).__name__}")
        params.update(check_params(model_type, loaded or {}, f"{path}: "))
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip():
            raise DataError(f"--param {brief(pair)}: expected NAME=VALUE, e.g. learning_rate=0.05")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            raise DataError(
                f"--param {brief(pair)}: the value is not a number, text, true/false or [list]"
            ) from None
        params.update(check_params(model_type, {name.strip(): value}, "--param: "))
    return params


@dataclass(frozen=True)
class SearchSpec:
    """A checked search grid (see the module docstring)."""

    kind: str
    metric: str
    folds: int
    space: dict[str, Any]
    fixed: dict[str, Any] = field(default_factory=dict)
    trials: int = 10
    seed: int = 0
    batch: int = 4

    def points(self) -> list[dict[str, Any]]:
        """The points: every combination (grid) or ``trials`` seeded draws (random), in order
        (tpe: the first batch, drawn by :func:`skynet.api._tpe.plan`)."""
        names = sorted(self.space)
        if self.kind == "tpe":
            from skynet.api._tpe import plan

            return plan(self, [], [], self.batch)
        if self.kind == "grid":
            combos = itertools.product(*(self.space[n] for n in names))
            return [{**self.fixed, **dict(zip(names, combo, strict=True))} for combo in combos]
        import numpy as np

        rng = np.random.default_rng(self.seed)
        return [{**self.fixed, **{n: _draw(rng, self.space[n]) for n in names}} for _ in range(self.trials)]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "metric": self.metric, "folds": self.folds, "space": self.space,
                "fixed": self.fixed, "trials": self.trials, "seed": self.seed, "batch": self.batch}  # fmt: skip


def _draw(rng: Any, values: Any) -> Any:
    if isinstance(values, list):
        return values[int(rng.integers(len(values)))]
    low, high = float(values["low"]), float(values["high"])
    x = (
        float(math.exp(rng.uniform(math.log(low), math.log(high))))
        if values.get("log")
        else float(rng.uniform(low, high))
    )
    return int(round(x)) if values.get("int") else round(x, 6)


def _range(model_type: str, name: str, value: dict[str, Any], default: Any, where: str) -> dict[str, Any]:
    unknown = set(value) - {"low", "high", "log", "int"}
    at = f"{where}params.{name}"
    if unknown or not {"low", "high"} <= set(value):
        raise DataError(f"{at}: a range is {{low: X, high: Y}} with optional log: true, int: true")
    low, high = value["low"], value["high"]
    if not (_is_number(low) and _is_number(high) and low < high) or (value.get("log") and low <= 0):
        raise DataError(f"{at}: needs numbers low < high (and low > 0 with log: true), got {brief(value)}")
    integer = bool(value.get("int"))
    _check_value(model_type, name, int(low) if integer else float(low), default, f"{where}params: ")
    return {"low": low, "high": high, "log": bool(value.get("log")), "int": integer}


def read_grid(model_type: str, path: str | Path, seed: int = 0) -> SearchSpec:
    """The search a ``grid.yml`` describes, every name and value checked against the model's.

    Raises:
        DataError: the file is missing or not YAML, an unknown key or parameter, a value of the
            wrong kind, a range in a grid, an unknown metric, or more than :data:`MAX_POINTS` points.
    """
    data = _yaml_file(path, "grid file")
    where = f"{path}: "
    if not isinstance(data, dict):
        raise DataError(
            f"{where}expected a mapping with params: (and kind, metric, folds, trials, seed, fixed)"
        )
    unknown = sorted(set(map(str, data)) - _GRID_KEYS)
    if unknown:
        raise DataError(f"{where}unknown key {brief(unknown[0])} (known: {', '.join(sorted(_GRID_KEYS))})")
    kind = data.get("kind", "grid")
    if kind not in KINDS:
        raise DataError(f"{where}kind must be grid, random or tpe, not {brief(kind)}")
    metric = data.get("metric", "mae")
    if metric not in METRICS[model_type]:
        raise DataError(f"{where}metric {brief(metric)} is not one {model_type}'s cross-validation reports "
                        f"({', '.join(METRICS[model_type])})")  # fmt: skip
    numbers = {}
    for key, default, low in (("folds", 3, 2), ("trials", 10, 1), ("seed", seed, 0), ("batch", 4, 1)):
        value = data.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise DataError(f"{where}{key} must be a whole number of at least {low}, not {brief(value)}")
        numbers[key] = value
    raw = data.get("params")
    if not isinstance(raw, dict) or not raw:
        raise DataError(f"{where}params: expected a mapping of parameter: [values] (or, for random, a range)")
    defaults = _defaults(model_type)
    for name in raw:
        if name not in defaults:
            check_params(model_type, {name: None}, where)  # raises: names the unknown one
    space: dict[str, Any] = {}
    for name, values in raw.items():
        if isinstance(values, dict):
            if kind == "grid":
                raise DataError(
                    f"{where}params.{name}: a range needs kind: random or tpe (a grid lists values)"
                )
            space[name] = _range(model_type, name, values, defaults[name], where)
            continue
        values = values if isinstance(values, list) else [values]
        if not values:
            raise DataError(f"{where}params.{name}: no values")
        space[name] = [check_params(model_type, {name: v}, f"{where}params: ")[name] for v in values]
    fixed = data.get("fixed") or {}
    if not isinstance(fixed, dict):
        raise DataError(f"{where}fixed: expected a mapping of parameter: value")
    fixed = check_params(model_type, fixed, f"{where}fixed: ")
    both = sorted(set(fixed) & set(space))
    if both:
        raise DataError(f"{where}{both[0]} is both searched (params) and fixed")
    spec = SearchSpec(
        kind, metric, numbers["folds"], space, fixed, numbers["trials"], numbers["seed"], numbers["batch"]
    )
    count = math.prod(len(v) for v in space.values()) if kind == "grid" else spec.trials
    if count > MAX_POINTS:
        raise DataError(
            f"{where}{count:,} points; a search has at most {MAX_POINTS} (fewer values, or kind: random)"
        )
    return spec
