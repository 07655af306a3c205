"""Request accounting behind `GET /_sandbox/stats` (never counts `/_sandbox/*` itself)."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

SANDBOX_PREFIX = "/_sandbox/"
FAULT_KINDS = ("429", "500", "503", "stall", "drop", "drop_after_write")
# Outgoing hook deliveries (WebCRM only; see `hook_delivery`): never counted as requests.
HOOK_KINDS = ("delivered", "failed_attempts", "given_up")
_ID_SEGMENT = re.compile(r"\d")


class RequestStats:
    """Thread-safe counters: requests per method and path family, 429s, faults, record writes,
    hook deliveries; and each request's arrival time, for peaks per window (`arrivals`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._requests: Counter[str] = Counter()
            self._throttled = 0
            self._faults: Counter[str] = Counter()
            self._writes = 0
            self._hooks: Counter[str] = Counter()
            self._hooks_pending = 0
            self._started = time.monotonic()
            self._arrivals: list[tuple[float, str]] = []

    def count_request(self, family: str) -> None:
        """Count one API request, e.g. `GET /Persons/{id}`, and when it arrived."""
        with self._lock:
            self._requests[family] += 1
            self._arrivals.append((time.monotonic() - self._started, family))

    def arrivals(self) -> list[tuple[float, str]]:
        """Every counted request as (seconds since the last reset, family), in arrival order."""
        with self._lock:
            return list(self._arrivals)

    def count_throttled(self) -> None:
        """Count one 429 served by the rate limiter (injected 429s count as faults)."""
        with self._lock:
            self._throttled += 1

    def count_fault(self, kind: str) -> None:
        """Count one injected fault of `kind` (one of FAULT_KINDS)."""
        with self._lock:
            self._faults[kind] += 1

    def count_writes(self, records: int) -> None:
        """Count records created, changed or deleted through the API."""
        with self._lock:
            self._writes += records

    def count_hook(self, kind: str) -> None:
        """Count one hook delivery attempt's outcome (one of HOOK_KINDS)."""
        with self._lock:
            self._hooks[kind] += 1

    def set_hook_pending(self, pending: int) -> None:
        """Note how many hook deliveries wait (first tries and retries)."""
        with self._lock:
            self._hooks_pending = pending

    def snapshot(self) -> dict[str, Any]:
        """The JSON document served at `/_sandbox/stats`."""
        with self._lock:
            return {
                "requests": dict(sorted(self._requests.items())),
                "requests_total": sum(self._requests.values()),
                "throttled_429": self._throttled,
                "faults": {kind: self._faults[kind] for kind in FAULT_KINDS},
                "writes": self._writes,
                "hook_deliveries": {
                    **{kind: self._hooks[kind] for kind in HOOK_KINDS},
                    "pending": self._hooks_pending,
                },
            }


def path_family(scope: Scope, routes: list[BaseRoute]) -> str:
    """`METHOD /path` with ids replaced by `{id}`, from the route table when a route matches."""
    method = str(scope.get("method", ""))
    for route in routes:
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            return f"{method} {getattr(route, 'path', scope['path'])}"
    parts = ["{id}" if _ID_SEGMENT.search(p) else p for p in str(scope["path"]).split("/")]
    return f"{method} {'/'.join(parts)}"


class StatsMiddleware:
    """Counts every API request on arrival (faulted ones included)."""

    def __init__(self, app: ASGIApp, stats: RequestStats, routes: list[BaseRoute]) -> None:
        self._app = app
        self._stats = stats
        self._routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] == "http" and not scope["path"].startswith(SANDBOX_PREFIX):
            self._stats.count_request(path_family(scope, self._routes))
        await self._app(scope, receive, send)


def sandbox_routes(stats: RequestStats) -> list[BaseRoute]:
    """`GET /_sandbox/stats`, `GET /_sandbox/arrivals` (`[[seconds since reset, family], ...]`)
    and `POST /_sandbox/reset-stats` (no auth, never counted)."""

    async def show(request: Request) -> Response:
        return JSONResponse(stats.snapshot())

    async def arrivals(request: Request) -> Response:
        return JSONResponse(stats.arrivals())

    async def reset(request: Request) -> Response:
        stats.reset()
        return JSONResponse(stats.snapshot())

    return [
        Route(f"{SANDBOX_PREFIX}stats", show, methods=["GET"]),
        Route(f"{SANDBOX_PREFIX}arrivals", arrivals, methods=["GET"]),
        Route(f"{SANDBOX_PREFIX}reset-stats", reset, methods=["POST"]),
    ]
