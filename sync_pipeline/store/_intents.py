"""Pending-write intents (recorded before each create) and extraction cursors."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, bindparam, insert, select, update

from sync_pipeline.store._rows import to_json, typed_frame
from sync_pipeline.store._schema import INTENT_STATUSES, cursors, intents
from sync_pipeline.store._time import iso, parse_iso


def open_intents_for(
    connection: Connection,
    pair: str,
    direction: str,
    items: Sequence[tuple[str, Mapping[str, str]]],
    run_id: str,
    now: datetime,
) -> list[int]:
    """Record one open intent per (source id, payload); their ids, in the order of `items`."""
    if not items:
        return []
    at = iso(now)
    rows = [
        {
            "pair": pair,
            "direction": direction,
            "source_id": source_id,
            "payload": to_json(payload),
            "created_at": at,
            "run_id": run_id,
            "status": "open",
        }
        for source_id, payload in items
    ]
    statement = insert(intents).returning(intents.c.id, sort_by_parameter_order=True)
    return [int(i) for i in connection.execute(statement, rows).scalars()]


def open_intents(connection: Connection, pair: str, fields: Sequence[str]) -> pd.DataFrame:
    """`intent_id, direction, source_id, created_at, *fields` of the pair's open intents."""
    query = (
        select(intents.c.id, intents.c.direction, intents.c.source_id, intents.c.created_at)
        .add_columns(intents.c.payload)
        .where(intents.c.pair == pair, intents.c.status == "open")
        .order_by(intents.c.id)
    )
    rows = []
    for intent_id, direction, source_id, created_at, payload in connection.execute(query):
        values = json.loads(payload)
        rows.append(
            (intent_id, direction, source_id, created_at, *(values.get(f, "") for f in fields))
        )
    columns = ["intent_id", "direction", "source_id", "created_at", *fields]
    return typed_frame(rows, columns, times=["created_at"], ints=["intent_id"])


def close_intents(
    connection: Connection,
    ids: Sequence[int],
    status: str,
    target_ids: Sequence[str | None] | None,
    now: datetime,
) -> int:
    """Close open intents as `status` (with the record each one made, if known)."""
    if status not in INTENT_STATUSES or status == "open":
        raise ValueError(f"cannot close an intent as {status!r}")
    targets = list(target_ids) if target_ids is not None else [None] * len(ids)
    if len(targets) != len(ids):
        raise ValueError("target_ids must match ids one to one")
    if not ids:
        return 0
    statement = (
        update(intents)
        .where(intents.c.id == bindparam("b_id"), intents.c.status == "open")
        .values(status=status, target_id=bindparam("b_target"), closed_at=iso(now))
    )
    params = [{"b_id": i, "b_target": t} for i, t in zip(ids, targets, strict=True)]
    return int(connection.execute(statement, params).rowcount)


def get_cursor(connection: Connection, system: str, entity: str) -> datetime | None:
    """The stored extraction cursor of a system entity, if any."""
    query = select(cursors.c.value).where(cursors.c.system == system, cursors.c.entity == entity)
    value = connection.execute(query).scalar_one_or_none()
    return None if value is None else parse_iso(value)


def set_cursor(
    connection: Connection, system: str, entity: str, value: datetime, now: datetime
) -> None:
    """Store the extraction cursor of a system entity (replacing the previous one)."""
    values = {"value": iso(value), "updated_at": iso(now)}
    key = (cursors.c.system == system, cursors.c.entity == entity)
    if connection.execute(update(cursors).where(*key).values(**values)).rowcount == 0:
        connection.execute(insert(cursors).values(system=system, entity=entity, **values))
