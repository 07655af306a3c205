"""The hook-event inbox: events the receiver stored, read back by cursor (the row id).

Inserts are insert-or-ignore on the event's identity (system, entity, record id, event type,
event time), with each backend's `ON CONFLICT DO NOTHING` (SQLite 3.24+, PostgreSQL 9.5+), so a
re-delivered event is harmless. Ids only grow in commit order: SQLite serialises writers
(`BEGIN IMMEDIATE`); on PostgreSQL a writer takes `LOCK TABLE hook_events IN EXCLUSIVE MODE`
(readers go on), since concurrent sequences could otherwise commit id 6 before id 5 and a
reader past 6 would never see 5.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from sync_pipeline.core.hook_payload import HookEvent
from sync_pipeline.store._rows import insert_skipping_conflicts
from sync_pipeline.store._schema import hook_events
from sync_pipeline.store._time import iso, parse_iso


@dataclass(frozen=True)
class ReceivedEvent:
    """One stored hook event; `id` is the cursor position after it."""

    id: int
    system: str
    entity: str
    record_id: str
    event_type: str
    event_time: datetime
    received_at: datetime


def add_events(
    connection: Connection, system: str, events: Sequence[HookEvent], now: datetime
) -> int:
    """Store `events` of `system`; return how many were new (duplicates are skipped)."""
    if not events:
        return 0
    rows = [
        {
            "system": system,
            "entity": e.entity,
            "record_id": e.record_id,
            "event_type": e.event_type,
            "event_time": iso(e.event_time),
            "received_at": iso(now),
        }
        for e in dict.fromkeys(events)
    ]
    statement = insert_skipping_conflicts(connection, hook_events)
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("LOCK TABLE hook_events IN EXCLUSIVE MODE")
    added = 0
    for row in rows:
        added += connection.execute(statement.values(**row)).rowcount
    return added


def events_after(connection: Connection, cursor: int, limit: int) -> list[ReceivedEvent]:
    """Up to `limit` events stored after position `cursor` (0: from the start), oldest first."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    query = (
        select(hook_events).where(hook_events.c.id > cursor).order_by(hook_events.c.id).limit(limit)
    )
    return [
        ReceivedEvent(
            id=int(row.id),
            system=row.system,
            entity=row.entity,
            record_id=row.record_id,
            event_type=row.event_type,
            event_time=parse_iso(row.event_time),
            received_at=parse_iso(row.received_at),
        )
        for row in connection.execute(query)
    ]


def last_id(connection: Connection) -> int:
    """The newest stored event's id (0: none yet), a cursor past every event stored so far."""
    return int(connection.execute(select(func.max(hook_events.c.id))).scalar() or 0)
