"""When and how long to wait before trying a request again.

What counts as retriable (429, 500, 502, 503, 504 and transport errors; nothing else) is decided
once at the HTTP edge; this module owns the timing: exponential backoff with jitter, the server's
`Retry-After` when it sends one, and a cap on both attempts and total time. `RetryPolicy.testing()`
keeps every decision but skips the sleeps (the habit of hynek/stamina's testing mode).

`Retry-After` is read in both forms of RFC 9110 section 10.2.3: delay-seconds (`120`) or an
HTTP-date (`Fri, 31 Dec 1999 23:59:59 GMT`, parsed by the standard library). A retry never
comes before the time the server gave; a date already past means "now"; a value that is
neither form is ignored and the backoff applies. The default budget covers a server's wait
of up to `max_retry_after` (120 s) within `timeout_seconds` (300 s): a 30 s Retry-After is
waited out, a longer wait than the cap gives up at once rather than stall the run.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC

Clock = Callable[[], float]
Sleep = Callable[[float], None]


def _no_sleep(_seconds: float) -> None:
    """Testing mode: pretend to wait."""


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with jitter that defers to the server's `Retry-After`."""

    attempts: int = 6
    timeout_seconds: float = 300.0
    wait_initial: float = 0.5
    wait_max: float = 30.0
    wait_jitter: float = 0.5
    max_retry_after: float = 120.0
    sleep: Sleep = time.sleep
    clock: Clock = time.monotonic
    wall_clock: Clock = time.time  # POSIX seconds: what an HTTP-date Retry-After is against
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")

    @classmethod
    def testing(cls, attempts: int = 6) -> RetryPolicy:
        """A policy that makes the same decisions but never sleeps (for tests and benchmarks)."""
        return cls(attempts=attempts, sleep=_no_sleep, rng=random.Random(0))

    def backoff(self, retry_number: int) -> float:
        """Seconds to wait before retry `retry_number` (1-based) when the server gave no hint."""
        base = self.wait_initial * 2.0 ** (retry_number - 1)
        return min(self.wait_max, base + self.rng.uniform(0.0, self.wait_jitter))

    def start(self) -> RetryBudget:
        """Begin counting attempts and time for one logical request."""
        return RetryBudget(self)


class RetryBudget:
    """The attempts and time left for one logical request."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.attempt = 1
        self._started = policy.clock()

    def next_delay(self, retry_after: float | None) -> float | None:
        """Consume one retry and return the wait before it, or None when the budget is spent."""
        policy = self.policy
        if self.attempt >= policy.attempts:
            return None
        if retry_after is not None and retry_after > policy.max_retry_after:
            return None
        delay = retry_after if retry_after is not None else policy.backoff(self.attempt)
        if policy.clock() - self._started + delay > policy.timeout_seconds:
            return None
        self.attempt += 1
        return delay

    def wait(self, delay: float) -> None:
        """Sleep before the next attempt (a no-op in testing mode)."""
        if delay > 0:
            self.policy.sleep(delay)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a `Retry-After` header value (RFC 9110 section 10.2.3).

    delay-seconds are taken as given; an HTTP-date is measured from `now` (POSIX seconds, the
    instant the answer was sent: see `clients.responses.retry_after_seconds`), and one in the
    past gives 0.0 (retry now). None when absent, negative or neither form (back off instead).
    """
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        return _seconds_until(text, now)
    return seconds if seconds >= 0 else None


def _seconds_until(http_date: str, now: float) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": an HTTP-date is always GMT
        when = when.replace(tzinfo=UTC)
    delay = when.timestamp() - now
    return max(0.0, delay) if math.isfinite(delay) else None


def http_date_seconds(value: str | None) -> float | None:
    """POSIX seconds of an HTTP-date header value (e.g. `Date`), or None if it is not one."""
    if not value:
        return None
    return _seconds_until(value, 0.0)
