"""A thread-safe sliding-window rate limiter that never lets the client cause a 429.

The CRMs count requests per sliding 60-second window, stamped when each request *arrives*. The
client cannot see that instant, but it is bounded: after the client starts the request and no later
than when the response (or the failure) comes back. So each request holds a slot while in flight,
counted as "now", and is stamped with its completion time when it ends. A new request may start
only while fewer than `limit` slots are either in flight or completed within the last
`window + margin` seconds. That is exact, whatever the network latency, and costs one round trip
plus `margin` per window, so N requests take about (N / limit) windows, not 1/0.9 of that as a
token bucket at 90% would.

`RateLimiter` is what the clients need of a limiter; `SlidingWindowLimiter` is the per-process
one, and the store's `SharedLimiter` (`store.RateBudget.limiter`) shares one budget per API token
between every process using the same store.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

Clock = Callable[[], float]
Sleep = Callable[[float], None]

# How long a waiter blocks on in-flight requests before re-checking (they notify on completion).
_INFLIGHT_POLL_SECONDS = 0.5


class RateLimiter(Protocol):
    """A request limiter as the HTTP edge uses it: one slot per request attempt."""

    @property
    def limit(self) -> int | None:
        """Requests admitted per window (None: unpaced)."""
        ...

    def acquire(self) -> None:
        """Block until one more request may start, then take a slot."""
        ...

    def release(self) -> None:
        """End one taken slot (its request has completed or failed)."""
        ...

    def slot(self) -> AbstractContextManager[None]:
        """Hold one slot for the duration of a block (acquire, then release)."""
        ...


class SlidingWindowLimiter:
    """Admit at most `limit` requests per `window_seconds`, counting in-flight requests as now."""

    def __init__(
        self,
        limit: int | None,
        window_seconds: float = 60.0,
        *,
        margin_seconds: float = 0.1,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        if limit is not None and limit < 1:
            raise ValueError(f"rate limit must be a positive number of requests, got {limit}")
        self.limit = limit
        self.window_seconds = window_seconds
        self.margin_seconds = margin_seconds
        self._clock = clock
        self._sleep = sleep
        self._cond = threading.Condition()
        self._completed: list[float] = []  # sorted completion stamps inside the window
        self._in_flight = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one request slot for the duration of the block (acquire, then release)."""
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def acquire(self) -> None:
        """Block until one more request may start without exceeding the limit, then take a slot."""
        while True:
            with self._cond:
                wait = self._try_take()
                if wait is None:
                    return
                if wait == float("inf"):
                    # Only in-flight requests can free a slot: wait for one to complete.
                    self._cond.wait(_INFLIGHT_POLL_SECONDS)
                    continue
            self._sleep(wait)

    def release(self) -> None:
        """Mark one in-flight request as completed now (its latest possible arrival time)."""
        with self._cond:
            self._in_flight -= 1
            if self.limit is not None:
                bisect.insort(self._completed, self._clock())
            self._cond.notify_all()

    def _try_take(self) -> float | None:
        """Take a slot and return None, or return how long to wait (inf: wait for in-flight)."""
        if self.limit is None:
            self._in_flight += 1
            return None
        now = self._clock()
        horizon = now - self.window_seconds - self.margin_seconds
        expired = bisect.bisect_right(self._completed, horizon)
        del self._completed[:expired]
        used = len(self._completed) + self._in_flight
        if used < self.limit:
            self._in_flight += 1
            return None
        must_expire = used - self.limit + 1
        if must_expire > len(self._completed):
            return float("inf")
        # At least a millisecond: float rounding must not leave a zero-length busy wait.
        return max(self._completed[must_expire - 1] - horizon, 0.001)

    def in_window(self) -> int:
        """Requests currently counted against the limit (in flight or completed in the window)."""
        with self._cond:
            if self.limit is not None:
                horizon = self._clock() - self.window_seconds - self.margin_seconds
                del self._completed[: bisect.bisect_right(self._completed, horizon)]
            return len(self._completed) + self._in_flight
