"""Columns of records, shared by the adapters: validate frames on the way in, build them on the way out.

A write is turned into *columns*: one array or list per field, normalized (timestamps as
naive UTC ``datetime64[us]``, floats as ``float64`` with NaN for missing, bools, strings or
None), so each adapter only adapts values to its driver. A read is turned back into a frame
with fixed dtypes per field type, whatever the backend returned, so every adapter gives the
same frame.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any, get_type_hints

import numpy as np
import pandas as pd

from skynet.domain import RECORD_KINDS, Record, field_names
from skynet.errors import DataError

__all__ = [
    "Field",
    "fields_of",
    "frame_columns",
    "records_columns",
    "build_frame",
    "python_values",
    "naive_utc",
    "group_by_kind",
]

#: Frame dtype per field type.
DTYPES = {"datetime": "datetime64[us]", "float": "float64", "bool": "bool", "str": "str"}


@dataclasses.dataclass(frozen=True)
class Field:
    """A record field as storage sees it: its name, value type, and whether it may be missing."""

    name: str
    type: str  # a key of DTYPES
    optional: bool
    default: Any = dataclasses.MISSING


@cache
def fields_of(kind: type[Record]) -> tuple[Field, ...]:
    """The fields of a record kind, in declaration order."""
    hints = get_type_hints(kind)
    out = []
    for f in dataclasses.fields(kind):
        hint = hints[f.name]
        args = [a for a in getattr(hint, "__args__", (hint,)) if a is not type(None)]
        base = {datetime: "datetime", float: "float", int: "float", bool: "bool", str: "str"}[args[0]]
        out.append(Field(f.name, base, type(None) in getattr(hint, "__args__", ()), f.default))
    return tuple(out)


def naive_utc(value: datetime) -> datetime:
    """A timestamp as a naive UTC :class:`datetime` (aware values are converted)."""
    if not isinstance(value, datetime):
        raise DataError(f"expected a datetime, got {value!r}")
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp: drop nanoseconds quietly
        value = value.to_pydatetime(warn=False)
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def group_by_kind(records: Iterable[Record]) -> dict[type[Record], list[Record]]:
    """Records grouped by kind, in first-seen order; anything else is a DataError."""
    groups: dict[type[Record], list[Record]] = {}
    for record in records:
        kind = type(record)
        if RECORD_KINDS.get(getattr(kind, "kind", None)) is not kind:
            raise DataError(f"cannot store {kind.__name__} {record!r}: not a skynet.domain record")
        groups.setdefault(kind, []).append(record)
    return groups


def records_columns(kind: type[Record], records: Sequence[Record]) -> dict[str, Any]:
    """The columns of records of one kind (already validated by their constructors).

    Plain lists and numpy, no pandas: a write of one or two records stays cheap.
    """
    columns: dict[str, Any] = {}
    for spec in fields_of(kind):
        values = [getattr(r, spec.name) for r in records]
        where = f"{kind.kind}.{spec.name}"
        if not spec.optional and None in values:
            raise DataError(f"{where} is required but missing in {values.count(None)} record(s)")
        try:
            if spec.type == "datetime":
                columns[spec.name] = np.array([naive_utc(v) for v in values], dtype="datetime64[us]")
            elif spec.type == "float":
                numbers = np.array(values, dtype="float64")
                if np.isinf(numbers).any():
                    raise ValueError("infinite values")
                columns[spec.name] = numbers
            elif spec.type == "bool":
                if not all(isinstance(v, bool | np.bool_) for v in values):
                    raise ValueError(f"values other than true/false: {values[:5]}")
                columns[spec.name] = np.array(values, dtype=bool)
            else:
                columns[spec.name] = [None if v is None else str(v) for v in values]
        except (ValueError, TypeError, DataError) as exc:
            raise DataError(f"{where}: {exc}") from None
    return columns


def frame_columns(
    kind: type[Record], frame: pd.DataFrame, validate: bool = True, arrow_strings: bool = False
) -> dict[str, Any]:
    """Check a frame of one record kind and return its normalized columns.

    Missing optional columns take the field's default; unknown columns, missing required
    values and values a record would refuse are a :class:`DataError` that says where. With
    ``arrow_strings``, string columns are pyarrow ``string`` arrays (nulls for missing) instead
    of lists: no Python object per value for adapters that hand Arrow to their driver.
    """
    specs = fields_of(kind)
    known = [f.name for f in specs]
    unknown = [str(c) for c in frame.columns if c not in known]
    if unknown:
        raise DataError(
            f"{kind.kind} frame has unknown columns {', '.join(unknown)} (known: {', '.join(known)})"
        )
    columns: dict[str, Any] = {}
    for spec in specs:
        if spec.name in frame.columns:
            values = frame[spec.name]
        elif spec.default is not dataclasses.MISSING:
            values = pd.Series([spec.default] * len(frame), index=frame.index, dtype=object)
        else:
            raise DataError(f"{kind.kind} frame lacks the required column {spec.name}")
        columns[spec.name] = _column(kind, spec, values, arrow_strings)
    if validate and "__post_init__" in vars(kind) and len(frame):
        _validate_rows(kind, columns, frame.index)
    return columns


def _column(kind: type[Record], spec: Field, values: pd.Series, arrow_strings: bool = False) -> Any:
    where = f"{kind.kind}.{spec.name}"
    missing = values.isna().to_numpy()
    if missing.any() and not spec.optional:
        first = values.index[missing.argmax()]
        raise DataError(
            f"{where} is required but missing in {int(missing.sum())} row(s) (first: row {first})"
        )
    try:
        if spec.type == "datetime":
            # naive values are UTC already; aware ones (even mixed offsets) are converted
            stamps = pd.to_datetime(values, utc=True).dt.tz_localize(None)
            return stamps.to_numpy(dtype="datetime64[us]")
        if spec.type == "float":
            numbers = pd.to_numeric(values, errors="raise").to_numpy(dtype="float64", na_value=np.nan)
            if np.isinf(numbers).any():
                raise ValueError("infinite values")
            return numbers
        if spec.type == "bool":
            if not set(pd.unique(values)) <= {True, False}:  # 0 and 1 compare equal to them
                raise ValueError(
                    f"values other than true/false: {sorted(map(str, set(pd.unique(values))))[:5]}"
                )
            return values.to_numpy(dtype=bool)
    except (ValueError, TypeError, OverflowError) as exc:
        raise DataError(f"{where}: {exc}") from None
    if not arrow_strings:
        return _strings(values, missing)
    import pyarrow as pa

    try:  # str (Arrow-backed) and object columns of strings convert in C
        return pa.array(values, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # other values: str() of each
        return pa.array(_strings(values, missing), type=pa.string())


def _strings(values: pd.Series, missing: np.ndarray) -> list[str | None]:
    return [None if m else str(v) for v, m in zip(values.tolist(), missing, strict=True)]


def _validate_rows(kind: type[Record], columns: dict[str, Any], index: pd.Index) -> None:
    """Build each record once so the domain's own checks run (kinds with few, small rows)."""
    names = list(columns)
    values = [python_values(spec, columns[spec.name]) for spec in fields_of(kind)]
    for label, row in zip(index, zip(*values, strict=True), strict=True):
        try:
            kind(**dict(zip(names, row, strict=True)))
        except DataError as exc:
            raise DataError(f"{kind.kind} row {label}: {exc}") from None


def python_values(spec: Field, column: Any) -> list[Any]:
    """A normalized column as a list of plain Python values (None for missing)."""
    if spec.type == "datetime":
        return column.tolist()  # datetime64[us] -> datetime (NaT -> None)
    if spec.type == "float":
        out = column.astype(object)
        out[np.isnan(column)] = None
        return out.tolist()
    if spec.type == "bool":
        return column.tolist()
    return column.to_pylist() if hasattr(column, "to_pylist") else list(column)


def build_frame(kind: type[Record], columns: dict[str, Sequence[Any]] | None = None) -> pd.DataFrame:
    """A frame of one kind (columns = its fields, fixed dtypes) from column values; empty without."""
    data = {}
    for spec in fields_of(kind):
        values = () if columns is None else columns[spec.name]
        if spec.type == "datetime" and not isinstance(values, np.ndarray):
            values = pd.to_datetime(list(values)).to_numpy(dtype="datetime64[us]")
        elif spec.type == "float" and isinstance(values, tuple | list):
            values = _floats(values)
        data[spec.name] = pd.Series(values, dtype=DTYPES[spec.type])
    return pd.DataFrame(data, columns=field_names(kind))


def _floats(values: tuple[Any, ...] | list[Any]) -> np.ndarray:
    """Fetched floats (None for NULL) as float64; the common no-NULL and all-NULL columns fast."""
    nulls = values.count(None)
    if nulls == 0:
        return np.fromiter(values, dtype="float64", count=len(values))
    if nulls == len(values):
        return np.full(len(values), np.nan)
    return np.array(values, dtype="float64")
