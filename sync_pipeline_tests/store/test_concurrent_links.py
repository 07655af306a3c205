"""Two pairs sharing CRMOffice contacts link them at the same moment: no deadlock, one owner each.

SQLite runs the two write transactions one after the other; PostgreSQL runs them side by side,
so each waits on the other's uncommitted claims of the same contacts.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sync_pipeline.store import LinkOutcome, LinkStore, LinkWrite
from sync_pipeline_tests.store.conftest import NOW

CONTACTS = 20_000  # enough rows for the two batches to meet mid-way


def _claim(url: str, pair: str, descending: bool, start: threading.Barrier) -> list[LinkOutcome]:
    numbers = sorted(range(CONTACTS), reverse=descending)
    rows = [LinkWrite(f"{pair}-{n}", f"c{n:05d}", {}, "match") for n in numbers]
    with LinkStore(url) as store:
        start.wait(60)
        return store.add_links(pair, "contacts", rows, f"run-{pair}", now=NOW)


def test_pairs_claiming_the_same_contacts_at_once_do_not_deadlock(store: LinkStore) -> None:
    """Pairs linking the same contacts in opposite orders at once both finish; every contact
    ends in exactly one link, and each batch reports the rows it lost as already linked."""
    start = threading.Barrier(2)
    claims = (("persons_contacts", False), ("users_contacts", True))
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(_claim, store.url, pair, down, start) for pair, down in claims]
        outcomes = [future.result(timeout=300) for future in futures]
    won = [sum(outcome.ok for outcome in batch) for batch in outcomes]
    assert sum(won) == CONTACTS
    lost = [outcome for batch in outcomes for outcome in batch if not outcome.ok]
    assert all(outcome.reason.startswith("already linked") for outcome in lost)
    linked = store.count_links("persons_contacts") + store.count_links("users_contacts")
    assert linked == CONTACTS
    assert len(store.linked_ids("contacts")) == CONTACTS
