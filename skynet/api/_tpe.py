"""Optuna's TPE for ``kind: tpe`` searches: the next points from the points that ended.

A TPE search does not know its points in advance. It starts with ``batch`` points (drawn at
random: TPE needs a history), and each time a point ends the worker that ended it asks for
more (:func:`plan`) until ``trials`` points exist, at most ``batch`` in work at once. Each ask
rebuilds an in-memory Optuna study from the search's points (done ones with their value of the
search's metric, best lowest: :func:`skynet.api.params.badness`; failed ones as failed), and
uses the constant liar for the points still in work, so points planned together differ. The
sampler is seeded with the search's seed and the number of points so far: the same history
gives the same next points.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from skynet.api.params import badness
from skynet.errors import ConfigError

if TYPE_CHECKING:
    from skynet.api.params import SearchSpec
    from skynet.storage.experiments import Metric, Point

__all__ = ["plan"]


def _distributions(space: dict[str, Any]) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, Any] = {}
    for name, values in space.items():
        if isinstance(values, list):
            # choices as JSON text: a list value ([64, 32]) is one category, as Optuna wants it
            out[name] = CategoricalDistribution([json.dumps(v) for v in values])
        elif values.get("int"):
            out[name] = IntDistribution(int(values["low"]), int(values["high"]), log=bool(values.get("log")))
        else:
            out[name] = FloatDistribution(
                float(values["low"]), float(values["high"]), log=bool(values.get("log"))
            )
    return out


def plan(
    spec: SearchSpec, points: Sequence[Point], metrics: Sequence[Metric], count: int
) -> list[dict[str, Any]]:
    """The parameters of ``count`` new points of a TPE search, given its points so far.

    Raises:
        ConfigError: Optuna is not installed.
    """
    try:
        import optuna
        from optuna.trial import TrialState, create_trial
    except ImportError:
        raise ConfigError("kind: tpe needs Optuna: pip install 'skynet[tpe]'") from None

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = _distributions(spec.space)
    values = {m.point_id: m.value for m in metrics if m.fold == -1 and m.name == spec.metric}
    sampler = optuna.samplers.TPESampler(seed=spec.seed + len(points), n_startup_trials=spec.batch,
                                         constant_liar=True)  # fmt: skip
    study = optuna.create_study(direction="minimize", sampler=sampler)
    for point in points:
        params = {n: json.dumps(v) if isinstance(spec.space[n], list) else v for n, v in point.params.items()
                  if n in distributions}  # fmt: skip
        if point.status == "done" and values.get(point.point_id) is not None:
            state, value = TrialState.COMPLETE, badness(spec.metric, values[point.point_id])[1]
        elif point.status == "failed":
            state, value = TrialState.FAIL, None
        else:
            state, value = TrialState.RUNNING, None
        study.add_trial(create_trial(params=params, distributions=distributions, value=value, state=state))
    asked = [study.ask(distributions).params for _ in range(count)]
    return [{**spec.fixed, **{n: json.loads(v) if isinstance(spec.space[n], list) else v for n, v in p.items()}}
            for p in asked]  # fmt: skip
