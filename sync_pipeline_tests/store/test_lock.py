"""One writer per pair: the pair lock, within a process and across processes."""

from __future__ import annotations

import multiprocessing as mp
from datetime import timedelta
from multiprocessing.synchronize import Barrier, Event

import pytest

from sync_pipeline.store import LinkStore, PairLockedError
from sync_pipeline_tests.store.conftest import NOW

PAIR = "persons_contacts"


def test_second_owner_is_refused_with_a_clear_message(store: LinkStore) -> None:
    """While run A holds the lock, run B gets PairLockedError naming A and since when."""
    with (
        store.pair_lock(PAIR, "run-a", now=NOW),
        pytest.raises(PairLockedError) as raised,
        store.pair_lock(PAIR, "run-b", now=NOW),
    ):
        pass
    error = raised.value
    assert (error.pair, error.owner, error.since) == (PAIR, "run-a", NOW)
    assert str(error).startswith(
        f"pair {PAIR} is being synced by run run-a since {NOW.isoformat()}; wait for it"
    )


def test_lock_is_released_on_exit_and_on_error(store: LinkStore) -> None:
    """The lock is free after the block, also when the block raised."""
    with store.pair_lock(PAIR, "run-a"):
        pass
    with pytest.raises(RuntimeError), store.pair_lock(PAIR, "run-b"):
        raise RuntimeError("boom")
    with store.pair_lock(PAIR, "run-c") as lock:
        assert lock.owner == "run-c"


def test_locks_are_per_pair(store: LinkStore) -> None:
    """Holding one pair's lock does not block another pair."""
    with store.pair_lock(PAIR, "run-a"), store.pair_lock("users_contacts", "run-b"):
        pass


def test_expired_lock_is_taken_over(store: LinkStore) -> None:
    """A lock past its expiry (a crashed run) is taken over; a live one is not."""
    crashed = store.pair_lock(PAIR, "crashed", ttl_seconds=60, now=NOW)
    crashed.__enter__()  # never exited: the process "died"
    with pytest.raises(PairLockedError):
        store.pair_lock(PAIR, "early", now=NOW + timedelta(seconds=59)).__enter__()
    with store.pair_lock(PAIR, "late", now=NOW + timedelta(seconds=61)) as lock:
        assert lock.owner == "late"


def test_refresh_extends_and_detects_takeover(store: LinkStore) -> None:
    """refresh pushes the expiry forward while the lock is ours, and says when it is not."""
    with store.pair_lock(PAIR, "run-a", ttl_seconds=60, now=NOW) as lock:
        assert lock.refresh(now=NOW + timedelta(seconds=50))
        with pytest.raises(PairLockedError):
            store.pair_lock(PAIR, "run-b", now=NOW + timedelta(seconds=100)).__enter__()
        with store.pair_lock(PAIR, "run-b", now=NOW + timedelta(seconds=111)):
            assert not lock.refresh(now=NOW + timedelta(seconds=112))


def _hold_lock(url: str, held: Event, release: Event) -> None:
    with LinkStore(url) as store, store.pair_lock(PAIR, "child-run"):
        held.set()
        release.wait(30)


def test_lock_holds_across_processes(store_url: str) -> None:
    """A lock held by another process refuses this one, and is free once that process is done."""
    context = mp.get_context("spawn")
    held, release = context.Event(), context.Event()
    child = context.Process(target=_hold_lock, args=(store_url, held, release))
    child.start()
    try:
        assert held.wait(60)
        with LinkStore(store_url) as store:
            with (
                pytest.raises(PairLockedError, match="by run child-run"),
                store.pair_lock(PAIR, "parent-run"),
            ):
                pass
            release.set()
            child.join(60)
            with store.pair_lock(PAIR, "parent-run"):
                pass
    finally:
        release.set()
        child.join(60)
    assert child.exitcode == 0


def _race_for_lock(url: str, start: Barrier, results: mp.Queue[str]) -> None:
    with LinkStore(url) as store:
        start.wait(60)
        try:
            with store.pair_lock(PAIR, "racer"):
                results.put("won")
                start.wait(60)  # hold the lock until every racer has tried
                return
        except PairLockedError:
            results.put("lost")
        start.wait(60)


def test_simultaneous_acquires_have_one_winner(store_url: str) -> None:
    """Four processes grabbing the same free lock at once: exactly one gets it."""
    LinkStore(store_url).close()
    context = mp.get_context("spawn")
    start, results = context.Barrier(4), context.Queue()
    racers = [
        context.Process(target=_race_for_lock, args=(store_url, start, results)) for _ in range(4)
    ]
    for racer in racers:
        racer.start()
    outcomes = sorted(results.get(timeout=120) for _ in racers)
    for racer in racers:
        racer.join(60)
    assert outcomes == ["lost", "lost", "lost", "won"]
