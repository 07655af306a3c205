"""WebCRM records in memory: what the API serves and what a test edits "in the CRM UI".

Thread-safe (the API runs in the server thread, tests edit from theirs). Records are stored
sparse (see `webcrm_dto`), keyed by integer id; ids start at 1000 per entity. The entities are
those `systems.yaml` declares. Date-times are rendered in, and offset-less ones read in, the
state's `zone` (`--webcrm-timezone`, default Europe/London; evidence 11). Created-at times
follow id order (evidence 12): a record created (or backdated) earlier than the newest record's
creation reads as created at that same second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sync_pipeline.core.hook_payload import EventType
from sync_pipeline.sandbox.timestamps import DEFAULT_WEBCRM_ZONE
from sync_pipeline.sandbox.webcrm_dto import (
    ENTITIES,
    EntitySpec,
    coerce_body,
    default_record,
    render,
)
from sync_pipeline.sandbox.webcrm_queries import Query, comparable

# Told of every record change (entity, id, "Create"/"Update"/"Delete"): hook delivery.
ChangeListener = Callable[[str, int, EventType], None]
FIRST_ID = 1000
API_AUTHOR = "API"
UI_AUTHOR = "Sandbox UI"


class WebcrmState:
    """All WebCRM records; API operations plus a handle for tests acting as a human user."""

    def __init__(
        self, clock: Callable[[], float] = time.time, zone: str = DEFAULT_WEBCRM_ZONE
    ) -> None:
        self._clock = clock
        self.zone = ZoneInfo(zone)
        self._last_created = dict.fromkeys(ENTITIES, 0)
        self._lock = threading.RLock()
        self._records: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in ENTITIES}
        self._next_id = dict.fromkeys(ENTITIES, FIRST_ID)
        self._defaults = {name: default_record(spec) for name, spec in ENTITIES.items()}
        self._order: dict[str, list[int] | None] = dict.fromkeys(ENTITIES)
        self.version = 0
        self._listeners: list[ChangeListener] = []

    def add_listener(self, listener: ChangeListener) -> None:
        """Call `listener` after every create, update, replace and delete (API or UI); it must
        not block (hook delivery queues and returns)."""
        self._listeners.append(listener)

    def _changed(self, entity: str, record_id: int, event_type: EventType) -> None:
        for listener in self._listeners:
            listener(entity, record_id, event_type)

    # --- reads -------------------------------------------------------------------------------

    def page(self, entity: str, page: int, size: int) -> list[dict[str, Any]]:
        """One page of records in id order, rendered."""
        with self._lock:
            ids = self._ordered_ids(entity)[(page - 1) * size : page * size]
            return [self._render(entity, self._records[entity][i]) for i in ids]

    def get(self, entity: str, record_id: int) -> dict[str, Any] | None:
        """One rendered record, or None."""
        with self._lock:
            stored = self._records[entity].get(record_id)
            return None if stored is None else self._render(entity, stored)

    def exists(self, entity: str, record_id: int) -> bool:
        """Whether a record with this id exists."""
        with self._lock:
            return record_id in self._records[entity]

    def select(self, query: Query, page: int, size: int) -> list[dict[str, Any]]:
        """One page of the records a `/Queries` script selects (id order unless it orders),
        rendered in full; the caller shapes them into rows."""
        spec = ENTITIES[query.entity]
        with self._lock:
            rows = self._records[query.entity]
            hits = [
                rows[i]
                for i in self._ordered_ids(query.entity)
                if all(c.holds(spec, rows[i]) for c in query.conditions)
            ]
            if query.order_by is not None:
                column = query.order_by
                hits.sort(key=lambda r: _sort_key(comparable(spec, column, r.get(column))))
                if query.descending:
                    hits.reverse()
            return [self._render(query.entity, r) for r in hits[(page - 1) * size : page * size]]

    def records(self, entity: str) -> list[dict[str, Any]]:
        """Every record of an entity, rendered as the API would, in id order."""
        with self._lock:
            return [
                self._render(entity, self._records[entity][i]) for i in self._ordered_ids(entity)
            ]

    # --- writes (values already coerced by webcrm_dto) ----------------------------------------

    def create(
        self, entity: str, values: dict[str, Any], author: str = API_AUTHOR, at: float | None = None
    ) -> int:
        """Insert a record; return its new id."""
        spec = ENTITIES[entity]
        with self._lock:
            record_id = self._next_id[entity]
            self._next_id[entity] = record_id + 1
            now = int(self._clock() if at is None else at)
            created = self._last_created[entity] = max(now, self._last_created[entity])
            stored: dict[str, Any] = {spec.id_field: record_id, spec.created_at: created}
            stored[f"{spec.prefix}CreatedBy"] = author
            _apply(stored, values)
            self._stamp(spec, stored, author, now)
            self._records[entity][record_id] = stored
            self._order[entity] = None
        self._changed(entity, record_id, "Create")
        return record_id

    def update(
        self,
        entity: str,
        record_id: int,
        values: dict[str, Any],
        author: str = API_AUTHOR,
        at: float | None = None,
    ) -> bool:
        """Change only the given properties; False if the record does not exist."""
        spec = ENTITIES[entity]
        with self._lock:
            stored = self._records[entity].get(record_id)
            if stored is None:
                return False
            _apply(stored, values)
            self._stamp(spec, stored, author, int(self._clock() if at is None else at))
        self._changed(entity, record_id, "Update")
        return True

    def replace(
        self, entity: str, record_id: int, values: dict[str, Any], author: str = API_AUTHOR
    ) -> bool:
        """Replace every client-writable property (left-out ones become unset)."""
        spec = ENTITIES[entity]
        with self._lock:
            stored = self._records[entity].get(record_id)
            if stored is None:
                return False
            kept = {k: v for k, v in stored.items() if k in spec.server_fields}
            stored.clear()
            stored.update(kept)
            _apply(stored, values)
            self._stamp(spec, stored, author, int(self._clock()))
        self._changed(entity, record_id, "Update")
        return True

    def remove(self, entity: str, record_id: int) -> bool:
        """Delete a record; False if it does not exist."""
        with self._lock:
            if self._records[entity].pop(record_id, None) is None:
                return False
            self._order[entity] = None
            self.version += 1
        self._changed(entity, record_id, "Delete")
        return True

    # --- the test handle: a human user in the CRM UI (never counted in stats) -----------------

    def edit(
        self, entity: str, record_id: int, changes: dict[str, Any], at: datetime | None = None
    ) -> None:
        """Change some properties of a record as a user would (bumps UpdatedAt)."""
        values = coerce_body(ENTITIES[entity], changes, self.zone)
        if not self.update(entity, record_id, values, UI_AUTHOR, _epoch(at)):
            raise KeyError(f"{entity} {record_id} does not exist")

    def insert(self, entity: str, record: dict[str, Any], at: datetime | None = None) -> int:
        """Create a record as a user would; return its id."""
        values = coerce_body(ENTITIES[entity], record, self.zone)
        return self.create(entity, values, UI_AUTHOR, _epoch(at))

    def delete(self, entity: str, record_id: int) -> None:
        """Delete a record as a user would."""
        if not self.remove(entity, record_id):
            raise KeyError(f"{entity} {record_id} does not exist")

    # --- persistence -------------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """A JSON-ready snapshot: records and id counters."""
        with self._lock:
            return {
                "next_id": dict(self._next_id),
                "records": {
                    e: [dict(r) for r in rows.values()] for e, rows in self._records.items()
                },
            }

    def load(self, snapshot: dict[str, Any]) -> None:
        """Replace everything with a snapshot made by dump()."""
        with self._lock:
            # An entity declared after the snapshot was written starts empty.
            self._next_id = {e: int(snapshot["next_id"].get(e, FIRST_ID)) for e in ENTITIES}
            for entity, spec in ENTITIES.items():
                rows = snapshot["records"].get(entity, [])
                self._records[entity] = {int(r[spec.id_field]): r for r in rows}
                self._order[entity] = None
                self._last_created[entity] = max((r[spec.created_at] for r in rows), default=0)
            self.version += 1

    # --- internals -----------------------------------------------------------------------------

    def _ordered_ids(self, entity: str) -> list[int]:
        ids = self._order[entity]
        if ids is None:
            ids = self._order[entity] = sorted(self._records[entity])
        return ids

    def _render(self, entity: str, stored: dict[str, Any]) -> dict[str, Any]:
        return render(ENTITIES[entity], stored, self._defaults[entity], self.zone)

    def _stamp(self, spec: EntitySpec, stored: dict[str, Any], author: str, now: int) -> None:
        stored[spec.updated_at] = now
        stored[f"{spec.prefix}UpdatedBy"] = author
        self.version += 1


def _apply(stored: dict[str, Any], values: dict[str, Any]) -> None:
    for name, value in values.items():
        if value is None:
            stored.pop(name, None)
        else:
            stored[name] = value


def _sort_key(value: Any) -> tuple[bool, Any]:
    return (value is not None, value if value is not None else 0)


def _epoch(at: datetime | None) -> float | None:
    if at is not None and at.tzinfo is None:
        raise ValueError("pass an aware datetime")
    return None if at is None else at.timestamp()
