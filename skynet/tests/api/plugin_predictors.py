"""Third-party predictors the batch tests plug in by ``skynet.tests.api.plugin_predictors:Class``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from skynet.errors import DataError
from skynet.models.predictors import Predictor


class Doubler(Predictor):
    """Twice the temperature; a row at exactly 99 °C is refused (a value the model cannot take)."""

    name = "doubler"
    required_columns = ("temperature",)

    def predict(self, inputs: pd.DataFrame) -> np.ndarray:
        temperature = inputs["temperature"].to_numpy(dtype=float)
        if (temperature == 99.0).any():
            raise DataError("temperature 99.0 is not a room's")
        return temperature * 2


class Unbuildable(Predictor):
    """A predictor whose constructor fails (its model file is missing, say)."""

    def __init__(self) -> None:
        raise FileNotFoundError("weights.bin")

    def predict(self, inputs: pd.DataFrame) -> np.ndarray:  # pragma: no cover - never built
        return np.zeros(len(inputs))
