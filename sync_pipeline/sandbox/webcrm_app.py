"""The emulated WebCRM REST API (Starlette), after the vendor's Swagger 2.0 spec.

Emulated operations: `POST /Auth/ApiLogin`, `POST /Auth/ApiRefresh`; for every entity
`systems.yaml` declares (Persons, Users, Products, Organisations) the operations the vendored
spec lists for it:
`GET/POST/PATCH /{Entity}`, `GET/PUT /{Entity}/{id}` (and `DELETE /Products/{id}`); `GET /Queries`
(see `webcrm_queries`); the Hooks endpoints (`webcrm_hooks_api`; delivery: `hook_delivery`).
Page sizes and the bulk PATCH limit are the entity's `page_size` and `write_chunk`; the default
rate limit is the declared one. The live API's looser routing, login answer and query rows are
in `webcrm_live`; what it refuses beyond types in `webcrm_rules`.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sync_pipeline.core.systems import EntitySpec, packaged_systems
from sync_pipeline.sandbox.access import RetryAfterFormat, SlidingWindowLimiter, TokenBook
from sync_pipeline.sandbox.faults import FaultMiddleware, FaultPlan, FaultSettings
from sync_pipeline.sandbox.realism import WebcrmWriteRules
from sync_pipeline.sandbox.stats import RequestStats, StatsMiddleware, sandbox_routes
from sync_pipeline.sandbox.webcrm_dto import ENTITIES, coerce_body
from sync_pipeline.sandbox.webcrm_hooks import HookBook
from sync_pipeline.sandbox.webcrm_hooks_api import HooksApi, hook_routes
from sync_pipeline.sandbox.webcrm_http import (
    FORM_MEDIA_TYPES,
    BadRequest,
    error,
    fault_response,
    json_body,
    media_type,
    paging,
    path_id,
    too_many_requests,
)
from sync_pipeline.sandbox.webcrm_live import (
    CaseInsensitiveNames,
    RefreshTokens,
    error_token_body,
    form_value,
    query_rows,
    route_segments,
    token_body,
)
from sync_pipeline.sandbox.webcrm_queries import parse_script
from sync_pipeline.sandbox.webcrm_rules import CreateFailures, create_refusal, update_refusal
from sync_pipeline.sandbox.webcrm_state import WebcrmState

DEFAULT_AUTH_CODE = "sandbox-webcrm-token"
DEFAULT_RATE_LIMIT = packaged_systems().webcrm.rate_limit.per_minute
Handler = Callable[[Request, str], Awaitable[Response]]


class WebcrmApi:
    """The endpoints; each checks the bearer token and the per-token rate limit first."""

    def __init__(
        self,
        state: WebcrmState,
        stats: RequestStats,
        auth_code: str,
        rate_limit: int,
        token_ttl: float,
        rate_window: float = 60.0,
        retry_after_format: RetryAfterFormat = "seconds",
        rules: WebcrmWriteRules | None = None,
        create_failures: CreateFailures | None = None,
    ) -> None:
        self.state = state
        self._failures = create_failures or CreateFailures(0.0, 0)
        self._refresh = RefreshTokens()
        self.stats = stats
        self._auth_code = auth_code
        self._tokens = TokenBook(token_ttl)
        self._limiter = SlidingWindowLimiter(rate_limit, rate_window)
        self._retry_after_format: RetryAfterFormat = retry_after_format
        self._rules = rules or WebcrmWriteRules()

    def _checked(self, entity: str, body: Any) -> dict[str, Any]:
        """A single-record body as stored; a wrong type or a broken field rule is a 400."""
        try:
            return self._rules.single(_coerce(entity, body, self.state))
        except ValueError as exc:
            raise BadRequest(str(exc)) from None

    async def login(self, request: Request) -> Response:
        """`POST /Auth/ApiLogin` with form field `authCode` → TokenResponseDto."""
        if media_type(request) not in FORM_MEDIA_TYPES:
            return error(
                415, "authCode must be sent as form data.", "UnsupportedMediaTypeException"
            )
        async with request.form() as form:
            code = form_value(form, "authCode")
        if not isinstance(code, str) or not secrets.compare_digest(
            code.encode(), self._auth_code.encode()
        ):
            return JSONResponse(
                error_token_body("invalid_grant", "Invalid authCode."), status_code=401
            )
        return self._grant(code)

    async def refresh(self, request: Request) -> Response:
        """`POST /Auth/ApiRefresh` with header `refreshToken` → a new TokenResponseDto."""
        caller = self._refresh.caller(request.headers.get("refreshToken"))
        if caller is None:
            body = error_token_body("invalid_grant", "Invalid refresh token.")
            return JSONResponse(body, status_code=401)
        return self._grant(caller)

    def _grant(self, caller: str) -> Response:
        token = self._tokens.issue(caller)
        body = token_body(token.value, self._refresh.issue(caller), token.expires_in)
        return JSONResponse(body)

    def guarded(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """Wrap an endpoint in bearer auth, the rate limit and WebCRM's 400 handling."""

        async def endpoint(request: Request) -> Response:
            caller = self._tokens.caller(request.headers.get("authorization"))
            if caller is None:
                return error(
                    401, "Authorization has been denied for this request.", "UnauthorizedException"
                )
            # Per API token (the caller), not per access token: two logins with one API token
            # share one 250/min budget (DESIGN.md section 5, "per token"; the stricter reading).
            retry_after = self._limiter.acquire(caller)
            if retry_after is not None:
                self.stats.count_throttled()
                return too_many_requests(retry_after, self._retry_after_format)
            try:
                return await handler(request, request.path_params.get("entity", ""))
            except BadRequest as exc:
                kind = (
                    "UnsupportedMediaTypeException" if exc.status == 415 else "BadRequestException"
                )
                return error(exc.status, str(exc), kind)

        return endpoint

    async def list_records(self, request: Request, entity: str) -> Response:
        """`GET /{Entity}?Page=&Size=` → bare array, `[]` past the end."""
        page, size = paging(request, _declared(entity).page_size)
        return JSONResponse(self.state.page(entity, page, size))

    async def get_record(self, request: Request, entity: str) -> Response:
        """`GET /{Entity}/{id}`."""
        record_id = path_id(request)
        record = self.state.get(entity, record_id)
        if record is None:
            return _not_found(entity, record_id)
        return JSONResponse(record)

    async def create_record(self, request: Request, entity: str) -> Response:
        """`POST /{Entity}` → the new id as a bare integer."""
        values = self._checked(entity, await json_body(request))
        refusal = create_refusal(self.state, entity, values) or self._failures.refusal(entity)
        if refusal is not None:
            raise BadRequest(refusal)
        new_id = self.state.create(entity, values)
        self.stats.count_writes(1)
        return JSONResponse(new_id)

    async def replace_record(self, request: Request, entity: str) -> Response:
        """`PUT /{Entity}/{id}`: the body replaces the record; left-out properties become empty."""
        record_id = path_id(request)
        body = await json_body(request)
        sent_id = body.get(ENTITIES[entity].id_field) if isinstance(body, dict) else None
        if sent_id not in (None, 0, record_id):
            raise BadRequest(
                f"{ENTITIES[entity].id_field} {sent_id} does not match the URL id {record_id}."
            )
        values = self._checked(entity, body)
        refusal = update_refusal(self.state, entity, record_id, values, whole=True)
        if refusal is not None:
            raise BadRequest(refusal)
        if not self.state.replace(entity, record_id, values):
            return _not_found(entity, record_id)
        self.stats.count_writes(1)
        return Response(status_code=200)

    async def upsert_records(self, request: Request, entity: str) -> Response:
        """`PATCH /{Entity}`: bulk upsert (≤ write_chunk, 500); one result string per item."""
        items = await json_body(request)
        if not isinstance(items, list):
            raise BadRequest(
                f"The request body must be a JSON array of {ENTITIES[entity].prefix}Dto."
            )
        most = _declared(entity).write_chunk
        if len(items) > most:
            raise BadRequest(f"At most {most} items can be submitted at once (got {len(items)}).")
        batch = [
            (item.get(ENTITIES[entity].id_field), _coerce(entity, item, self.state))
            for item in _objects(items, entity)
        ]
        try:
            errors = self._rules.bulk_errors([values for _, values in batch])
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        results = [
            error or self._upsert_one(entity, record_id, self._rules.stored(values))
            for (record_id, values), error in zip(batch, errors, strict=True)
        ]
        self.stats.count_writes(sum(r.isdigit() for r in results))
        return JSONResponse(results)

    def _upsert_one(self, entity: str, record_id: Any, values: dict[str, Any]) -> str:
        if not record_id:
            refusal = create_refusal(self.state, entity, values)
            refusal = refusal or self._failures.refusal(entity)
            return refusal or str(self.state.create(entity, values))
        refusal = update_refusal(self.state, entity, record_id, values, whole=False)
        if refusal is not None:
            return refusal
        if record_id < 0 or not self.state.update(entity, record_id, values):
            return f"{ENTITIES[entity].prefix} with id {record_id} was not found."
        return str(record_id)

    async def delete_record(self, request: Request, entity: str) -> Response:
        """`DELETE /{Entity}/{id}` (where the vendor spec has it: Products)."""
        record_id = path_id(request)
        if not self.state.remove(entity, record_id):
            return _not_found(entity, record_id)
        self.stats.count_writes(1)
        return Response(status_code=200)

    async def query(self, request: Request, entity: str) -> Response:
        """`GET /Queries?script=...&Page=&Size=` → the matching rows."""
        flag = request.query_params.get("formatCustomFields")
        if flag is not None and flag.lower() not in ("true", "false"):
            raise BadRequest(f"The value '{flag}' is not valid for formatCustomFields.")
        script = request.query_params.get("script")
        if not script:
            raise BadRequest("The script parameter is required.")
        try:
            query = parse_script(script, self.state.zone)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        page, size = paging(request, _declared(query.entity).page_size)
        records = self.state.select(query, page, size)
        first = (page - 1) * size + 1
        return JSONResponse(query_rows(ENTITIES[query.entity], records, first, query.columns))


def _declared(entity: str) -> EntitySpec:
    return packaged_systems().webcrm.entity(entity)


def _coerce(entity: str, body: Any, state: WebcrmState) -> dict[str, Any]:
    try:
        return coerce_body(ENTITIES[entity], body, state.zone)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


def _objects(items: list[Any], entity: str) -> list[dict[str, Any]]:
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise BadRequest(f"Item {position} is not a {ENTITIES[entity].prefix}Dto object.")
    return items


def _not_found(entity: str, record_id: int) -> Response:
    return error(
        404, f"{ENTITIES[entity].prefix} with id {record_id} was not found.", "NotFoundException"
    )


def webcrm_routes(api: WebcrmApi, hooks: HookBook | None = None) -> list[BaseRoute]:
    """The API's route table (also used to name path families in the stats)."""
    routes: list[BaseRoute] = [
        Route("/Auth/ApiLogin", api.login, methods=["POST"]),
        Route("/Auth/ApiRefresh", api.refresh, methods=["POST"]),
        Route("/Queries", api.guarded(api.query), methods=["GET"]),
        *hook_routes(HooksApi(hooks or HookBook()), api.guarded),
    ]
    for entity, spec in ENTITIES.items():
        verbs = {"GET": api.list_records, "POST": api.create_record, "PATCH": api.upsert_records}
        collection = {m: verbs[m] for m in spec.collection_methods if m in verbs}
        verbs = {"GET": api.get_record, "PUT": api.replace_record, "DELETE": api.delete_record}
        single = {m: verbs[m] for m in spec.record_methods if m in verbs}
        for path, handlers in ((f"/{entity}", collection), (f"/{entity}/{{id}}", single)):
            endpoint = api.guarded(partial(_dispatch, api, entity, handlers))
            routes.append(Route(path, endpoint, methods=list(handlers)))
    return routes


async def _dispatch(
    api: WebcrmApi, entity: str, handlers: Mapping[str, Handler], request: Request, _: str
) -> Response:
    return await handlers[request.method](request, entity)


def create_webcrm_app(
    state: WebcrmState | None = None,
    *,
    stats: RequestStats | None = None,
    auth_code: str = DEFAULT_AUTH_CODE,
    rate_limit: int = DEFAULT_RATE_LIMIT,
    token_ttl: float = 3600.0,
    faults: FaultSettings | None = None,
    rate_window: float = 60.0,
    retry_after_format: RetryAfterFormat = "seconds",
    rules: WebcrmWriteRules | None = None,
    create_failures: CreateFailures | None = None,
    hooks: HookBook | None = None,
) -> Starlette:
    """The WebCRM ASGI app over `state`, with fault injection and `/_sandbox/stats`; the rate
    limit is `rate_limit` requests per `rate_window` seconds, its 429s in `retry_after_format`;
    `rules`: field rules and realism options (see `realism`); `create_failures` draws the
    per-item id-generation failures (evidence 9; none by default); `hooks` the registered
    hooks (delivery is the caller's: `hook_delivery.HookDeliverer`)."""
    stats = stats or RequestStats()
    api = WebcrmApi(
        state or WebcrmState(),
        stats,
        auth_code,
        rate_limit,
        token_ttl,
        rate_window,
        retry_after_format,
        rules,
        create_failures,
    )
    respond = partial(fault_response, form=retry_after_format)
    routes = webcrm_routes(api, hooks)
    plan = FaultPlan(faults or FaultSettings())
    return Starlette(
        routes=[*sandbox_routes(stats), *routes],
        middleware=[
            Middleware(CaseInsensitiveNames, segments=route_segments()),
            Middleware(StatsMiddleware, stats=stats, routes=routes),
            Middleware(FaultMiddleware, plan=plan, stats=stats, respond=respond),
        ],
    )
