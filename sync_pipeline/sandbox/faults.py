"""Seeded fault injection for both CRMs (an ASGI middleware; never on `/_sandbox/*`).

Each API request draws from one `random.Random(seed)` in arrival order, so the same request
sequence meets the same faults. A faulted request gets one of: an injected 429 (with
`Retry-After`), a 500, a 503, a stall longer than a client's timeout followed by the normal
response, a dropped connection before the request is applied, or -- for writes -- the request
applied and then the connection dropped before the response (what makes duplicate creates).

A dropped connection is a socket closed without a response byte: an HTTP client sees a transport
error (httpx: `RemoteProtocolError: Server disconnected without sending a response`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sync_pipeline.sandbox.stats import FAULT_KINDS, SANDBOX_PREFIX, RequestStats

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
INJECTED_RETRY_AFTER = 1
# uvicorn logs this line when a response is cut short; for injected drops it is expected.
_CUT_SHORT_LOG = "ASGI callable returned without completing response."

FaultResponder = Callable[[int, int | None], Response]


@dataclass(frozen=True)
class FaultSettings:
    """Share of faulted requests, the seed, and how long a stall lasts."""

    rate: float = 0.0
    seed: int = 0
    stall_seconds: float = 35.0


class FaultPlan:
    """The seeded sequence of fault decisions, one per API request in arrival order."""

    def __init__(self, settings: FaultSettings) -> None:
        if not 0.0 <= settings.rate <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, got {settings.rate}")
        self.settings = settings
        self._rng = random.Random(settings.seed)
        self._lock = threading.Lock()

    def draw(self, is_write: bool) -> str | None:
        """The fault for the next request (one of FAULT_KINDS), or None."""
        if self.settings.rate <= 0.0:
            return None
        kinds = FAULT_KINDS if is_write else FAULT_KINDS[:-1]
        with self._lock:
            roll = self._rng.random()
            kind = self._rng.choice(kinds)
        return kind if roll < self.settings.rate else None


class FaultMiddleware:
    """Applies the FaultPlan to every API request."""

    def __init__(
        self, app: ASGIApp, plan: FaultPlan, stats: RequestStats, respond: FaultResponder
    ) -> None:
        self._app = app
        self._plan = plan
        self._stats = stats
        self._respond = respond

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http" or scope["path"].startswith(SANDBOX_PREFIX):
            await self._app(scope, receive, send)
            return
        kind = self._plan.draw(scope["method"] in WRITE_METHODS)
        if kind is None:
            await self._app(scope, receive, send)
            return
        self._stats.count_fault(kind)
        if kind in ("429", "500", "503"):
            status = int(kind)
            retry_after = INJECTED_RETRY_AFTER if status == 429 else None
            await self._respond(status, retry_after)(scope, receive, send)
        elif kind == "stall":
            await asyncio.sleep(self._plan.settings.stall_seconds)
            await self._app(scope, receive, send)
        elif kind == "drop":
            await cut_connection(receive, send)
        else:
            await self._app(scope, receive, _discard)
            await cut_connection(receive, send)


async def _discard(message: Message) -> None:
    """Swallow the application's response (the client will never see it)."""


async def cut_connection(receive: Receive, send: Send) -> None:
    """Drop the connection without an answer, as a crashed server or a proxy reset would.

    uvicorn's `receive` is a method of its per-request cycle, which holds the socket transport:
    aborting it closes the connection before a single response byte. Under any other server,
    fall back to a response head that promises a body which never comes.
    """
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if isinstance(transport, asyncio.Transport):
        transport.abort()
        for _ in range(3):  # let the server notice the disconnect before the app returns
            await asyncio.sleep(0)
        return
    headers = [(b"content-type", b"application/json"), (b"content-length", b"64")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})


class _ExpectedCutFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _CUT_SHORT_LOG


def silence_expected_cuts() -> None:
    """Keep uvicorn from logging an error for every deliberately dropped connection."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _ExpectedCutFilter) for f in logger.filters):
        logger.addFilter(_ExpectedCutFilter())
