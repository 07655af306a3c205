"""How the live WebCRM behaves beyond the 2019 spec (`reference/webcrm-live-evidence.md`).

- Case-insensitive routing (evidence 1): path segments and query parameter names in any case
  (`/auth/apilogin`, `size`, `page`) reach the same endpoint; `CaseInsensitiveNames` rewrites
  them to the canonical spelling before routing. The login form field is looked up the same way
  (`form_value`).
- The login answer (evidence 5): `Error`/`ErrorDescription` are `null` on success and a
  `SystemId` is present; `POST /Auth/ApiRefresh` (evidence 2) trades the refresh token (header
  `refreshToken`, as the spec declares) for a new answer (`RefreshTokens`).
- `/Queries` rows are not DTOs (evidence 4): each carries `RowNumber` and raw columns beside the
  entity's (`p_lastUpdatedById`, `p_reportFilterMatch` for Person), and Plus/custom fields that
  hold digits arrive as numbers (`query_rows`).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Receive, Scope, Send

from sync_pipeline.sandbox.webcrm_dto import ENTITIES, EntitySpec

SYSTEM_ID = 40_412
_QUERY_NAMES = ("Page", "Size", "script", "formatCustomFields")
_NUMERIC_TEXT = ("Plus", "Custom")


class CaseInsensitiveNames:
    """ASGI middleware: path segments and query parameter names matched case-insensitively
    (ASP.NET routing), rewritten to the spelling the routes use."""

    def __init__(self, app: ASGIApp, segments: Iterable[str]) -> None:
        self.app = app
        self._segments = {s.lower(): s for s in segments}
        self._names = {n.lower(): n for n in _QUERY_NAMES}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = dict(scope)
            parts = scope["path"].split("/")
            scope["path"] = "/".join(self._segments.get(p.lower(), p) for p in parts)
            scope["raw_path"] = scope["path"].encode()
            pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
            renamed = [(self._names.get(k.lower(), k), v) for k, v in pairs]
            scope["query_string"] = urlencode(renamed).encode("latin-1")
        await self.app(scope, receive, send)


def route_segments() -> list[str]:
    """Every fixed path segment of the WebCRM routes."""
    return ["Auth", "ApiLogin", "ApiRefresh", "Queries", "Hooks", *ENTITIES]


def form_value(form: Mapping[str, Any], name: str) -> Any:
    """A form field by name, in any case (evidence 1: `Authcode`, `authcode`)."""
    return next((v for k, v in form.items() if k.lower() == name.lower()), None)


def token_body(token: str, refresh: str, expires_in: int) -> dict[str, Any]:
    """A successful TokenResponseDto as the live API sends it (evidence 5)."""
    return {
        "AccessToken": token,
        "RefreshToken": refresh,
        "Error": None,
        "ErrorDescription": None,
        "IsError": False,
        "ExpiresIn": expires_in,
        "TokenType": "Bearer",
        "SystemId": SYSTEM_ID,
    }


def error_token_body(err: str, description: str) -> dict[str, Any]:
    """A failed TokenResponseDto (status and body undocumented, evidence 6)."""
    return {
        "AccessToken": "",
        "RefreshToken": "",
        "Error": err,
        "ErrorDescription": description,
        "IsError": True,
        "ExpiresIn": 0,
        "TokenType": "",
    }


class RefreshTokens:
    """Refresh tokens handed out with access tokens, each naming its caller."""

    def __init__(self) -> None:
        self._callers: dict[str, str] = {}
        self._lock = threading.Lock()

    def issue(self, caller: str) -> str:
        """A new refresh token for `caller`."""
        value = secrets.token_urlsafe(24)
        with self._lock:
            self._callers[value] = caller
        return value

    def caller(self, value: str | None) -> str | None:
        """Who holds this refresh token, or None."""
        with self._lock:
            return self._callers.get((value or "").strip())


def query_rows(
    spec: EntitySpec, records: list[dict[str, Any]], first_row: int, columns: tuple[str, ...] | None
) -> list[dict[str, Any]]:
    """Rendered records shaped as live `/Queries` rows (evidence 4): `RowNumber` (1-based
    across the result), the selected columns, the raw columns, digit-only Plus/custom values as
    numbers."""
    letter = spec.prefix[:1].lower()
    raw = {f"{letter}_lastUpdatedById": 0, f"{letter}_reportFilterMatch": None}
    rows = []
    for number, record in enumerate(records, start=first_row):
        chosen = record if columns is None else {c: record[c] for c in columns}
        rows.append({"RowNumber": number, **{k: _as_live(k, v) for k, v in chosen.items()}, **raw})
    return rows


def _as_live(name: str, value: Any) -> Any:
    digits = isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 10
    if digits and any(part in name for part in _NUMERIC_TEXT):
        return int(value)
    return value
