"""The user comfort model: expected thermal sensation (-3…3) and its seven probabilities.

:class:`UserModel` learns from a comfort frame (see :data:`skynet.data.COMFORT_COLUMNS`),
personalizes with each person's feedback (:class:`PersonalParams`: an offset and a slope per
°C, shrunk towards their device and the fleet; :class:`Ledger` updates them in O(1) a vote),
and answers one row in microseconds
(:meth:`UserModel.predict_one`). :func:`evaluate` compares it with PMV and with always
predicting "comfy" on devices held out by grouped cross-validation.
"""

from skynet.models.user_model._evaluate import Evaluation, evaluate, recover_offsets, score
from skynet.models.user_model._model import UserModel
from skynet.models.user_model._ordinal import VOTES
from skynet.models.user_model._people import Ledger, PeoplePrior, PersonalParams
from skynet.models.user_model._plots import (
    plot_offset_recovery,
    plot_person_curve,
    plot_personalization,
    plot_predicted_vs_voted,
)
from skynet.models.user_model._sample import SAMPLE_PARAMS, sample_data

__all__ = [
    "UserModel",
    "VOTES",
    "PersonalParams",
    "Ledger",
    "PeoplePrior",
    "Evaluation",
    "evaluate",
    "recover_offsets",
    "score",
    "sample_data",
    "SAMPLE_PARAMS",
    "plot_personalization",
    "plot_person_curve",
    "plot_offset_recovery",
    "plot_predicted_vs_voted",
]
