"""The pair lock as a lease on the database's clock with a fencing token, on SQLite and on a
real PostgreSQL server: tokens, fenced writes, heartbeat."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from sync_pipeline.store import LeaseLostError, LinkStore, LinkWrite, PairLockedError
from sync_pipeline.store._engine import read_transaction
from sync_pipeline.store._schema import locks
from sync_pipeline_tests.store.conftest import NOW

PAIR = "persons_contacts"


@pytest.fixture
def store(store_url: str) -> Iterator[LinkStore]:
    """An empty store on the backend of the test's parameter."""
    with LinkStore(store_url) as opened:
        yield opened


def _rows(store: LinkStore) -> list[tuple[str, int, str]]:
    # why the private engine: the test reads the lease rows as the database holds them
    with read_transaction(store._engine) as connection:
        query = select(locks.c.owner, locks.c.token, locks.c.status).order_by(locks.c.pair)
        return [(o, int(t), s) for o, t, s in connection.execute(query)]


def test_token_grows_at_every_acquisition_and_is_never_reused(store: LinkStore) -> None:
    """Each acquisition (new, after a release, or a takeover of an expired lease) gets the
    pair's next token; a release keeps the row, marked free."""
    tokens = []
    for run in ("run-a", "run-b", "run-c"):
        with store.pair_lock(PAIR, run) as lock:
            tokens.append(lock.token)
    assert tokens == [1, 2, 3]
    assert _rows(store) == [("run-c", 3, "free")]
    crashed = store.pair_lock(PAIR, "crashed", ttl_seconds=0)
    crashed.__enter__()  # expired at once, never exited: the process "died"
    with store.pair_lock(PAIR, "run-d") as lock:
        assert lock.token == 5
    with store.pair_lock("users_contacts", "run-e") as other:
        assert other.token == 1


def test_a_holder_whose_lease_was_taken_writes_nothing(store: LinkStore) -> None:
    """A holder whose lease expired (database clock) and was taken over gets LeaseLostError at
    its next write and next renewal; the new holder's fenced writes go through."""
    slow = store.pair_lock(PAIR, "slow-run", ttl_seconds=0)
    old = slow.__enter__()  # expired at once by the database's clock; never exited
    with store.pair_lock(PAIR, "new-run") as new:
        with pytest.raises(LeaseLostError, match=r"lost its lock \(token 1: token 2 is held by"):
            store.add_links(
                PAIR, "contacts", [LinkWrite("1", "c1", {}, "match")], "slow-run", fence=old.fence
            )
        assert old.lost
        with pytest.raises(LeaseLostError):
            old.ensure()
        with pytest.raises(LeaseLostError):
            store.set_cursors(PAIR, {"webcrm/Persons": NOW}, fence=old.fence)
        assert store.count_links(PAIR) == 0 and store.get_cursor(PAIR, "webcrm/Persons") is None
        store.add_links(
            PAIR, "contacts", [LinkWrite("2", "c2", {}, "match")], "new-run", fence=new.fence
        )
    assert store.linked_webcrm_ids(PAIR) == {"2"}


def test_an_expired_lease_fences_its_writes_even_before_a_takeover(store: LinkStore) -> None:
    """Past its expiry on the database's clock, a lease no longer covers writes."""
    late = store.pair_lock(PAIR, "late-run", ttl_seconds=0)
    lock = late.__enter__()
    with pytest.raises(LeaseLostError, match="expired at"):
        store.reactivate_links(PAIR, ["1"], "late-run", fence=lock.fence)
    assert store.check().expired_locks == (PAIR,)


def test_released_lease_fences_its_writes(store: LinkStore) -> None:
    """After its block, a lock's fence no longer lets writes through."""
    with store.pair_lock(PAIR, "run-a") as lock:
        store.open_intents_for(PAIR, "to_crmoffice", [("1", {})], "run-a", fence=lock.fence)
    with pytest.raises(LeaseLostError, match="token 1 is free"):
        store.open_intents_for(PAIR, "to_crmoffice", [("2", {})], "run-a", fence=lock.fence)
    assert list(store.open_intents(PAIR, [])["source_id"]) == ["1"]


def test_heartbeat_keeps_a_live_lease_past_its_ttl(store: LinkStore) -> None:
    """With a heartbeat every TTL/3 the lease outlives several TTLs: no takeover, writes pass."""
    with store.pair_lock(PAIR, "long-run", ttl_seconds=1.5, heartbeat_seconds=0.5) as lock:
        time.sleep(4.0)
        with pytest.raises(PairLockedError, match="long-run"), store.pair_lock(PAIR, "other-run"):
            pass
        store.open_intents_for(PAIR, "to_crmoffice", [("1", {})], "long-run", fence=lock.fence)
        assert not lock.lost


def test_a_failed_heartbeat_marks_the_lease_lost(store: LinkStore) -> None:
    """When a heartbeat finds the lease gone (here: freed by an operator), the lock is lost
    and the next write raises without writing."""
    with store.pair_lock(PAIR, "run-a", ttl_seconds=30, heartbeat_seconds=0.2) as lock:
        store.release_lock(PAIR, "run-a")
        deadline = time.monotonic() + 10
        while not lock.lost and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lock.lost
        with pytest.raises(LeaseLostError, match="renewal failed"):
            store.open_intents_for(PAIR, "to_crmoffice", [("1", {})], "run-a", fence=lock.fence)
    assert store.open_intents(PAIR, []).empty
