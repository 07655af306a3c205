"""The emulated CRMOffice REST API (Starlette). Every assumed detail: `crmoffice_assumptions`."""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any, NoReturn
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sync_pipeline.sandbox.access import RetryAfterFormat, SlidingWindowLimiter, TokenBook
from sync_pipeline.sandbox.crmoffice_assumptions import (
    CLIENT_ID,
    CLIENT_SECRET,
    DEFAULT_RATE_LIMIT,
    ENTITIES,
    TOKEN_PATH,
)
from sync_pipeline.sandbox.crmoffice_http import (
    Problem,
    fault_response,
    json_body,
    list_params,
    problem,
    too_many_requests,
)
from sync_pipeline.sandbox.crmoffice_state import CrmofficeState, ReferencedRecord
from sync_pipeline.sandbox.crmoffice_validation import InvalidBody
from sync_pipeline.sandbox.faults import FaultMiddleware, FaultPlan, FaultSettings
from sync_pipeline.sandbox.realism import CRMOFFICE_PHONE_FIELDS, PhoneFormat, reformat_phones
from sync_pipeline.sandbox.stats import RequestStats, StatsMiddleware, sandbox_routes

Handler = Callable[[Request, str], Awaitable[Response]]
_BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


class CrmofficeApi:
    """The endpoints; each checks the bearer token and the per-client rate limit first."""

    def __init__(
        self,
        state: CrmofficeState,
        stats: RequestStats,
        credentials: tuple[str, str],
        rate_limit: int,
        token_ttl: float,
        rate_window: float = 60.0,
        retry_after_format: RetryAfterFormat = "seconds",
        phone_format: PhoneFormat = "as-sent",
        max_page_size: int | None = None,
    ) -> None:
        self.state = state
        self._max_page_size = max_page_size
        self.stats = stats
        self._credentials = credentials
        self._tokens = TokenBook(token_ttl)
        self._limiter = SlidingWindowLimiter(rate_limit, rate_window)
        self._retry_after_format: RetryAfterFormat = retry_after_format
        self._phone_format: PhoneFormat = phone_format

    def _validated(self, entity: str, body: Any) -> dict[str, Any]:
        """A write body, validated, as CRMOffice stores it (phones reformatted if configured)."""
        values = self.state.validate(entity, body)
        return reformat_phones(values, CRMOFFICE_PHONE_FIELDS, self._phone_format)

    async def token(self, request: Request) -> Response:
        """`POST /connect/token` (OAuth2 client credentials, form-encoded)."""
        if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            return _oauth_error(400, "invalid_request", "Send application/x-www-form-urlencoded.")
        async with request.form() as form:
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if fields.get("grant_type") != "client_credentials":
            return _oauth_error(
                400, "unsupported_grant_type", "Only client_credentials is supported."
            )
        client_id, secret = _basic_credentials(request) or (
            fields.get("client_id", ""),
            fields.get("client_secret", ""),
        )
        expected_id, expected_secret = self._credentials
        if not (
            secrets.compare_digest(client_id.encode(), expected_id.encode())
            and secrets.compare_digest(secret.encode(), expected_secret.encode())
        ):
            return _oauth_error(401, "invalid_client", "Unknown client or wrong secret.")
        issued = self._tokens.issue(client_id)
        body = {
            "access_token": issued.value,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    def guarded(
        self, entity: str, handlers: Mapping[str, Handler]
    ) -> Callable[[Request], Awaitable[Response]]:
        """An endpoint behind bearer auth and the rate limit, dispatching on the method."""

        async def endpoint(request: Request) -> Response:
            caller = self._tokens.caller(request.headers.get("authorization"))
            if caller is None:
                return problem(401, "A valid bearer token is required.", headers=_BEARER_CHALLENGE)
            retry_after = self._limiter.acquire(caller)
            if retry_after is not None:
                self.stats.count_throttled()
                return too_many_requests(retry_after, self._retry_after_format)
            try:
                return await handlers[request.method](request, entity)
            except Problem as exc:
                return exc.response()
            except InvalidBody as exc:
                detail = "The request body has invalid fields."
                return problem(422, detail, "validation-error", errors=exc.errors)

        return endpoint

    async def list_records(self, request: Request, entity: str) -> Response:
        """`GET /{entity}?page=&pageSize=&updatedSince=` → the items envelope.

        With `max_page_size` set, a larger `pageSize` is capped and the envelope reports the
        size actually served (a server that pages smaller than asked: issue 9, kind 3)."""
        page, size, since = list_params(request, entity)
        if self._max_page_size is not None:
            size = min(size, self._max_page_size)
        items, total = self.state.page(entity, page, size, since)
        return JSONResponse({"items": items, "page": page, "pageSize": size, "totalItems": total})

    async def create_record(self, request: Request, entity: str) -> Response:
        """`POST /{entity}` → 201 with the new record."""
        values = self._validated(entity, await json_body(request))
        record = self.state.create(entity, values)
        self.stats.count_writes(1)
        location = {"Location": f"/{entity}/{record['id']}"}
        return JSONResponse(record, status_code=201, headers=location)

    async def get_record(self, request: Request, entity: str) -> Response:
        """`GET /{entity}/{id}`."""
        return JSONResponse(self.state.get(entity, _path_id(request)) or _missing(request, entity))

    async def patch_record(self, request: Request, entity: str) -> Response:
        """`PATCH /{entity}/{id}`: only the fields sent change."""
        return await self._write(request, entity, self.state.update)

    async def put_record(self, request: Request, entity: str) -> Response:
        """`PUT /{entity}/{id}`: the body replaces the record; left-out fields become null."""
        return await self._write(request, entity, self.state.replace)

    async def _write(self, request: Request, entity: str, apply: Callable[..., object]) -> Response:
        record_id = _path_id(request)
        if not self.state.exists(entity, record_id):
            _missing(request, entity)
        values = self._validated(entity, await json_body(request))
        record = apply(entity, record_id, values)
        if record is None:  # deleted meanwhile
            _missing(request, entity)
        self.stats.count_writes(1)
        return JSONResponse(record)

    async def delete_record(self, request: Request, entity: str) -> Response:
        """`DELETE /{entity}/{id}` → 204."""
        try:
            removed = self.state.remove(entity, _path_id(request))
        except ReferencedRecord as exc:
            raise Problem(409, str(exc), "conflict") from None
        if not removed:
            _missing(request, entity)
        self.stats.count_writes(1)
        return Response(status_code=204)


def _path_id(request: Request) -> str:
    return str(request.path_params["id"])


def _missing(request: Request, entity: str) -> NoReturn:
    raise Problem(404, f"No {entity} record has id {_path_id(request)!r}.", "not-found")


def _oauth_error(status: int, code: str, description: str) -> Response:
    body = {"error": code, "error_description": description}
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, _, secret = decoded.partition(":")
    return unquote(client_id), unquote(secret)


def crmoffice_routes(api: CrmofficeApi) -> list[BaseRoute]:
    """The API's route table (also used to name path families in the stats)."""
    routes: list[BaseRoute] = [Route(TOKEN_PATH, api.token, methods=["POST"])]
    for entity in ENTITIES:
        collection = {"GET": api.list_records, "POST": api.create_record}
        single = {
            "GET": api.get_record,
            "PATCH": api.patch_record,
            "PUT": api.put_record,
            "DELETE": api.delete_record,
        }
        routes.append(
            Route(f"/{entity}", api.guarded(entity, collection), methods=list(collection))
        )
        routes.append(Route(f"/{entity}/{{id}}", api.guarded(entity, single), methods=list(single)))
    return routes


def create_crmoffice_app(
    state: CrmofficeState | None = None,
    *,
    stats: RequestStats | None = None,
    credentials: tuple[str, str] = (CLIENT_ID, CLIENT_SECRET),
    rate_limit: int = DEFAULT_RATE_LIMIT,
    token_ttl: float = 3600.0,
    faults: FaultSettings | None = None,
    rate_window: float = 60.0,
    retry_after_format: RetryAfterFormat = "seconds",
    phone_format: PhoneFormat = "as-sent",
    max_page_size: int | None = None,
) -> Starlette:
    """The CRMOffice ASGI app over `state`, with fault injection and `/_sandbox/stats`; the
    rate limit is `rate_limit` requests per `rate_window` seconds, its 429s in
    `retry_after_format`; `phone_format` is a realism option (see `realism`); list pages hold
    at most `max_page_size` items when set."""
    stats = stats or RequestStats()
    api = CrmofficeApi(
        state or CrmofficeState(),
        stats,
        credentials,
        rate_limit,
        token_ttl,
        rate_window,
        retry_after_format,
        phone_format,
        max_page_size,
    )
    respond = partial(fault_response, form=retry_after_format)
    routes = crmoffice_routes(api)
    plan = FaultPlan(faults or FaultSettings())
    return Starlette(
        routes=[*sandbox_routes(stats), *routes],
        middleware=[
            Middleware(StatsMiddleware, stats=stats, routes=routes),
            Middleware(FaultMiddleware, plan=plan, stats=stats, respond=respond),
        ],
        exception_handlers={HTTPException: _http_problem},
    )


async def _http_problem(request: Request, exc: Exception) -> Response:
    """Routing errors (unknown path 404, wrong method 405) as problem documents."""
    assert isinstance(exc, HTTPException)
    return problem(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))
