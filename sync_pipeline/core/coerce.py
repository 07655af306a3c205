"""Type-level coercion of raw API columns into mapped-frame columns, collecting problems.

Raw snapshot columns are `object` dtype, values untouched. Each coercer returns the column in
its frame type plus `Problems`: which rows cannot be represented (wrong type, lone surrogate,
timestamp without an offset, ...) and why. Clean columns take a vectorised fast path; only a
column holding a wrong value is looked at value by value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sync_pipeline.core.align import as_int64
from sync_pipeline.core.normalize import ArrowStrings, normalize_arrow
from sync_pipeline.core.schemas import TIMESTAMP_DTYPE

IntArray = npt.NDArray[np.int64]
# A raw column: object values as read, or Arrow strings when the snapshot is already typed.
RawColumn: TypeAlias = npt.NDArray[np.object_] | pa.Array
# A time of day followed by a UTC offset (`Z`, `+02:00`, `+0200`, `+02`).
_OFFSET_SUFFIX = r"[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"
# Before datetime64[ns] can represent (.NET's DateTimeOffset.MinValue renders as year 1).
_OLDEST = pd.Timestamp("1678-01-01", tz="UTC")
_DIGITS = r"^[0-9]{1,18}$"


class Absent:
    """A property the API left out of a record: unlike null or "", its value is unknown, so
    the record cannot be synced (it would clear the other side). Pickles to the singleton."""

    _instance: Absent | None = None

    def __new__(cls) -> Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __reduce__(self) -> tuple[type[Absent], tuple[()]]:
        return (Absent, ())

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = Absent()


@dataclass
class Problems:
    """Row positions with one-line reasons, accumulated across columns."""

    positions: list[IntArray] = field(default_factory=list)
    reasons: list[list[str]] = field(default_factory=list)

    def add(self, positions: IntArray, reasons: list[str]) -> None:
        """Record `reasons[i]` for row `positions[i]`."""
        if len(positions):
            self.positions.append(positions)
            self.reasons.append(reasons)

    def by_row(self) -> pd.Series:
        """The reasons joined per row position (`"; "`-separated, in the order recorded)."""
        if not self.positions:
            return pd.Series([], dtype="str", index=pd.Index([], dtype="int64"))
        frame = pd.DataFrame(
            {
                "pos": np.concatenate(self.positions),
                "reason": [r for reasons in self.reasons for r in reasons],
            }
        )
        frame = frame.drop_duplicates()
        return frame.groupby("pos", sort=True)["reason"].agg("; ".join).astype("str")


def _describe(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_empty(value: object) -> bool:
    return (
        value is None
        or value is pd.NA
        or value is ABSENT
        or (isinstance(value, float) and np.isnan(value))
    )


def _value_problem(value: object) -> str | None:
    """Why one raw value cannot be a string field (None/NaN are fine: empty)."""
    if value is ABSENT:
        return "missing from the record (absent, not empty)"
    if _is_empty(value):
        return None
    if not isinstance(value, str):
        return f"wrong type {type(value).__name__} (expected a string)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (invalid Unicode)"
    return None


def _strings(values: RawColumn, prop: str, problems: Problems) -> pa.Array:
    """Arrow strings of `values`; wrong values become null and are recorded in `problems`."""
    if isinstance(values, pa.Array):
        return values
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        try:
            return pa.array(values, type=pa.large_string(), from_pandas=True)
        except UnicodeEncodeError:
            pass
    found = [(i, _value_problem(v)) for i, v in enumerate(values)]
    bad = [(i, p) for i, p in found if p is not None]
    problems.add(np.array([i for i, _ in bad], dtype=np.int64), [f"{prop}: {p}" for _, p in bad])
    cleaned = values.copy()
    cleaned[[i for i, _ in bad]] = None
    return pa.array(cleaned, type=pa.large_string(), from_pandas=True)


def coerce_field(values: RawColumn, prop: str, problems: Problems) -> ArrowStrings:
    """A mapped string field: normalised Arrow strings (empty where the raw value was bad).
    A number is its text (`42` → "42", `4722334455.0` → "4722334455", `1.5` → "1.5"): live
    WebCRM sends custom fields as numbers (evidence 4); booleans and containers stay bad."""
    return normalize_arrow(_strings(_numbers_as_text(values), prop, problems))


def _numbers_as_text(values: RawColumn) -> RawColumn:
    if isinstance(values, pa.Array):
        return values
    numeric = [
        i
        for i, v in enumerate(values)
        if isinstance(v, int | float) and not isinstance(v, bool) and not _is_empty(v)
    ]
    if not numeric:
        return values
    texts = values.copy()
    for i in numeric:
        texts[i] = _number_text(values[i])
    return texts


def _number_text(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return str(value)


def coerce_ids(values: RawColumn, prop: str, integer_ids: bool, problems: Problems) -> ArrowStrings:
    """Record ids as strings; WebCRM ids (`integer_ids`) must be integers (`str(int)`)."""
    if isinstance(values, pa.Array):
        trimmed = pc.utf8_trim_whitespace(pc.fill_null(values, ""))
        ints = as_int64(trimmed) if integer_ids else None
        if not integer_ids or ints is not None:
            return trimmed if ints is None else pc.cast(pa.array(ints), pa.large_string())
        values = np.asarray(values.to_numpy(zero_copy_only=False), dtype=object)
    if integer_ids and pd.api.types.infer_dtype(values, skipna=True) == "integer":
        ints = pa.array(values, type=pa.int64(), from_pandas=True)
        return pc.fill_null(pc.cast(ints, pa.large_string()), "")
    if integer_ids:
        values = np.array([_int_id(v) for v in values], dtype=object)
        bad = np.flatnonzero([isinstance(v, _BadId) for v in values])
        problems.add(bad, [f"{prop}: not an integer id {values[i].text}" for i in bad])
        values[bad] = None
    strings = pc.utf8_trim_whitespace(pc.fill_null(_strings(values, prop, problems), ""))
    return strings


@dataclass(frozen=True)
class _BadId:
    text: str


def _int_id(value: object) -> object:
    if _is_empty(value):
        return None
    if isinstance(value, bool):
        return _BadId(_describe(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return str(int(value.strip()))
    if isinstance(value, str) and not value.strip():
        return None
    return _BadId(_describe(value))


def coerce_timestamps(values: RawColumn, prop: str, problems: Problems) -> pd.Series:
    """`datetime64[ns, UTC]` from ISO-8601 text with an offset; NaT (and a problem) otherwise."""
    text = pc.utf8_trim_whitespace(pc.fill_null(_strings(values, prop, problems), ""))
    series = pd.Series(text, dtype="str")
    parsed = pd.to_datetime(series, format="ISO8601", utc=True, errors="coerce")
    has_offset = series.str.contains(_OFFSET_SUFFIX, regex=True)
    empty = series == ""
    unparseable = ~empty & parsed.isna()
    no_offset = ~empty & ~unparseable & ~has_offset
    for mask, why in (
        (no_offset, "timestamp without a UTC offset"),
        (unparseable, "unparseable timestamp"),
    ):
        rows = np.flatnonzero(mask.to_numpy())
        problems.add(rows, [f"{prop}: {why} {_describe(series.iat[int(i)])}" for i in rows])
    missing = np.flatnonzero(empty.to_numpy())
    problems.add(missing, [f"{prop}: missing timestamp"] * len(missing))
    parsed = parsed.where(~no_offset)
    parsed = parsed.mask(parsed < _OLDEST, _OLDEST)
    return parsed.astype(TIMESTAMP_DTYPE)
