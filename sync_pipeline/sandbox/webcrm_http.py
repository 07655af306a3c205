"""HTTP conventions of the WebCRM API: error bodies, query-parameter and body parsing."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from sync_pipeline.sandbox.access import RetryAfterFormat, retry_after_value

# The request body media types the vendor spec lists for writes (XML ones are not emulated).
JSON_MEDIA_TYPES = frozenset({"application/json", "text/json", "application/json-patch+json"})
FORM_MEDIA_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
MAX_PAGE = 1_000_000
DEFAULT_SIZE = 50
_INTEGER = re.compile(r"^[+-]?\d{1,10}$")


class BadRequest(Exception):
    """A request the API rejects as a whole (400, or another status)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def error(status: int, message: str, kind: str) -> JSONResponse:
    """WebCRM's error body: `{"Message": ..., "Type": ...}`."""
    return JSONResponse({"Message": message, "Type": kind}, status_code=status)


def too_many_requests(retry_after: int, form: RetryAfterFormat = "seconds") -> JSONResponse:
    """The documented 429: `Retry-After` header (in `form`) and a RetryAfterSeconds body."""
    body = {
        "RetryAfterSeconds": retry_after,
        "Message": f"API rate limit exceeded. Try again in {retry_after} seconds.",
        "Type": "TooManyRequestsException",
    }
    headers = {"Retry-After": retry_after_value(retry_after, form)}
    return JSONResponse(body, status_code=429, headers=headers)


def fault_response(
    status: int, retry_after: int | None, form: RetryAfterFormat = "seconds"
) -> Response:
    """Injected faults in WebCRM's own shapes (503 comes from the gateway, as plain text)."""
    if status == 429:
        return too_many_requests(retry_after or 1, form)
    if status == 503:
        return PlainTextResponse("The service is unavailable.", status_code=503)
    return error(status, "An error has occurred.", "InternalServerErrorException")


def media_type(request: Request) -> str:
    """The request's media type, lower case, without parameters."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def is_json_media_type(kind: str) -> bool:
    """application/json, text/json, application/json-patch+json or any application/*+json."""
    return kind in JSON_MEDIA_TYPES or (kind.startswith("application/") and kind.endswith("+json"))


async def json_body(request: Request) -> Any:
    """The parsed JSON body of a write; BadRequest for other media types, empty or bad JSON."""
    kind = media_type(request)
    if not is_json_media_type(kind):
        raise BadRequest(f"Unsupported media type '{kind or 'none'}'.", status=415)
    raw = await request.body()
    if not raw.strip():
        raise BadRequest("A non-empty request body is required.")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}.") from None


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high]; BadRequest otherwise."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not _INTEGER.match(raw.strip()):
        raise BadRequest(f"The value '{raw}' is not valid for {name}.")
    value = int(raw)
    if not low <= value <= high:
        raise BadRequest(f"The field {name} must be between {low} and {high}.")
    return value


def paging(request: Request, max_size: int) -> tuple[int, int]:
    """`Page` (1..1000000, default 1) and `Size` (1..max_size, the entity's declared
    `page_size`, 1000; default 50)."""
    page = int_param(request, "Page", 1, 1, MAX_PAGE)
    size = int_param(request, "Size", min(DEFAULT_SIZE, max_size), 1, max_size)
    return page, size


def path_id(request: Request) -> int:
    """The int32 `{id}` path parameter; BadRequest when it is not one."""
    raw = str(request.path_params["id"])
    if not _INTEGER.match(raw) or not -(2**31) <= int(raw) < 2**31:
        raise BadRequest(f"The value '{raw}' is not valid.")
    return int(raw)
