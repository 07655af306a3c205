"""The hook-event inbox on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import inspect

from sync_pipeline.core.hook_payload import HookEvent
from sync_pipeline.store import SCHEMA_VERSION, LinkStore
from sync_pipeline.store._engine import create_store_engine
from sync_pipeline.store._migrate import MIGRATIONS, ensure_schema
from sync_pipeline_tests.store.conftest import NOW

EVENTS = [
    HookEvent("Persons", "1042", "Update", NOW),
    HookEvent("Persons", "1043", "Create", NOW + timedelta(milliseconds=5)),
    HookEvent("Users", "1001", "Delete", NOW + timedelta(seconds=1)),
]


def test_events_are_stored_once_and_read_by_cursor(store_url: str) -> None:
    """New events are stored; the same events again are skipped; the cursor pages through."""
    with LinkStore(store_url) as store:
        assert store.add_hook_events("webcrm", EVENTS, now=NOW) == 3
        assert store.add_hook_events("webcrm", [EVENTS[0], EVENTS[0]], now=NOW) == 0
        first, cursor = store.events_after(0, limit=2)
        assert [(e.entity, e.record_id, e.event_type) for e in first] == [
            ("Persons", "1042", "Update"),
            ("Persons", "1043", "Create"),
        ]
        assert first[1].event_time == NOW + timedelta(milliseconds=5)
        assert first[0].system == "webcrm" and first[0].received_at == NOW
        rest, cursor = store.events_after(cursor, limit=2)
        assert [e.record_id for e in rest] == ["1001"]
        assert store.events_after(cursor) == ([], cursor)


def test_events_survive_reopening(store_url: str) -> None:
    """An added event is durable: a new store object on the same URL reads it."""
    with LinkStore(store_url) as store:
        store.add_hook_events("webcrm", EVENTS[:1], now=NOW)
    with LinkStore(store_url) as reopened:
        events, _ = reopened.events_after(0)
    assert [e.record_id for e in events] == ["1042"]


def test_a_previous_version_store_gains_the_table(store_url: str) -> None:
    """A store from before `hook_events` (version 2) is migrated and gets the table."""
    engine = create_store_engine(store_url)
    previous = 2
    earlier = {v: step for v, step in MIGRATIONS.items() if v < previous}
    ensure_schema(engine, store_url, target=previous, steps=earlier)
    with engine.connect() as connection:
        # A store made at `previous` by create_all has every table; drop ours to be honest.
        connection.exec_driver_sql("DROP TABLE hook_events")
        connection.commit()
    engine.dispose()
    with LinkStore(store_url) as store:
        assert store.schema_version == SCHEMA_VERSION
        store.add_hook_events("webcrm", EVENTS, now=NOW)
        assert len(store.events_after(0)[0]) == 3
    engine = create_store_engine(store_url)
    assert inspect(engine).has_table("hook_events")
    engine.dispose()
