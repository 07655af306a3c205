"""When and how long to wait before trying a request again.

What counts as retriable (429, 500, 502, 503, 504 and transport errors; nothing else) is decided
once at the HTTP edge; this module owns the timing: exponential backoff with jitter, the server's
`Retry-After` when it sends one, and a cap on both attempts and total time. `RetryPolicy.testing()`
keeps every decision but skips the sleeps (the habit of hynek/stamina's testing mode).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

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


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After: <seconds>` header; None when absent or not a number."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
