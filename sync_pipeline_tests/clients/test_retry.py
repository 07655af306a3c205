"""Retry timing: capped exponential backoff with jitter, Retry-After, budgets, testing mode."""

from __future__ import annotations

import random

import pytest

from sync_pipeline.clients import RetryPolicy
from sync_pipeline.clients.retry import parse_retry_after
from sync_pipeline_tests.clients.fakes import FakeClock


def _policy(
    clock: FakeClock, *, timeout_seconds: float = 300.0, max_retry_after: float = 120.0
) -> RetryPolicy:
    return RetryPolicy(
        timeout_seconds=timeout_seconds,
        max_retry_after=max_retry_after,
        sleep=clock.sleep,
        clock=clock,
        rng=random.Random(1),
    )


def test_backoff_doubles_with_bounded_jitter_and_a_cap() -> None:
    """Retry n waits wait_initial*2^(n-1) plus at most wait_jitter, never over wait_max."""
    policy = RetryPolicy(wait_initial=0.5, wait_jitter=0.5, wait_max=5.0, rng=random.Random(7))
    for n, base in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0)]:
        assert base <= policy.backoff(n) <= base + 0.5
    assert policy.backoff(10) == 5.0


def test_budget_allows_attempts_minus_one_retries() -> None:
    """Six attempts mean five retries, then None."""
    clock = FakeClock()
    budget = _policy(clock).start()
    delays = [budget.next_delay(None) for _ in range(6)]
    assert all(d is not None for d in delays[:5])
    assert delays[5] is None
    assert budget.attempt == 6


def test_retry_after_is_used_as_given() -> None:
    """A server's Retry-After replaces the backoff."""
    budget = _policy(FakeClock()).start()
    assert budget.next_delay(7.0) == 7.0


def test_retry_after_beyond_the_cap_gives_up() -> None:
    """A Retry-After longer than max_retry_after is not waited out."""
    budget = _policy(FakeClock(), max_retry_after=30.0).start()
    assert budget.next_delay(31.0) is None


def test_total_time_budget_is_enforced() -> None:
    """No retry is scheduled that would end past timeout_seconds."""
    clock = FakeClock()
    budget = _policy(clock, timeout_seconds=10.0).start()
    assert budget.next_delay(6.0) == 6.0
    clock.now += 6.0
    assert budget.next_delay(6.0) is None


def test_testing_mode_decides_the_same_but_does_not_sleep() -> None:
    """RetryPolicy.testing() keeps the attempt cap and skips the waits."""
    policy = RetryPolicy.testing(attempts=3)
    budget = policy.start()
    delay = budget.next_delay(100.0)
    assert delay == 100.0
    budget.wait(delay)  # returns at once
    assert budget.next_delay(None) is not None
    assert budget.next_delay(None) is None


def test_at_least_one_attempt() -> None:
    """Zero attempts is a configuration error."""
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("3", 3.0), (" 1.5 ", 1.5), (None, None), ("soon", None), ("-2", None)],
)
def test_parse_retry_after_reads_seconds(header: str | None, seconds: float | None) -> None:
    """Retry-After in seconds parses; absent, negative or non-numeric values are ignored."""
    assert parse_retry_after(header, now=0.0) == seconds
