"""Small real control models for tests, trained once per test session on simulated homes.

Built by the same code ``skynet control evaluate`` trains with when the model store is empty
(:func:`skynet.api._control_train.train_on_simulation`), with small hyper-parameters: a few
homes and days, a small network and few boosting rounds, so the session pays ~20-40 s once.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

CLIMATE = "hot-humid"
SEED = 700


@lru_cache(maxsize=1)
def small_control_models() -> dict[str, Any]:
    """``estimator`` (EstimationModel) and ``comfort`` (UserModel) fitted on 2 x 6 homes x 3 days."""
    from skynet.api._control_train import train_on_simulation

    return train_on_simulation(
        CLIMATE, SEED, devices=6, days=3, progress=False,
        estimator_params={"hidden": (32, 32), "epochs": 20},
        comfort_params={"max_iter": 60, "calibration_folds": 2},
    )  # fmt: skip
