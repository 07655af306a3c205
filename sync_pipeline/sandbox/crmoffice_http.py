"""HTTP conventions of the (assumed) CRMOffice API: problem documents and parameter parsing."""

from __future__ import annotations

import json
import re
from http import HTTPStatus
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sync_pipeline.sandbox.access import RetryAfterFormat, retry_after_value
from sync_pipeline.sandbox.crmoffice_assumptions import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    PROBLEM_TYPE_BASE,
)
from sync_pipeline.sandbox.timestamps import parse_crmoffice_instant

_INTEGER = re.compile(r"^\d{1,9}$")


class Problem(Exception):
    """An error answered as `application/problem+json`."""

    def __init__(self, status: int, detail: str, slug: str = "", **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug
        self.extra = extra

    def response(self, headers: dict[str, str] | None = None) -> Response:
        """The problem document."""
        return problem(self.status, self.detail, self.slug, headers, **self.extra)


def problem(
    status: int, detail: str, slug: str = "", headers: dict[str, str] | None = None, **extra: Any
) -> Response:
    """An RFC 9457 problem document: type, title, status, detail (+ extension members)."""
    title = HTTPStatus(status).phrase
    body = {
        "type": PROBLEM_TYPE_BASE + (slug or title.lower().replace(" ", "-")),
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(
        body, status_code=status, headers=headers, media_type="application/problem+json"
    )


def fault_response(
    status: int, retry_after: int | None, form: RetryAfterFormat = "seconds"
) -> Response:
    """Injected faults as problem documents."""
    if status == 429:
        return too_many_requests(retry_after or 1, form)
    return problem(status, "The server could not handle the request; try again later.")


def too_many_requests(retry_after: int, form: RetryAfterFormat = "seconds") -> Response:
    """429 with `Retry-After` (in `form`)."""
    detail = f"Rate limit exceeded; retry after {retry_after} seconds."
    headers = {"Retry-After": retry_after_value(retry_after, form)}
    return problem(429, detail, "rate-limited", headers)


async def json_body(request: Request) -> Any:
    """The JSON body of a write (application/json or application/*+json)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json" and not (
        kind.startswith("application/") and kind.endswith("+json")
    ):
        raise Problem(415, f"Unsupported media type '{kind or 'none'}'; send application/json.")
    try:
        return json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem(400, f"The body is not valid JSON: {exc}.", "malformed-body") from None


def list_params(request: Request, entity: str) -> tuple[int, int, float | None]:
    """`page` (>= 1), `pageSize` (1..the entity's `page_size`, 500) and `updatedSince` (epoch
    seconds) or 400."""
    page = _int_param(request, "page", 1, 1, 10**9)
    size = _int_param(request, "pageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE[entity])
    raw = request.query_params.get("updatedSince")
    if raw is None:
        return page, size, None
    try:
        return page, size, parse_crmoffice_instant(raw)
    except ValueError:
        detail = f"updatedSince {raw!r} must be an ISO 8601 date-time with an offset."
        raise Problem(400, detail, "invalid-parameter") from None


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not _INTEGER.match(raw) or not low <= int(raw) <= high:
        detail = f"{name} must be an integer from {low} to {high} (got {raw!r})."
        raise Problem(400, detail, "invalid-parameter")
    return int(raw)
