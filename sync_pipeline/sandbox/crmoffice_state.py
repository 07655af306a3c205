"""CRMOffice records in memory: what the API serves and what a test edits "in the CRM UI".

Thread-safe. Ids are strings (`crmoffice_assumptions.ID_PREFIX` + a number); timestamps are
epoch milliseconds, and `updatedAt` strictly increases with every write across the system so
that `updatedSince` (>=) filtering never misses a change.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sync_pipeline.sandbox.crmoffice_assumptions import (
    ENTITIES,
    FIELD_ORDER,
    FIRST_ID_NUMBER,
    ID_PREFIX,
)
from sync_pipeline.sandbox.crmoffice_validation import validate_body, writable_fields
from sync_pipeline.sandbox.timestamps import crmoffice_timestamp


class ReferencedRecord(Exception):
    """A delete refused because other records still refer to the record."""


class CrmofficeState:
    """All CRMOffice records; API operations plus a handle for tests acting as a human user."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._records: dict[str, dict[str, dict[str, Any]]] = {e: {} for e in ENTITIES}
        self._next_number = dict.fromkeys(ENTITIES, FIRST_ID_NUMBER)
        self._last_millis = 0
        self.version = 0

    # --- reads -------------------------------------------------------------------------------

    def page(
        self, entity: str, page: int, size: int, since: float | None
    ) -> tuple[list[dict[str, Any]], int]:
        """One page in id order (updatedAt >= since, epoch seconds) and the total match count."""
        with self._lock:
            rows = list(self._records[entity].values())
            if since is not None:
                floor = since * 1000
                rows = [r for r in rows if r["updatedAt"] >= floor]
            return [_render(entity, r) for r in rows[(page - 1) * size : page * size]], len(rows)

    def get(self, entity: str, record_id: str) -> dict[str, Any] | None:
        """One rendered record, or None."""
        with self._lock:
            stored = self._records[entity].get(record_id)
            return None if stored is None else _render(entity, stored)

    def exists(self, entity: str, record_id: str) -> bool:
        """Whether a record with this id exists."""
        with self._lock:
            return record_id in self._records[entity]

    def records(self, entity: str) -> list[dict[str, Any]]:
        """Every record of an entity, rendered as the API would, in id order."""
        with self._lock:
            return [_render(entity, r) for r in self._records[entity].values()]

    # --- writes (values already validated) -----------------------------------------------------

    def create(
        self, entity: str, values: dict[str, Any], at: float | None = None
    ) -> dict[str, Any]:
        """Insert a record; return it rendered."""
        with self._lock:
            return _render(entity, self._records[entity][self.add(entity, values, at)])

    def add(self, entity: str, values: dict[str, Any], at: float | None = None) -> str:
        """Insert a record; return its new id."""
        with self._lock:
            record_id = f"{ID_PREFIX[entity]}{self._next_number[entity]}"
            self._next_number[entity] += 1
            stored: dict[str, Any] = dict.fromkeys(writable_fields(entity))
            stored.update(values, id=record_id)
            stored["createdAt"] = stored["updatedAt"] = self._tick(at)
            self._records[entity][record_id] = stored
            return record_id

    def update(
        self, entity: str, record_id: str, values: dict[str, Any], at: float | None = None
    ) -> dict[str, Any] | None:
        """Change only the given fields; None if the record does not exist."""
        with self._lock:
            stored = self._records[entity].get(record_id)
            if stored is None:
                return None
            stored.update(values)
            stored["updatedAt"] = self._tick(at)
            return _render(entity, stored)

    def replace(self, entity: str, record_id: str, values: dict[str, Any]) -> dict[str, Any] | None:
        """Replace every writable field (left-out ones become null)."""
        return self.update(entity, record_id, {**dict.fromkeys(writable_fields(entity)), **values})

    def remove(self, entity: str, record_id: str) -> bool:
        """Delete a record; False if missing. ReferencedRecord if contacts still point at it."""
        with self._lock:
            if record_id not in self._records[entity]:
                return False
            if entity == "companies" and any(
                (c["company"] or {}).get("id") == record_id
                for c in self._records["contacts"].values()
            ):
                raise ReferencedRecord(f"company {record_id} is referenced by contacts")
            del self._records[entity][record_id]
            self.version += 1
            return True

    def validate(self, entity: str, body: Any) -> dict[str, Any]:
        """Validate a write body against this state (references must exist). Raises InvalidBody."""
        return validate_body(entity, body, self.exists)

    # --- the test handle: a human user in the CRM UI (never counted in stats) -----------------

    def edit(
        self, entity: str, record_id: str, changes: dict[str, Any], at: datetime | None = None
    ) -> None:
        """Change some fields as a user would (bumps updatedAt). Raises InvalidBody, KeyError."""
        values = self.validate(entity, changes)
        if self.update(entity, record_id, values, None if at is None else at.timestamp()) is None:
            raise KeyError(f"{entity} {record_id} does not exist")

    def insert(self, entity: str, record: dict[str, Any], at: datetime | None = None) -> str:
        """Create a record as a user would; return its id."""
        values = self.validate(entity, record)
        return self.add(entity, values, None if at is None else at.timestamp())

    def delete(self, entity: str, record_id: str) -> None:
        """Delete a record as a user would."""
        if not self.remove(entity, record_id):
            raise KeyError(f"{entity} {record_id} does not exist")

    # --- persistence -------------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """A JSON-ready snapshot: records, id counters and the write clock."""
        with self._lock:
            return {
                "next_number": dict(self._next_number),
                "last_millis": self._last_millis,
                "records": {
                    e: [dict(r) for r in rows.values()] for e, rows in self._records.items()
                },
            }

    def load(self, snapshot: dict[str, Any]) -> None:
        """Replace everything with a snapshot made by dump()."""
        with self._lock:
            self._next_number = {e: int(snapshot["next_number"][e]) for e in ENTITIES}
            self._last_millis = int(snapshot["last_millis"])
            for entity in ENTITIES:
                rows = snapshot["records"].get(entity, [])
                self._records[entity] = {r["id"]: r for r in rows}
            self.version += 1

    def _tick(self, at: float | None) -> int:
        """The next write time: now in ms, or later than the last write (strictly increasing)."""
        self.version += 1
        if at is not None:  # a back-dated test edit does not move the write clock back,
            # nor does a stamp from the future (a bad import) drag later writes along
            now = int(self._clock() * 1000)
            self._last_millis = max(self._last_millis, min(int(at * 1000), now))
            return int(at * 1000)
        self._last_millis = max(int(self._clock() * 1000), self._last_millis + 1)
        return self._last_millis


def _render(entity: str, stored: dict[str, Any]) -> dict[str, Any]:
    record = {name: stored.get(name) for name in FIELD_ORDER[entity]}
    record["createdAt"] = crmoffice_timestamp(stored["createdAt"])
    record["updatedAt"] = crmoffice_timestamp(stored["updatedAt"])
    for name, value in record.items():
        if isinstance(value, dict):
            record[name] = dict(value)
    return record
