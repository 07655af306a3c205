"""`LinkStore`'s received hook events: stored durably, read back after a cursor."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sync_pipeline.core.hook_payload import HookEvent
from sync_pipeline.store import _hook_events
from sync_pipeline.store._engine import read_transaction, write_transaction
from sync_pipeline.store._facade import FacadeBase
from sync_pipeline.store._hook_events import ReceivedEvent
from sync_pipeline.store._time import utc_now


class HookEventFacade(FacadeBase):
    """Received hook events (`_hook_events`)."""

    def add_hook_events(
        self, system: str, events: Sequence[HookEvent], *, now: datetime | None = None
    ) -> int:
        """Store received hook events durably (one transaction); return how many were new:
        an event already stored (same entity, id, type and time) is skipped."""
        with write_transaction(self._engine) as connection:
            return _hook_events.add_events(connection, system, events, utc_now(now))

    def events_after(self, cursor: int = 0, limit: int = 100) -> tuple[list[ReceivedEvent], int]:
        """Up to `limit` hook events stored after `cursor` (0: the first), oldest first, and
        the cursor to pass next time (`cursor` itself when there are none)."""
        with read_transaction(self._engine) as connection:
            events = _hook_events.events_after(connection, cursor, limit)
        return events, events[-1].id if events else cursor

    def last_hook_event_id(self) -> int:
        """The cursor past every hook event stored so far (0 when there are none)."""
        with read_transaction(self._engine) as connection:
            return _hook_events.last_id(connection)
