"""The HTTP edge both CRM clients share: one place that sends, limits, retries and classifies.

Every attempt (logins excepted: the limits are per token) takes a rate-limiter slot, and runs
under explicit timeouts.
Outcomes are classified here and only here:

- 2xx: returned to the client;
- 429, 500, 502, 503, 504 and transport errors (timeouts, dropped connections): retried per the
  `RetryPolicy`, honouring `Retry-After` (seconds or an HTTP-date, never retrying earlier); a
  non-idempotent write (POST) is retried only when the failure proves it was not applied
  (429, 503, connection never made), otherwise it raises `WriteOutcomeUnknownError` so
  the caller's create intents can reconcile it;
- 401 on a call: one re-login, then the call again; a 401 on the fresh token is fatal;
- 400/401/403 on the login: `AuthenticationError`; any other 4xx: `RecordRejectedError`;
- anything else: `ProtocolError`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import httpx

from sync_pipeline.clients.auth import AccessGrant, Authenticator, TokenCache
from sync_pipeline.clients.errors import (
    AuthenticationError,
    ProtocolError,
    RecordRejectedError,
    RetriesExhaustedError,
    WriteOutcomeUnknownError,
    redact,
    shorten,
)
from sync_pipeline.clients.ratelimit import RateLimiter
from sync_pipeline.clients.responses import error_detail, retry_after_seconds
from sync_pipeline.clients.retry import RetryBudget, RetryPolicy
from sync_pipeline.clients.server_clock import ServerClock

RETRIABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
# Answers that prove the server did not act on the request, so even a POST may be repeated.
NOT_APPLIED_STATUSES = frozenset({429, 503})
RETRIABLE_TRANSPORT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)
NOT_SENT_TRANSPORT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
_LOGIN_REJECTED = frozenset({400, 401, 403})


@dataclass(frozen=True)
class Timeouts:
    """Seconds allowed per phase of every request."""

    connect: float = 5.0
    read: float = 30.0
    write: float = 30.0
    pool: float = 30.0

    def as_httpx(self) -> httpx.Timeout:
        """The same limits as an `httpx.Timeout`."""
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


DEFAULT_TIMEOUTS = Timeouts()


@dataclass
class ClientStats:
    """Counters of what a client did on the wire (thread-safe)."""

    requests: int = 0
    throttled_429s: int = 0
    retries: int = 0
    logins: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **increments: int) -> None:
        """Add to the named counters atomically."""
        with self._lock:
            for name, value in increments.items():
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, int]:
        """A consistent snapshot, e.g. for Dagster metadata."""
        with self._lock:
            return {
                "requests": self.requests,
                "throttled_429s": self.throttled_429s,
                "retries": self.retries,
                "logins": self.logins,
            }


@dataclass(frozen=True)
class _Failure:
    """A retriable outcome of one attempt."""

    reason: str
    status: int | None
    retry_after: float | None
    maybe_applied: bool


class HttpEdge:
    """Authenticated, rate-limited, retried HTTP calls to one CRM over a sync `httpx.Client`."""

    def __init__(
        self,
        base_url: str,
        *,
        system: str,
        authenticator: Authenticator,
        limiter: RateLimiter,
        retry: RetryPolicy,
        timeout: Timeouts,
        transport: httpx.BaseTransport | None = None,
        max_connections: int = 10,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.system = system
        self.stats = ClientStats()
        self.server_clock = ServerClock()
        self._auth = authenticator
        self._limiter = limiter
        self._retry = retry
        self._tokens = TokenCache(self._login, clock=clock)
        self._client = httpx.Client(
            base_url=base_url,
            transport=transport,
            # Plain http has no certificate to check: skip loading the CA bundle (~40 ms).
            verify=not base_url.startswith("http://"),
            timeout=timeout.as_httpx(),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            headers={"Accept": "application/json"},
        )

    def __repr__(self) -> str:
        return f"HttpEdge(system={self.system!r}, base_url={str(self._client.base_url)!r})"

    def close(self) -> None:
        """Close the pooled connections."""
        self._client.close()

    def request(
        self, method: str, path: str, *, idempotent: bool = True, **content: Any
    ) -> httpx.Response:
        """Send an authenticated request and return its 2xx response, or raise the classified error.

        `content` is passed to httpx (`params`, `json`, `data`); `idempotent=False` marks a write
        that must not be repeated when it may already have been applied.
        """
        budget = self._retry.start()
        relogged = False
        while True:
            token = self._tokens.token()
            outcome = self._attempt(method, path, content, {"Authorization": f"Bearer {token}"})
            if isinstance(outcome, _Failure):
                self._wait_or_raise(budget, outcome, method, path, idempotent=idempotent)
            elif outcome.status_code == 401 and not relogged:
                relogged = True
                self._tokens.invalidate(token)
            else:
                return self._accept(outcome, method, path)

    def json_body(self, response: httpx.Response) -> Any:
        """The decoded JSON of a response, or `ProtocolError` naming the request."""
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise self.protocol_error(response, "a body that is not JSON") from None

    def protocol_error(self, response: httpx.Response, what: str) -> ProtocolError:
        """An error for a response of unexpected shape (`what` describes it, no payload)."""
        request = response.request
        return ProtocolError(
            f"{self.system} answered {request.method} {request.url.path} with {what}",
            system=self.system,
            status=response.status_code,
        )

    def redact(self, text: str) -> str:
        """`text` without any secret this edge knows."""
        return redact(text, self._auth.secrets() + self._tokens.known_tokens())

    def _login(self) -> AccessGrant:
        path = self._auth.login_path
        budget = self._retry.start()
        while True:
            form = {"data": dict(self._auth.login_form())}
            outcome = self._attempt("POST", path, form, {}, limited=False)
            if isinstance(outcome, _Failure):
                self._wait_or_raise(budget, outcome, "POST", path, idempotent=True)
                continue
            if outcome.status_code in _LOGIN_REJECTED:
                raise AuthenticationError(
                    f"{self.system} rejected {self._auth.credential_name} "
                    f"({outcome.status_code} on {path}): {self._auth.credential_hint}",
                    system=self.system,
                    status=outcome.status_code,
                )
            response = self._accept(outcome, "POST", path)
            try:
                grant = self._auth.parse_grant(self.json_body(response))
            except ValueError:
                raise self.protocol_error(response, "a login response without a token") from None
            self.stats.add(logins=1)
            return grant

    def _attempt(
        self,
        method: str,
        path: str,
        content: dict[str, Any],
        headers: Mapping[str, str],
        *,
        limited: bool = True,
    ) -> httpx.Response | _Failure:
        # The limits are per access token: the login that gets one is not counted (as the
        # sandbox, after the documented WebCRM behaviour, does not count it).
        with self._limiter.slot() if limited else nullcontext():
            self.stats.add(requests=1)
            try:
                response = self._client.request(method, path, headers=headers, **content)
            except RETRIABLE_TRANSPORT_ERRORS as exc:
                reason = self.redact(f"{type(exc).__name__}: {exc}")
                return _Failure(reason, None, None, not isinstance(exc, NOT_SENT_TRANSPORT_ERRORS))
            except httpx.HTTPError as exc:
                raise ProtocolError(
                    self.redact(
                        f"{self.system} {method} {path} failed: {type(exc).__name__}: {exc}"
                    ),
                    system=self.system,
                ) from None
        self.server_clock.observe(response.headers.get("date"))
        status = response.status_code
        if status not in RETRIABLE_STATUSES:
            return response
        if status == 429:
            self.stats.add(throttled_429s=1)
        reason = f"{status} {response.reason_phrase}".strip()
        retry_after = retry_after_seconds(response, self._retry.wall_clock())
        return _Failure(reason, status, retry_after, status not in NOT_APPLIED_STATUSES)

    def _wait_or_raise(
        self, budget: RetryBudget, failure: _Failure, method: str, path: str, *, idempotent: bool
    ) -> None:
        where = f"{self.system} {method} {path}"
        if not idempotent and failure.maybe_applied:
            raise WriteOutcomeUnknownError(
                f"{where} failed with {failure.reason} after the write may have been applied; "
                "not retried to avoid a duplicate",
                system=self.system,
                status=failure.status,
            )
        delay = budget.next_delay(failure.retry_after)
        if delay is None:
            raise RetriesExhaustedError(
                f"{where} still failing after {budget.attempt} attempts: {failure.reason}",
                system=self.system,
                status=failure.status,
                attempts=budget.attempt,
            )
        self.stats.add(retries=1)
        budget.wait(delay)

    def _accept(self, response: httpx.Response, method: str, path: str) -> httpx.Response:
        status = response.status_code
        if 200 <= status < 300:
            return response
        detail = self.redact(shorten(error_detail(response)))
        where = f"{self.system} {method} {path}"
        if status == 401:
            raise AuthenticationError(
                f"{where}: 401 even with a freshly issued access token: "
                f"{self._auth.credential_hint}",
                system=self.system,
                status=status,
            )
        if 400 <= status < 500:
            raise RecordRejectedError(
                f"{where} rejected with {status}: {detail}",
                system=self.system,
                status=status,
                detail=detail,
            )
        raise ProtocolError(
            f"{where} answered with unexpected status {status}: {detail}",
            system=self.system,
            status=status,
        )
