"""The part both CRM clients share on top of their HTTP edge."""

from __future__ import annotations

from typing import Self

from sync_pipeline.clients.http import ClientStats, HttpEdge
from sync_pipeline.clients.server_clock import ServerClock


class EdgeClient:
    """What both CRM clients share on top of their `HttpEdge`: counters, closing, `with`."""

    _http: HttpEdge

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._http!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def stats(self) -> ClientStats:
        """Requests, 429s, retries and logins so far."""
        return self._http.stats

    @property
    def server_clock(self) -> ServerClock:
        """The server's clock as its responses' `Date` headers show it."""
        return self._http.server_clock

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()
