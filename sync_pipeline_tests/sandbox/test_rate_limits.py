"""Sliding-window rate limits: the documented 429s with a truthful Retry-After."""

from __future__ import annotations

import math
import time

import httpx

from sync_pipeline.sandbox import running_sandbox
from sync_pipeline.sandbox.access import SlidingWindowLimiter
from sync_pipeline_tests.sandbox.conftest import crmoffice_login, quick_settings, webcrm_login


def test_webcrm_burst_of_300_gets_exactly_250_then_429() -> None:
    """At 250/min the first 250 calls succeed; the rest get 429 with the documented body."""
    with (
        running_sandbox(quick_settings(seed=3, webcrm_rate_limit=250)) as sandbox,
        webcrm_login(sandbox.webcrm_url) as client,
    ):
        started = time.monotonic()
        statuses = [client.get("/Users", params={"Size": 1}) for _ in range(300)]
        last = statuses[-1]
        elapsed = time.monotonic() - started
        assert [r.status_code for r in statuses] == [200] * 250 + [429] * 50
        body = last.json()
        assert body["Type"] == "TooManyRequestsException" and body["Message"]
        retry_after = int(last.headers["Retry-After"])
        assert body["RetryAfterSeconds"] == retry_after
        # The oldest call leaves the 60 s window 60 s after it was made.
        assert math.floor(60 - elapsed) <= retry_after <= math.ceil(60 - elapsed) + 1
        assert sandbox.stats()["webcrm"]["throttled_429"] == 50


def test_webcrm_limit_is_per_api_token_across_logins() -> None:
    """Two logins with one API token share its window (a second run gets no fresh budget);
    the arrivals record every request, throttled ones too."""
    with (
        running_sandbox(quick_settings(seed=3, webcrm_rate_limit=5)) as sandbox,
        webcrm_login(sandbox.webcrm_url) as first,
        webcrm_login(sandbox.webcrm_url) as second,
    ):
        sandbox.reset_stats()
        statuses = [c.get("/Users", params={"Size": 1}).status_code for c in [first, second] * 4]
        assert statuses == [200] * 5 + [429] * 3
        arrivals = sandbox.arrivals()["webcrm"]
        assert [family for _, family in arrivals] == ["GET /Users"] * 8
        assert [at for at, _ in arrivals] == sorted(at for at, _ in arrivals)


def test_crmoffice_rate_limit_is_configurable() -> None:
    """CRMOffice answers 429 problem+json with Retry-After past its configured limit."""
    with (
        running_sandbox(quick_settings(seed=3, crmoffice_rate_limit=20)) as sandbox,
        crmoffice_login(sandbox.crmoffice_url) as client,
    ):
        statuses = [client.get("/companies").status_code for _ in range(25)]
        assert statuses == [200] * 20 + [429] * 5
        throttled = client.get("/companies")
        assert throttled.headers["content-type"].startswith("application/problem+json")
        assert 1 <= int(throttled.headers["Retry-After"]) <= 60
        assert httpx.get(f"{sandbox.crmoffice_url}/_sandbox/stats").json()["throttled_429"] == 6


def test_window_slides_and_retry_after_is_the_time_until_a_slot_frees() -> None:
    """A slot frees exactly when the oldest admitted request leaves the window."""
    now = [1000.0]
    limiter = SlidingWindowLimiter(3, window=60.0, clock=lambda: now[0])
    for offset in (0.0, 10.0, 20.0):
        now[0] = 1000.0 + offset
        assert limiter.acquire("token") is None
    now[0] = 1030.5
    assert limiter.acquire("token") == 30  # the call at 1000.0 leaves at 1060.0
    assert limiter.acquire("other") is None  # per token
    now[0] = 1060.0
    assert limiter.acquire("token") is None
    assert limiter.acquire("token") == 10
