"""The one exception tree of the CRM clients, and the sanitiser every message goes through.

```
CrmClientError                      any failure talking to a CRM (carries `system`, `status`)
 ├── AuthenticationError            credentials rejected: fatal, fix the configuration
 ├── RetriesExhaustedError          429 / 5xx / transport errors outlasted the retry budget
 ├── RecordRejectedError            another 4xx for one record or request (`status`, `detail`)
 ├── WriteOutcomeUnknownError       a non-idempotent write failed after it may have been applied;
 │                                  not retried (the caller's create intents reconcile it)
 └── ProtocolError                  a response of an unexpected status or shape
```

Failures are classified once, at the HTTP edge (`http.py`); the clients only add context.
No message ever contains a token, secret or auth code: every text that reaches an exception
passes through `redact` with the secrets the client knows, plus a generic bearer/credential scrub.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_REDACTED = "***"
_MAX_DETAIL = 300
# Scrub credential-looking fragments even when the exact secret is unknown (e.g. a refreshed token).
_GENERIC_SECRETS = re.compile(
    r"(?i)(bearer\s+|authcode=|client_secret=|access_token[\"']?\s*[:=]\s*[\"']?"
    r"|refresh_token[\"']?\s*[:=]\s*[\"']?|accesstoken[\"']?\s*[:=]\s*[\"']?"
    r"|refreshtoken[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}]+"
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Return `text` with every known secret and credential-looking fragment replaced by ***."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, _REDACTED)
    return _GENERIC_SECRETS.sub(lambda m: m.group(1) + _REDACTED, text)


def shorten(text: str, limit: int = _MAX_DETAIL) -> str:
    """Collapse whitespace and cut `text` to `limit` characters (response bodies can be huge)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class CrmClientError(Exception):
    """Base of every client failure; `str()` is one sanitised line."""

    def __init__(self, message: str, *, system: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.system = system
        self.status = status

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class AuthenticationError(CrmClientError):
    """The CRM rejected our credentials (or the token right after a fresh login): fatal."""


class RetriesExhaustedError(CrmClientError):
    """A retriable failure (429, 5xx, transport) persisted through the whole retry budget."""

    def __init__(
        self, message: str, *, system: str, status: int | None = None, attempts: int
    ) -> None:
        super().__init__(message, system=system, status=status)
        self.attempts = attempts


class RecordRejectedError(CrmClientError):
    """A non-retriable 4xx: the request (usually one record) was refused; `detail` says why."""

    def __init__(self, message: str, *, system: str, status: int, detail: str) -> None:
        super().__init__(message, system=system, status=status)
        self.detail = detail


class WriteOutcomeUnknownError(CrmClientError):
    """A create failed in a way that may have applied it; retrying could duplicate the record."""


class ProtocolError(CrmClientError):
    """The CRM answered with a status or body shape this client does not understand."""
