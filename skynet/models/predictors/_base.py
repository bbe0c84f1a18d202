"""The predictor contract: ``preprocess`` -> ``predict`` -> ``postprocess`` over pandas frames.

A predictor turns a frame of input rows into a frame of results, one row per input row, in
the same order. Batch jobs call :meth:`Predictor.predict_frame` once per chunk of rows; it is
the one path (the REST service and tests call it too), so the three steps are only ever run
in that order:

- ``preprocess(frame)`` checks the input (the :attr:`~Predictor.required_columns`) and builds
  what ``predict`` needs (default: the frame itself);
- ``predict(inputs)`` computes (the one method a subclass must write);
- ``postprocess(predictions, frame)`` shapes the results as a frame (default: the
  :attr:`~Predictor.keep_columns` of the input beside the predictions).

A predictor may wrap one of skynet's stored models: it sets :attr:`~Predictor.model_type`,
and whoever builds it (``skynet.api.batch``) loads the model by reference and calls
``Class(model, model_id=NAME)``. A predictor without a ``model_type`` is built as ``Class()``
and loads what it needs itself. Predictors are pickled to reach Dask workers, so they hold
plain data, not open connections.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from skynet.errors import DataError, ModelError, brief

__all__ = ["Predictor"]


class Predictor(ABC):
    """Base class of batch predictors (after the seed's ``PredictorBase``).

    Args:
        model: the loaded model a predictor with a :attr:`model_type` wraps (None otherwise).
        model_id: the model's name, used in output names (default: :attr:`name`).
    """

    #: Short name, e.g. ``user_model``; output folders read ``<model-id>-<date>``.
    name: ClassVar[str] = ""
    #: The skynet model type whose stored model this predictor wraps (None: it needs none).
    model_type: ClassVar[str | None] = None
    #: Input columns without which no row can be predicted (checked before anything is written).
    required_columns: ClassVar[tuple[str, ...]] = ()
    #: Input columns copied into the results when present, so results can be joined back.
    keep_columns: ClassVar[tuple[str, ...]] = ("id", "device_id", "user_id", "timestamp")

    def __init__(self, model: Any = None, model_id: str | None = None) -> None:
        if self.model_type is not None and model is None:
            raise ModelError(f"{type(self).__name__} wraps a {self.model_type} model: pass one")
        self.model = model
        self._model_id = model_id

    @property
    def model_id(self) -> str:
        """The name results are filed under: the model's name, else the predictor's."""
        return self._model_id or self.name or type(self).__name__.lower()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_id={self.model_id!r})"

    # -- the three steps ----------------------------------------------------------------------
    def check_columns(self, columns: Iterable[str], where: str = "input") -> None:
        """Raise :class:`DataError` naming the :attr:`required_columns` that ``columns`` lacks."""
        missing = [c for c in self.required_columns if c not in set(columns)]
        if missing:
            raise DataError(
                f"{where} lacks the column(s) {', '.join(missing)} that {self.model_id} needs "
                f"(it has {brief(sorted(map(str, columns)), 160)})"
            )

    def preprocess(self, frame: pd.DataFrame) -> Any:
        """Check the input rows and build what :meth:`predict` takes (default: the frame)."""
        self.check_columns(frame.columns)
        return frame

    @abstractmethod
    def predict(self, inputs: Any) -> Any:
        """Predict from what :meth:`preprocess` built: an array or a frame, one row per input row."""

    def postprocess(self, predictions: Any, frame: pd.DataFrame) -> pd.DataFrame:
        """The results as a frame: the input's :attr:`keep_columns`, then the predictions.

        Args:
            predictions: what :meth:`predict` returned (a frame, a dict of columns, or an array:
                one column ``prediction`` for 1-D, ``prediction_<i>`` for 2-D).
            frame: the input rows.
        """
        if isinstance(predictions, pd.DataFrame):
            values = predictions.reset_index(drop=True)
        elif isinstance(predictions, dict):
            values = pd.DataFrame(predictions)
        else:
            array = np.asarray(predictions)
            if array.ndim == 1:
                values = pd.DataFrame({"prediction": array})
            else:
                values = pd.DataFrame(array, columns=[f"prediction_{i}" for i in range(array.shape[1])])
        if len(values) != len(frame):
            raise ModelError(f"{self!r} predicted {len(values)} rows for {len(frame)} input rows")
        kept = _normalized(frame[[c for c in self.keep_columns if c in frame.columns and c not in values]])
        return pd.concat([kept, values], axis=1)

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``postprocess(predict(preprocess(frame)), frame)``: one result row per input row.

        Raises:
            DataError: the input lacks a required column or holds values the model refuses;
            ModelError: the predictor returned another number of rows than it was given.
        """
        result = self.postprocess(self.predict(self.preprocess(frame)), frame)
        if not isinstance(result, pd.DataFrame) or len(result) != len(frame):
            got = len(result) if isinstance(result, pd.DataFrame) else type(result).__name__
            raise ModelError(f"{self!r} returned {got} result rows for {len(frame)} input rows")
        return result.reset_index(drop=True)


#: Kept columns that hold identifiers (strings in the results, whatever the input's type).
_ID_COLUMNS = ("id", "device_id", "user_id")


def _normalized(kept: pd.DataFrame) -> pd.DataFrame:
    """Kept columns with one type whatever the input's: ids as strings, times as naive UTC.

    A CSV file gives an all-empty ``user_id`` as floats and times as text, a parquet file
    gives nulls and timestamps: normalized, the results of both read as one table.
    """
    out = kept.reset_index(drop=True).copy()
    for column in out.columns:
        if column in _ID_COLUMNS:
            values = out[column]
            # an id read as a float (CSV, with gaps) loses its ".0"
            if values.dtype.kind == "f" and bool((values.dropna() % 1 == 0).all()):
                values = values.astype("Int64")
            out[column] = values.astype("string")
        elif column == "timestamp":
            try:
                stamps = pd.to_datetime(out[column], utc=True, format="ISO8601")
            except (TypeError, ValueError) as exc:
                raise DataError(f"column timestamp holds a value that is not a time ({exc})") from None
            out[column] = stamps.dt.tz_localize(None).astype("datetime64[us]")
    return out
