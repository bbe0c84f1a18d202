"""Fuzzing the DB II reader: any measurements and metadata files give valid frames or a DataError.

Hypothesis writes small CSV files (plain or gzip) whose cells are junk of every kind a CSV can
hold (text, numbers out of range, inf, NaN, empty cells, dates and non-dates, quotes, commas,
newlines), with columns sometimes missing, repeated rows and ids that are not whole numbers.
:func:`skynet.data.read_ashrae` must either raise :class:`~skynet.errors.DataError` (one line)
or return frames that a store accepts: domain columns, unique keys, votes on the scale, every
vote's time inside its survey day, every row read accounted for. Bounded for CI by
:data:`EXAMPLES` examples of at most 8 rows each (a few seconds).
"""

from __future__ import annotations

import gzip
import string
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skynet.data import read_ashrae
from skynet.data.ashrae import _MEASUREMENT_COLUMNS, _METADATA_COLUMNS
from skynet.domain import Device, Feedback, SensorReading, User, Weather, field_names
from skynet.errors import DataError
from skynet.storage import open_store

#: Examples per run: what CI runs (about 15 s on a busy 2-core machine; pandas costs ~0.2 s a read).
EXAMPLES = 60

_TEXT = st.text(alphabet=string.printable + "é°…\u2028", max_size=12)
_JUNK = st.one_of(
    st.none(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    _TEXT,
    st.sampled_from(["", " ", "nan", "NULL", "1e400", "-0", "0x1F", "3.0", "True", "2001-07-02T00:00:00Z",
                     "2001-07-02", "9999-12-31T00:00:00Z", "0001-01-01", "summer", "winter", "hot/wet"]),
)  # fmt: skip


_MEASUREMENT_CELLS = {
    "record_id": st.integers(1, 40),
    "building_id": st.integers(1, 2),
    "timestamp": st.sampled_from(["2001-07-02T00:00:00Z", "1998-01-15T00:00:00Z", "2001-07-03", None]),
    "season": st.sampled_from(["summer", "winter", "spring", "autumn", "hot/wet", "cool/dry", None]),
    "subject_id": st.one_of(st.none(), st.integers(1, 9)),
    "ta": st.floats(10, 40),
    "rh": st.one_of(st.none(), st.floats(0, 100)),
    "vel": st.one_of(st.none(), st.floats(0, 2)),
    "clo": st.one_of(st.none(), st.floats(0, 2)),
    "met": st.one_of(st.none(), st.floats(0.8, 3)),
    "thermal_sensation": st.one_of(st.integers(-3, 3), st.floats(-3, 3)),
    "t_out_isd": st.one_of(st.none(), st.floats(-20, 40)),
    "rh_out_isd": st.one_of(st.none(), st.floats(0, 100)),
    "t_mot_isd": st.one_of(st.none(), st.floats(-20, 40)),
}
_METADATA_CELLS = {
    "building_id": st.integers(1, 2),
    "country": st.one_of(st.none(), _TEXT),
    "city": st.one_of(st.none(), _TEXT),
    "lat": st.one_of(st.none(), st.floats(-90, 90)),
    "lon": st.one_of(st.none(), st.floats(-180, 180)),
    "climate": st.one_of(st.none(), _TEXT),
    "building_type": st.one_of(st.none(), _TEXT),
    "cooling_type": st.one_of(st.none(), _TEXT),
    "timezone": st.one_of(st.none(), _TEXT),
    "year": st.one_of(st.none(), st.integers(1950, 2030)),
}


@st.composite
def _table(
    draw: st.DrawFn, cells: dict[str, st.SearchStrategy], max_rows: int, min_rows: int = 0
) -> pd.DataFrame:
    """Rows of plausible values, then a few cells replaced by junk, now and then a column
    missing or extra, and a row given twice (plain strategies alone put junk in nearly every
    file, so that almost no file got past its ids)."""
    columns = list(cells)
    if draw(st.sampled_from([False] * 9 + [True])):
        columns.remove(draw(st.sampled_from(columns)))
    if draw(st.booleans()):
        columns.append("extra")
    one_row = st.fixed_dictionaries({c: cells.get(c, _JUNK) for c in columns})
    rows: list[dict[str, Any]] = draw(st.lists(one_row, min_size=min_rows, max_size=max_rows))
    if rows:
        spots = st.tuples(st.integers(0, max_rows), st.sampled_from(columns), _JUNK)
        for row, column, junk in draw(st.lists(spots, max_size=6)):
            rows[row % len(rows)][column] = junk
        repeat: bool = draw(st.booleans())
        if repeat:
            rows.append(dict(draw(st.sampled_from(rows))))
    return pd.DataFrame(rows, columns=columns)


def _write(frame: pd.DataFrame, path: Path, zipped: bool) -> Path:
    if zipped:
        path = path.with_suffix(".csv.gz")
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            frame.to_csv(fh, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def _check_frames(data) -> None:
    """The frames a successful read returns are valid records with unique keys."""
    for kind, frame in ((Device, data.devices), (User, data.users), (Feedback, data.feedback),
                        (SensorReading, data.readings), (Weather, data.weather)):  # fmt: skip
        assert list(frame.columns) == field_names(kind)
        assert not frame.duplicated(list(kind.key)).any(), kind.kind
    feedback = data.feedback
    assert feedback["value"].between(-3, 3).all()
    assert feedback["timestamp"].notna().all()
    since_midnight = feedback["timestamp"] - feedback["timestamp"].dt.normalize()
    assert since_midnight.between(pd.Timedelta(hours=8), pd.Timedelta(hours=18, seconds=1)).all()
    assert set(feedback["device_id"]) <= set(data.devices["device_id"])
    assert data.rows_read == len(feedback) + data.n_skipped
    assert all(isinstance(n, int) and n > 0 for n in data.skipped.values())
    # a real store takes them: every value passes its record's own checks
    with open_store(f"memory://fuzz-{uuid.uuid4().hex}") as store:
        added = store.write_frames(
            [(Device, data.devices), (User, data.users), (Weather, data.weather),
             (SensorReading, data.readings), (Feedback, data.feedback)]  # fmt: skip
        )
    assert added["feedback"] == len(feedback)


def test_the_reader_returns_valid_frames_or_a_data_error():
    """Every example: a one-line DataError, or frames a store takes. Over the run, both happen
    (a fuzzer whose files were all refused, or all clean, would prove nothing)."""
    assert set(_MEASUREMENT_CELLS) == set(_MEASUREMENT_COLUMNS) and set(_METADATA_CELLS) == set(
        _METADATA_COLUMNS
    )
    outcomes = {"votes": 0, "no votes": 0, "refused": 0}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,  # the same examples on every run: CI stays reproducible
        database=None,  # and no replay of examples saved by earlier runs
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        measurements=_table(_MEASUREMENT_CELLS, max_rows=8),
        metadata=_table(_METADATA_CELLS, max_rows=4, min_rows=1),  # (an empty one: in test_ashrae)
        zipped=st.booleans(),
    )
    def read(measurements: pd.DataFrame, metadata: pd.DataFrame, zipped: bool) -> None:
        with tempfile.TemporaryDirectory(prefix="skynet-fuzz-") as folder:
            m = _write(measurements, Path(folder) / "measurements.csv", zipped)
            d = _write(metadata, Path(folder) / "metadata.csv", False)
            try:
                data = read_ashrae(m, d)
            except DataError as exc:
                assert "\n" not in str(exc) and len(str(exc)) < 1000
                outcomes["refused"] += 1
                return
            _check_frames(data)
            outcomes["votes" if len(data.feedback) else "no votes"] += 1

    read()
    print(f"DB II reader fuzz: {outcomes}")  # shown with pytest -s
    assert outcomes["votes"] >= EXAMPLES // 10 and outcomes["refused"] >= EXAMPLES // 10, outcomes
