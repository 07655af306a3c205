"""A small read that tells what a preflight needs: the records of one short page, and the
server's clock from the response's `Date` header (RFC 9110 section 6.6.1, whole seconds)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx


@dataclass(frozen=True)
class Probe:
    """One short page of an entity and when the server said it answered.

    `server_date`: the response's `Date` (None when absent or unreadable); `received_at`: our
    clock when the response arrived.
    """

    records: list[dict[str, Any]]
    server_date: datetime | None
    received_at: datetime

    @property
    def clock_offset_seconds(self) -> float | None:
        """How far the server's clock runs ahead of ours (negative: behind), ±1 s."""
        if self.server_date is None:
            return None
        return (self.server_date - self.received_at).total_seconds()


def probe_of(response: httpx.Response, records: list[dict[str, Any]]) -> Probe:
    """The `Probe` of a response whose records were already decoded."""
    received_at = datetime.now(UTC)
    try:
        server_date = parsedate_to_datetime(response.headers.get("Date", ""))
    except (TypeError, ValueError, IndexError):
        server_date = None
    return Probe(records, server_date, received_at)
