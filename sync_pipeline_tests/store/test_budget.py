"""The shared request budget: one sliding-window limit per token across processes, on the
database's clock, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from sync_pipeline.store import SCHEMA_VERSION, LinkStore, RateBudget, budget_key
from sync_pipeline.store._engine import normalised_url

TOKEN = "secret-webcrm-api-token-0123456789"


class WouldWait(Exception):
    """Raised by a `sleep` that must not be called: the limiter wanted to wait."""


def _no_wait(seconds: float) -> None:
    raise WouldWait(seconds)


def _rows(url: str, table: str) -> list[tuple[object, ...]]:
    engine = create_engine(normalised_url(url))
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(f"SELECT * FROM {table}"))]
    finally:
        engine.dispose()


def _most_in_any_window(stamps: list[datetime], window: timedelta) -> int:
    """The most stamps inside one half-open window [s, s + window) starting at a stamp."""
    ordered = sorted(stamps)
    return max(sum(1 for t in ordered if s <= t < s + window) for s in ordered)


def test_budget_key_is_a_digest_not_the_token() -> None:
    """`system:` + 16 hex digits; equal tokens share a key, different ones do not."""
    key = budget_key("webcrm", TOKEN)
    assert key.startswith("webcrm:") and len(key) == len("webcrm:") + 16
    assert TOKEN not in key
    assert key == budget_key("webcrm", TOKEN) != budget_key("webcrm", TOKEN + "x")


def test_two_processes_on_one_token_never_exceed_the_limit(store_url: str) -> None:
    """Two limiters with their own store connections (as two runs have) share one key: the
    instants their requests run, stamped on the database's clock, never put more than `limit`
    in any window, though together they ask for three windows' worth."""
    limit, window, per_run = 4, 0.5, 6
    stamps: list[datetime] = []
    guard = threading.Lock()

    def run() -> None:
        with RateBudget(store_url) as budget:
            limiter = budget.limiter(
                budget_key("webcrm", TOKEN), limit, window_seconds=window, margin_seconds=0.02
            )
            for _ in range(per_run):
                with limiter.slot():
                    stamp = budget.now()  # while the request would be in flight
                with guard:
                    stamps.append(stamp)

    # Schema creation first: racing first opens of an empty database are another issue's part.
    RateBudget(store_url).close()
    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(stamps) == 2 * per_run
    assert _most_in_any_window(stamps, timedelta(seconds=window)) <= limit
    # Nothing is left in flight, and old slots are swept as new ones are granted.
    assert len(_rows(store_url, "rate_grants")) <= limit


def test_different_tokens_do_not_share_a_budget(store_url: str) -> None:
    """A token's full budget stays available while another token's is spent."""
    with RateBudget(store_url) as budget:
        first = budget.limiter(budget_key("webcrm", TOKEN), 2, sleep=_no_wait)
        other = budget.limiter(budget_key("webcrm", "another-token"), 2, sleep=_no_wait)
        for _ in range(2):
            with first.slot():
                pass
        with pytest.raises(WouldWait):
            first.acquire()
        for _ in range(2):
            with other.slot():
                pass


def test_a_spent_budget_waits_until_the_oldest_request_leaves_the_window(
    store_url: str,
) -> None:
    """The wait is the time until the first slot's end + window + margin, on the database's
    clock: just under 60.1 s right after one request under a limit of 1 a minute."""
    with RateBudget(store_url) as budget:
        limiter = budget.limiter(budget_key("webcrm", TOKEN), 1, sleep=_no_wait)
        with limiter.slot():
            pass
        with pytest.raises(WouldWait) as waited:
            budget.limiter(budget_key("webcrm", TOKEN), 1, sleep=_no_wait).acquire()
    wait = waited.value.args[0]
    assert 50.0 < wait <= 60.1


def test_in_flight_requests_count_and_a_crashed_holders_slot_expires(store_url: str) -> None:
    """A slot taken and never released (its process died) blocks the budget until its lease
    and one window have passed, then the budget is usable again."""
    key = budget_key("webcrm", TOKEN)
    with RateBudget(store_url) as budget:
        crashed = budget.limiter(key, 1, window_seconds=0.2, lease_seconds=0.2)
        crashed.acquire()  # never released
        with pytest.raises(WouldWait):
            budget.limiter(key, 1, window_seconds=0.2, sleep=_no_wait).acquire()
        survivor = budget.limiter(key, 1, window_seconds=0.2)
        with survivor.slot():  # waits out the lease and the window, then runs
            pass


def test_the_token_is_never_stored(store_url: str) -> None:
    """The budget tables hold the key (a digest) and times, never the token."""
    key = budget_key("webcrm", TOKEN)
    with RateBudget(store_url) as budget, budget.limiter(key, 5).slot():
        pass
    budgets = _rows(store_url, "rate_budgets")
    grants = _rows(store_url, "rate_grants")
    assert [row[0] for row in budgets] == [budget_key("webcrm", TOKEN)]
    assert len(grants) == 1 and grants[0][1] == budget_key("webcrm", TOKEN)
    dumped = repr(budgets) + repr(grants)
    assert TOKEN not in dumped and TOKEN[:12] not in dumped


def test_unpaced_limiter_never_touches_the_database(store_url: str) -> None:
    """`limit` None admits everything and writes nothing."""
    with RateBudget(store_url) as budget:
        limiter = budget.limiter(budget_key("webcrm", TOKEN), None, sleep=_no_wait)
        for _ in range(10):
            with limiter.slot():
                pass
    assert _rows(store_url, "rate_grants") == []


def test_a_version_3_store_gains_the_budget_tables(sqlite_url: str) -> None:
    """Opening a store of schema version 3 adds the budget tables (version 4)."""
    LinkStore(sqlite_url).close()
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as raw:
        raw.execute("DROP TABLE rate_grants")
        raw.execute("DROP TABLE rate_budgets")
        raw.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    with LinkStore(sqlite_url) as store:
        assert store.schema_version == SCHEMA_VERSION  # and every later step ran
    key = budget_key("webcrm", TOKEN)
    with RateBudget(sqlite_url) as budget, budget.limiter(key, 1).slot():
        pass
    assert len(_rows(sqlite_url, "rate_grants")) == 1


def test_a_slot_whose_end_cannot_be_written_does_not_fail_the_request(store_url: str) -> None:
    """`release` never raises for the database: the request was made; its slot, unended,
    counts until its lease ends."""
    with RateBudget(store_url) as budget:
        limiter = budget.limiter(budget_key("webcrm", TOKEN), 1)
        limiter.acquire()
        engine = create_engine(normalised_url(store_url))
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE rate_grants"))
        engine.dispose()
        limiter.release()  # logged, not raised
