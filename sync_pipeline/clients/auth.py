"""How each CRM logs in: a small authenticator interface and a thread-safe token cache.

An `Authenticator` describes the login request (path, form, how to read the grant) and the
secrets it must never leak; the HTTP edge sends it through the same limiter and retries as any
call. `TokenCache` logs in lazily, again shortly before the token expires, and on demand after
a 401, making sure concurrent callers trigger one login, not one each.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

Clock = Callable[[], float]


@dataclass(frozen=True, repr=False)
class AccessGrant:
    """A bearer token and its lifetime in seconds (repr never shows the token)."""

    access_token: str
    expires_in: float

    def __repr__(self) -> str:
        return f"AccessGrant(access_token='***', expires_in={self.expires_in})"


def grant_from(payload: object, token_key: str, expires_key: str, what: str) -> AccessGrant:
    """The token and its lifetime from a login response; ValueError naming `what` if absent."""
    if not isinstance(payload, dict):
        raise ValueError(f"{what} is not an object")
    token, expires_in = payload.get(token_key), payload.get(expires_key)
    if not isinstance(token, str) or not token or not isinstance(expires_in, int | float):
        raise ValueError(f"{what} without {token_key}/{expires_key}")
    return AccessGrant(token, float(expires_in))


class Authenticator(Protocol):
    """What the HTTP edge needs to know to log in to one CRM."""

    @property
    def login_path(self) -> str:
        """Path of the token endpoint, e.g. `/Auth/ApiLogin`."""
        ...

    @property
    def credential_name(self) -> str:
        """Human name of the credential, e.g. `the API token`."""
        ...

    @property
    def credential_hint(self) -> str:
        """What to fix when it is rejected, e.g. `check WEBCRM_API_TOKEN`."""
        ...

    def login_form(self) -> Mapping[str, str]:
        """The urlencoded form posted to `login_path`."""
        ...

    def parse_grant(self, payload: object) -> AccessGrant:
        """Read the grant from the login response body; raise ValueError if it is malformed."""
        ...

    def secrets(self) -> tuple[str, ...]:
        """Every secret this authenticator holds, for redaction."""
        ...


class TokenCache:
    """The current access token: fetched lazily, renewed before expiry, replaced after a 401."""

    def __init__(self, login: Callable[[], AccessGrant], *, clock: Clock = time.monotonic) -> None:
        self._login = login
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0

    def __repr__(self) -> str:
        return f"TokenCache(has_token={self._token is not None})"

    def token(self) -> str:
        """A token that is valid for a while yet, logging in first if needed."""
        with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                self._install(self._login())
            assert self._token is not None
            return self._token

    def invalidate(self, rejected: str) -> None:
        """Forget `rejected` (it drew a 401) unless another caller already replaced it."""
        with self._lock:
            if self._token == rejected:
                self._token = None

    def known_tokens(self) -> tuple[str, ...]:
        """The token currently held, for redaction."""
        token = self._token
        return (token,) if token else ()

    def _install(self, grant: AccessGrant) -> None:
        # Renew a tenth of the lifetime early (at most a minute), so no call races the expiry.
        lead = min(60.0, grant.expires_in / 10)
        self._token = grant.access_token
        self._renew_at = self._clock() + grant.expires_in - lead
