"""A server's clock as its responses show it: the `Date` header (RFC 9110 section 6.6.1).

Every response an `HttpEdge` receives is offered to its `ServerClock`, which keeps the last
`Date` and our clock at receipt. From that pair: the offset (server minus ours, seconds) and the
server's "now" at any later moment of ours. `Date` has one-second resolution (the server
truncates, and may cache the header for that second), so the offset reads a second or two low:
a cursor capped at `now()` stays at or behind the server's true now; `resolution` is the
header's own granularity, the least error to allow when comparing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class ClockReading:
    """One `Date` header (`server`, aware UTC) and our clock when it arrived (`ours`)."""

    server: datetime
    ours: datetime

    @property
    def offset(self) -> timedelta:
        """Server minus ours (positive: the server's clock runs ahead)."""
        return self.server - self.ours


class ServerClock:
    """The last `Date` a server sent, for its "now" and its offset from our clock."""

    resolution = timedelta(seconds=1)

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._last: ClockReading | None = None

    def observe(self, date_header: str | None) -> None:
        """Note a response's `Date` header, received now; a missing or malformed one is
        ignored (the last good reading stays)."""
        if not date_header:
            return
        try:
            server = parsedate_to_datetime(date_header)
        except (TypeError, ValueError, IndexError):
            return
        if server.tzinfo is None:  # RFC 9110 dates are GMT; `-0000` parses naive
            server = server.replace(tzinfo=UTC)
        reading = ClockReading(server.astimezone(UTC), self._our_now())
        with self._lock:
            self._last = reading

    @property
    def last(self) -> ClockReading | None:
        """The latest reading, or None before the first dated response."""
        with self._lock:
            return self._last

    def now(self) -> datetime | None:
        """The server's clock now: our clock corrected by the last offset; None before any
        dated response."""
        reading = self.last
        return None if reading is None else self._our_now() + reading.offset

    def _our_now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)
