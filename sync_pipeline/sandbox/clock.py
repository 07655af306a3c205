"""The sandbox's clocks: each emulated system stamps records and answers `Date` by its own clock.

`--crmoffice-clock-offset SECONDS` runs CRMOffice's clock that far ahead (negative: behind) of the
machine's, as a real server with a drifting clock would: its `updatedAt` stamps and its `Date`
header (RFC 9110 section 6.6.1) both follow it. The sync must estimate the offset, not assume it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import formatdate

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Clock = Callable[[], float]


def skewed(offset_seconds: float) -> Clock:
    """This machine's clock moved by `offset_seconds` (epoch seconds)."""
    if not offset_seconds:
        return time.time
    return lambda: time.time() + offset_seconds


class DateHeader:
    """ASGI middleware: every response carries `Date` by `clock` (uvicorn's own is off)."""

    def __init__(self, app: ASGIApp, clock: Clock = time.time) -> None:
        self.app = app
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def dated(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"date"]
                date = formatdate(self.clock(), usegmt=True).encode("latin-1")
                message = {**message, "headers": [*headers, (b"date", date)]}
            await send(message)

        await self.app(scope, receive, dated)
