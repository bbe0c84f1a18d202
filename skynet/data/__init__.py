"""Data sets and frames: readers of external data (ASHRAE DB II) into domain record frames,
range validation, and the joins that turn stored records into model-ready frames.

Pure pandas: nothing here opens a store (the api layer reads and writes).
"""

from skynet.data._validate import PREDICT_RANGES, RANGES, SET_TEMPERATURE, Range, check_ranges, validated
from skynet.data.ashrae import AshraeImport, read_ashrae, read_ashrae_comfort_frame
from skynet.data.estimation import (
    ESTIMATION_INPUTS,
    HORIZONS,
    LAGS,
    WINDOW,
    estimation_frame,
    estimation_state,
    estimation_targets,
    recent_inputs,
)
from skynet.data.frames import COMFORT_COLUMNS, comfort_frame, context_frame

__all__ = [
    "AshraeImport",
    "read_ashrae",
    "read_ashrae_comfort_frame",
    "COMFORT_COLUMNS",
    "comfort_frame",
    "context_frame",
    "RANGES",
    "check_ranges",
    "Range",
    "PREDICT_RANGES",
    "SET_TEMPERATURE",
    "validated",
    "ESTIMATION_INPUTS",
    "HORIZONS",
    "LAGS",
    "WINDOW",
    "estimation_frame",
    "estimation_state",
    "estimation_targets",
    "recent_inputs",
]
