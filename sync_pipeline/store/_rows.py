"""Small shared pieces: JSON text, id batches for IN lists, history rows, typed frame columns."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import pandas as pd
from sqlalchemy import ARRAY, ColumnElement, Connection, Insert, Table, Text, any_, bindparam

T = TypeVar("T")

# Comfortably under every backend's bound-parameter limit.
IN_CHUNK = 500
# One encoder for every JSON column: `json.dumps` with options builds a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def to_json(value: Mapping[str, Any]) -> str:
    """Compact JSON text of a mapping, non-ASCII kept as is."""
    return _ENCODER.encode(value)


def insert_skipping_conflicts(connection: Connection, table: Table) -> Insert:
    """`INSERT ... ON CONFLICT DO NOTHING` into `table` in the connection's dialect (SQLite or
    PostgreSQL: both spell it alike, SQLAlchemy builds it per dialect). The PostgreSQL dialect
    is imported only on PostgreSQL: a SQLite run never pays for loading it. NotImplementedError
    on any other backend."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table).on_conflict_do_nothing()
    raise NotImplementedError(f"the link store needs SQLite or PostgreSQL, not {dialect}")


def chunked(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """`items` in consecutive slices of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def among(
    connection: Connection, column: ColumnElement[str], ids: Sequence[str]
) -> Iterator[ColumnElement[bool]]:
    """`column IN ids` as conditions, one per statement to run (none for no ids).

    PostgreSQL takes every id as one array parameter (`column = ANY(:ids)`): one statement, and
    about ten times faster than IN lists of `IN_CHUNK`. Other backends get `IN_CHUNK` slices,
    under their bound-parameter limits.
    """
    if connection.dialect.name != "postgresql":
        yield from (column.in_(chunk) for chunk in chunked(ids))
    elif ids:
        yield column == any_(bindparam(None, list(ids), type_=ARRAY(Text)))


def history_row(
    pair: str,
    *,
    webcrm_id: str | None,
    crmoffice_id: str | None,
    run_id: str,
    at: str,
    kind: str,
    direction: str | None,
    detail: Mapping[str, Any],
) -> dict[str, Any]:
    """One row for the history table."""
    return {
        "pair": pair,
        "webcrm_id": webcrm_id,
        "crmoffice_id": crmoffice_id,
        "run_id": run_id,
        "at": at,
        "kind": kind,
        "direction": direction,
        "detail": to_json(detail),
    }


def str_column(values: Iterable[str | None]) -> pd.Series:
    """A pandas `str` column (Arrow-backed in pandas 3); missing text is `""`."""
    return pd.Series(["" if value is None else value for value in values], dtype="str")


def utc_column(values: Iterable[str | None]) -> pd.Series:
    """A `datetime64[ns, UTC]` column from stored ISO text (None becomes NaT)."""
    text = pd.Series(list(values), dtype="str")
    return pd.to_datetime(text, format="ISO8601", utc=True).astype("datetime64[ns, UTC]")


def typed_frame(
    rows: Sequence[Sequence[Any]],
    columns: Sequence[str],
    *,
    times: Iterable[str] = (),
    ints: Iterable[str] = (),
) -> pd.DataFrame:
    """A frame of `rows`: `str` columns, except `times` (UTC datetimes) and `ints` (Int64)."""
    by_column = dict(zip(columns, zip(*rows, strict=True), strict=True)) if rows else {}
    times, ints = set(times), set(ints)
    data: dict[str, pd.Series] = {}
    for name in columns:
        values = by_column.get(name, ())
        if name in times:
            data[name] = utc_column(values)
        elif name in ints:
            data[name] = pd.Series(list(values), dtype="Int64")
        else:
            data[name] = str_column(values)
    return pd.DataFrame(data, columns=list(columns))
