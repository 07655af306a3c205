"""Two clients on one WebCRM token, each with its own store connection (as two runs have), over
real HTTP to the sandbox, which limits per API token: with the store's shared budget they get
no 429 and never put more than the limit in any window; on their own limiters they do not.

Both store backends: a SQLite file and a database on the session's PostgreSQL server.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sync_pipeline.clients import RateLimiter, SlidingWindowLimiter, WebcrmClient
from sync_pipeline.sandbox import RunningSandbox, running_sandbox
from sync_pipeline.store import RateBudget, budget_key
from sync_pipeline_tests.bench.fig_shared_budget import peak_in_window
from sync_pipeline_tests.sandbox.conftest import quick_settings

TOKEN = "sandbox-webcrm-token"
LIMIT, WINDOW, CALLS = 5, 1.0, 6  # per window (seconds); calls per client


def _two_clients(sandbox: RunningSandbox, limiter: Callable[[], RateLimiter]) -> list[float]:
    """Two clients, each with `limiter()`, make CALLS requests at once; the sandbox's arrival
    times of the limited requests (logins excluded)."""
    sandbox.reset_stats()

    def run() -> None:
        with WebcrmClient(sandbox.webcrm_url, TOKEN, limiter=limiter()) as client:
            for _ in range(CALLS):
                client.probe("Users")

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [at for at, family in sandbox.arrivals()["webcrm"] if "/Auth/" not in family]


def test_two_clients_sharing_the_stores_budget_stay_under_the_limit(store_url: str) -> None:
    """No 429, and at most LIMIT requests arrive in any window, though together the clients
    ask for more than two windows' worth."""
    settings = quick_settings(seed=3, webcrm_rate_limit=LIMIT, rate_window_seconds=WINDOW)
    budgets: list[RateBudget] = []

    def shared() -> RateLimiter:
        budgets.append(RateBudget(store_url))  # one store handle per client
        key = budget_key("webcrm", TOKEN)
        return budgets[-1].limiter(key, LIMIT, window_seconds=WINDOW)

    RateBudget(store_url).close()  # the schema first (racing first opens: another issue)
    try:
        with running_sandbox(settings) as sandbox:
            arrivals = _two_clients(sandbox, shared)
            throttled = sandbox.stats()["webcrm"]["throttled_429"]
    finally:
        for budget in budgets:
            budget.close()
    assert throttled == 0
    assert len(arrivals) == 2 * CALLS
    assert peak_in_window(arrivals, WINDOW) <= LIMIT


def test_own_limiters_on_one_token_together_exceed_the_limit() -> None:
    """The failure the shared budget prevents: each client within the limit, both over it."""
    settings = quick_settings(seed=3, webcrm_rate_limit=LIMIT, rate_window_seconds=WINDOW)
    with running_sandbox(settings) as sandbox:
        arrivals = _two_clients(sandbox, lambda: SlidingWindowLimiter(LIMIT, WINDOW))
        throttled = sandbox.stats()["webcrm"]["throttled_429"]
    assert throttled > 0
    assert peak_in_window(arrivals, WINDOW) > LIMIT


def test_peak_in_window_counts_a_sliding_window() -> None:
    """Arrivals within (t - window, t] count together; one exactly a window apart does not."""
    assert peak_in_window([0.0, 0.5, 0.9, 1.0, 1.4], 1.0) == 4
    assert peak_in_window([0.0, 1.0, 2.0], 1.0) == 1
    assert peak_in_window([3.0], 60.0) == 1
