"""skynet's own predictors: the user comfort model and the estimation model as batch predictors."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from skynet.models.predictors._base import Predictor

__all__ = ["UserModelPredictor", "EstimationPredictor"]


class UserModelPredictor(Predictor):
    """Comfort rows in; the expected vote, the median vote and the seven probabilities out.

    Rows of devices seen in training get their learned offsets (no feedback is read: a batch
    job has only its input rows).
    """

    name = "user_model"
    model_type = "user_model"
    required_columns = ("temperature",)

    def predict(self, inputs: pd.DataFrame) -> np.ndarray:
        """The probabilities (n, 7) of the votes -3…3."""
        return self.model.predict_proba(inputs)

    def postprocess(self, predictions: np.ndarray, frame: pd.DataFrame) -> pd.DataFrame:
        from skynet.models.user_model import VOTES
        from skynet.models.user_model._model import _median

        columns: dict[str, Any] = {"expected": predictions @ VOTES, "median": _median(predictions)}
        columns.update({f"p_{int(v)}": predictions[:, i] for i, v in enumerate(VOTES)})
        return super().postprocess(columns, frame)


class EstimationPredictor(Predictor):
    """Estimation-frame rows in; temperature and humidity at each horizon out."""

    name = "estimation"
    model_type = "estimation"
    #: What the model cannot do without (lags, means and AC minutes may be missing).
    required_columns: ClassVar[tuple[str, ...]] = (
        "temperature", "humidity", "power", "mode", "set_temperature", "fan",
        "outdoor_temperature", "outdoor_humidity", "hour",
    )  # fmt: skip

    def predict(self, inputs: pd.DataFrame) -> pd.DataFrame:
        """``temperature_<h>m`` and ``humidity_<h>m`` for each horizon."""
        return self.model.predict(inputs)
