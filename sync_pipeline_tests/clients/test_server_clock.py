"""`ServerClock`: the server's now and offset from its responses' `Date` (RFC 9110 6.6.1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sync_pipeline.clients import ServerClock

OURS = datetime(2026, 11, 30, 7, 0, 0, tzinfo=UTC)


class Clock:
    """Our clock, moved by hand."""

    def __init__(self) -> None:
        self.now = OURS.timestamp()

    def __call__(self) -> float:
        return self.now


def test_the_server_now_follows_our_clock_from_the_last_date() -> None:
    """A `Date` ten minutes behind ours: offset -600 s, and 30 s later the server's now is
    its date plus 30 s."""
    ours = Clock()
    clock = ServerClock(ours)
    assert clock.now() is None and clock.last is None
    clock.observe("Mon, 30 Nov 2026 06:50:00 GMT")
    assert clock.last is not None and clock.last.offset == timedelta(minutes=-10)
    ours.now += 30
    assert clock.now() == datetime(2026, 11, 30, 6, 50, 30, tzinfo=UTC)


def test_a_missing_or_malformed_date_keeps_the_last_reading() -> None:
    """Absent, empty and unparseable headers are ignored."""
    clock = ServerClock(Clock())
    clock.observe("Mon, 30 Nov 2026 07:00:05 GMT")
    for header in (None, "", "soon", "Mon, 99 Nov 2026 07:00:05 GMT"):
        clock.observe(header)
    assert clock.last is not None and clock.last.offset == timedelta(seconds=5)
