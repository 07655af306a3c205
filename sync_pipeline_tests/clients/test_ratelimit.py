"""The sliding-window limiter: exact admission, no bursts over the limit, thread safety."""

from __future__ import annotations

import threading
import time

import pytest

from sync_pipeline.clients import SlidingWindowLimiter
from sync_pipeline_tests.clients.fakes import FakeClock


def _limiter(clock: FakeClock, limit: int | None, margin: float = 0.1) -> SlidingWindowLimiter:
    return SlidingWindowLimiter(limit, 60.0, margin_seconds=margin, clock=clock, sleep=clock.sleep)


def test_admits_a_full_window_without_waiting() -> None:
    """Up to `limit` requests start immediately in an empty window."""
    clock = FakeClock()
    limiter = _limiter(clock, 10)
    for _ in range(10):
        with limiter.slot():
            pass
    assert clock.sleeps == []


def test_next_request_waits_until_the_oldest_leaves_the_window() -> None:
    """Request limit+1 waits exactly until the first completion is window+margin old."""
    clock = FakeClock()
    limiter = _limiter(clock, 3, margin=0.25)
    start = clock.now
    for _ in range(4):
        with limiter.slot():
            pass
    assert clock.now == pytest.approx(start + 60.25, abs=0.01)


def test_never_more_than_limit_in_any_window() -> None:
    """Every window of 60 s holds at most `limit` request starts, over many requests."""
    clock = FakeClock()
    limiter = _limiter(clock, 5)
    starts = []
    for _ in range(23):
        with limiter.slot():
            starts.append(clock.now)
            clock.now += 0.7  # the request takes a while
    for start in starts:
        assert sum(start - 60 < s <= start for s in starts) <= 5


def test_throughput_is_close_to_the_limit() -> None:
    """N requests take about (N/limit - 1) windows plus a margin per window, not 1/0.9 of it."""
    clock = FakeClock()
    limiter = _limiter(clock, 100)
    start = clock.now
    for _ in range(1000):
        with limiter.slot():
            pass
    assert clock.now - start == pytest.approx(9 * 60.1, abs=0.05)


def test_requests_are_stamped_at_completion() -> None:
    """A slow request counts from when it finished, covering its unknown arrival time."""
    clock = FakeClock()
    limiter = _limiter(clock, 1, margin=0.0)
    with limiter.slot():
        clock.now += 5.0  # in flight for five seconds
    with limiter.slot():
        pass
    assert clock.sleeps == [pytest.approx(60.0, abs=0.01)]


def test_unlimited_never_waits() -> None:
    """With no known limit the limiter admits everything and keeps no history."""
    clock = FakeClock()
    limiter = _limiter(clock, None)
    for _ in range(1000):
        with limiter.slot():
            pass
    assert clock.sleeps == []
    assert limiter.in_window() == 0


def test_rejects_a_non_positive_limit() -> None:
    """A zero limit is a configuration error, not an infinite wait."""
    with pytest.raises(ValueError, match="positive"):
        SlidingWindowLimiter(0)


def test_threads_share_the_window() -> None:
    """Concurrent threads together never exceed the limit; in-flight slots count."""
    limiter = SlidingWindowLimiter(20, window_seconds=0.5, margin_seconds=0.0)
    starts: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            with limiter.slot():
                with lock:
                    starts.append(time.monotonic())
                time.sleep(0.001)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(starts) == 60
    for start in starts:
        assert sum(start - 0.5 < s <= start for s in starts) <= 20


def test_waiter_wakes_when_an_in_flight_request_completes() -> None:
    """When all slots are in flight, a waiter proceeds once one completes (not at a poll tick)."""
    limiter = SlidingWindowLimiter(1, window_seconds=0.05, margin_seconds=0.0)
    limiter.acquire()
    admitted = threading.Event()

    def acquire_then_admit() -> None:
        limiter.acquire()
        admitted.set()

    thread = threading.Thread(target=acquire_then_admit)
    thread.start()
    assert not admitted.wait(0.1)
    limiter.release()
    assert admitted.wait(0.3)
    thread.join()
