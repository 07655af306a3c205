"""Crash durability: a writer SIGKILLed mid-transaction leaves a consistent, openable store.

On SQLite the uncommitted pages are in the WAL file and must be ignored on reopen; on
PostgreSQL the server must roll back the dead client's open transaction.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sqlite3
from multiprocessing.synchronize import Event

from sync_pipeline.store import LinkStore, LinkWrite, ShadowWrite
from sync_pipeline.store._engine import write_transaction
from sync_pipeline.store._links import add_links
from sync_pipeline.store._shadows import update_shadows
from sync_pipeline_tests.store.conftest import FIELDS, NOW

PAIR = "persons_contacts"
COMMITTED = 100
UNCOMMITTED = 20_000


def _write_then_hang(url: str, written: Event) -> None:
    """Commit a first batch, then write a big batch and stall inside its transaction."""
    with LinkStore(url) as store:
        rows = [
            LinkWrite(str(i), f"c{i}", {"givenName": "kept"}, "match") for i in range(COMMITTED)
        ]
        store.add_links(PAIR, "contacts", rows, "committed-run", now=NOW)
        with write_transaction(store._engine) as connection:
            more = [
                LinkWrite(str(i), f"c{i}", {"givenName": "lost"}, "create")
                for i in range(COMMITTED, COMMITTED + UNCOMMITTED)
            ]
            add_links(connection, PAIR, "contacts", more, "killed-run", NOW)
            changes = [
                ShadowWrite(str(i), {"givenName": "lost"}, "update") for i in range(COMMITTED)
            ]
            update_shadows(connection, PAIR, changes, "killed-run", NOW)
            written.set()
            os.kill(os.getpid(), signal.SIGSTOP)  # stall here until the parent kills us


def test_sigkill_mid_transaction_leaves_nothing_half_applied(store_url: str) -> None:
    """After SIGKILL inside a write the store opens, passes its checks and holds only commits."""
    context = mp.get_context("spawn")
    written = context.Event()
    child = context.Process(target=_write_then_hang, args=(store_url, written))
    child.start()
    try:
        assert written.wait(120), "child never reached the middle of its transaction"
        if store_url.startswith("sqlite"):
            wal = store_url.removeprefix("sqlite:///") + "-wal"
            assert os.path.getsize(wal) > 0  # the uncommitted pages really reached the disk
    finally:
        os.kill(child.pid or 0, signal.SIGKILL)
        child.join(30)
    assert child.exitcode == -signal.SIGKILL
    with LinkStore(store_url) as store:
        frame = store.links_frame(PAIR, FIELDS)
        assert len(frame) == COMMITTED and frame["givenName"].eq("kept").all()
        assert set(store.history_frame(limit=None)["run_id"]) == {"committed-run"}
        report = store.check()
        assert report.ok, report.problems
        store.add_links(PAIR, "contacts", [LinkWrite("new", "c-new", {}, "create")], "next-run")
        assert store.count_links(PAIR) == COMMITTED + 1
    if store_url.startswith("sqlite"):
        with sqlite3.connect(store_url.removeprefix("sqlite:///")) as raw:
            assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
