"""Reading the parts of an error response that matter: how long to wait, and why it failed."""

from __future__ import annotations

import json

import httpx

from sync_pipeline.clients.retry import http_date_seconds, parse_retry_after


def retry_after_seconds(response: httpx.Response, now: float) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or an HTTP-date, RFC 9110 section 10.2.3),
    else WebCRM's `RetryAfterSeconds` body field; None when neither says.

    An HTTP-date is measured from the response's own `Date` header when it has one (the same
    clock wrote both, so a skewed server clock cannot make us retry early), else from `now`
    (our POSIX clock)."""
    sent = http_date_seconds(response.headers.get("Date"))
    header = parse_retry_after(response.headers.get("Retry-After"), now if sent is None else sent)
    if header is not None:
        return header
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    value = body.get("RetryAfterSeconds") if isinstance(body, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value >= 0 else None


def error_detail(response: httpx.Response) -> str:
    """The human part of an error body: problem+json `title`/`detail`/`errors`, WebCRM `Message`."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text or response.reason_phrase
    if not isinstance(body, dict):
        return response.text
    parts = [
        str(body[key])
        for key in ("title", "detail", "Message", "Error", "ErrorDescription")
        if body.get(key) not in (None, "")
    ]
    parts.extend(_field_errors(body.get("errors")))
    return ": ".join(parts) if parts else response.text


def _field_errors(errors: object) -> list[str]:
    """Problem+json validation members: `{"field": ["reason", ...]}` as `field: reason, ...`."""
    if isinstance(errors, dict):
        return ["; ".join(f"{name}: {_joined(reasons)}" for name, reasons in errors.items())]
    if isinstance(errors, list) and errors:
        return [_joined(errors)]
    return []


def _joined(reasons: object) -> str:
    return ", ".join(map(str, reasons)) if isinstance(reasons, list) else str(reasons)
