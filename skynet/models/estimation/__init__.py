"""The estimation model: how a room's temperature and humidity will evolve under an AC command.

:class:`EstimationModel` forecasts indoor temperature (°C) and relative humidity (%) 5, 15, 30
and 60 minutes ahead from the current and recent readings, the AC state to apply, the time of
day and the weather (an estimation frame, see :func:`skynet.data.estimation_frame`). It
generalizes to rooms it never saw (no device features) and scores dozens of candidate
commands in one call (:meth:`EstimationModel.predict_candidates`, plain numpy).

:func:`evaluate` splits devices, fits the model on some, and scores it on the others next to
persistence and a per-device fitted gray-box RC model (:class:`RcModel`);
:func:`plot_forecasts` draws forecast against measurement.
"""

from skynet.models.estimation._baselines import Persistence, RcModel
from skynet.models.estimation._evaluate import (
    METHODS,
    Evaluation,
    evaluate,
    plot_forecasts,
    score,
    split_devices,
)
from skynet.models.estimation._features import COMMAND_FIELDS, FEATURE_NAMES, encode_commands
from skynet.models.estimation._model import HORIZONS, EstimationModel, Forecast
from skynet.models.estimation._sample import SAMPLE_PARAMS, sample_data

__all__ = [
    "EstimationModel",
    "Forecast",
    "HORIZONS",
    "FEATURE_NAMES",
    "COMMAND_FIELDS",
    "encode_commands",
    "Persistence",
    "RcModel",
    "Evaluation",
    "evaluate",
    "score",
    "split_devices",
    "plot_forecasts",
    "METHODS",
    "sample_data",
    "SAMPLE_PARAMS",
]
