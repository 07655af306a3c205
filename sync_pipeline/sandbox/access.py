"""Bearer tokens with expiry and the per-caller sliding-window rate limit (both CRMs), and the
`Retry-After` value a 429 carries: delay-seconds (the default, as the live WebCRM sends) or,
with the realism option `--retry-after-format http-date`, the HTTP-date form that RFC 9110
section 10.2.3 equally allows."""

from __future__ import annotations

import email.utils
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

Clock = Callable[[], float]
RetryAfterFormat = Literal["seconds", "http-date"]
RETRY_AFTER_FORMATS: tuple[RetryAfterFormat, ...] = get_args(RetryAfterFormat)


def retry_after_value(seconds: int, form: RetryAfterFormat, wall_clock: Clock = time.time) -> str:
    """The `Retry-After` header value for a wait of `seconds`: `"30"`, or an IMF-fixdate
    (`Mon, 30 Nov 2026 06:50:30 GMT`) taken from the next whole second, so that the date,
    with its one-second resolution, never asks for less than `seconds`."""
    if form == "seconds":
        return str(seconds)
    return email.utils.formatdate(math.ceil(wall_clock()) + seconds, usegmt=True)


@dataclass(frozen=True)
class IssuedToken:
    """An access token handed out by a login endpoint."""

    value: str
    expires_in: int


class TokenBook:
    """Issues opaque bearer tokens and tells who holds a token until it expires."""

    def __init__(self, ttl_seconds: float, clock: Clock = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def issue(self, caller: str) -> IssuedToken:
        """Issue a fresh token for `caller`, valid for the configured TTL."""
        value = secrets.token_urlsafe(32)
        with self._lock:
            now = self._clock()
            self._tokens = {k: v for k, v in self._tokens.items() if v[1] > now}
            self._tokens[value] = (caller, now + self._ttl)
        return IssuedToken(value, max(0, math.floor(self._ttl)))

    def caller(self, authorization: str | None) -> str | None:
        """The caller of a valid `Authorization: Bearer <token>` header, else None."""
        if not authorization:
            return None
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None
        with self._lock:
            entry = self._tokens.get(value.strip())
        if entry is None or entry[1] <= self._clock():
            return None
        return entry[0]


class SlidingWindowLimiter:
    """At most `limit` requests per `window` seconds per key, over a true sliding window."""

    def __init__(self, limit: int, window: float = 60.0, clock: Clock = time.monotonic) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> int | None:
        """Admit one request: None if allowed, else whole seconds until a slot frees (≥ 1)."""
        with self._lock:
            now = self._clock()
            seen = self._seen.setdefault(key, deque())
            while seen and seen[0] <= now - self._window:
                seen.popleft()
            if len(seen) < self._limit:
                seen.append(now)
                return None
            return max(1, math.ceil(seen[0] + self._window - now))
