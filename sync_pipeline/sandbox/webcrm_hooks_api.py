"""The Hooks endpoints' handlers (the book and its rules are in `webcrm_hooks`).

`GET /{Entity}/Hooks?Page=&Size=` → a bare array of `<Prefix>HookDto` (`Size` 1…1000);
`POST /{Entity}/Hooks` → the new id as a bare int64; `GET /{Entity}/Hooks/{id}` → the DTO;
`PUT /{Entity}/Hooks/{id}` → 200, the body replaces the hook's settings; `DELETE` → 200.
Each sits behind the API's bearer auth and rate limit (`WebcrmApi.guarded`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from functools import partial

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sync_pipeline.core.hook_payload import HOOK_ENTITIES
from sync_pipeline.sandbox.webcrm_hooks import HookBook, hook_values
from sync_pipeline.sandbox.webcrm_http import BadRequest, error, json_body, paging

Handler = Callable[[Request, str], Awaitable[Response]]
Guard = Callable[[Handler], Callable[[Request], Awaitable[Response]]]
HOOK_PAGE_SIZE = 1000  # the spec's Size maximum for /{Entity}/Hooks
_INT64 = re.compile(r"^[+-]?\d{1,19}$")


class HooksApi:
    """The handlers over one `HookBook`; each takes the request and the entity name."""

    def __init__(self, book: HookBook) -> None:
        self.book = book

    async def list_hooks(self, request: Request, entity: str) -> Response:
        """`GET /{Entity}/Hooks`."""
        page, size = paging(request, HOOK_PAGE_SIZE)
        return JSONResponse(self.book.page(entity, page, size))

    async def create_hook(self, request: Request, entity: str) -> Response:
        """`POST /{Entity}/Hooks` → the new hook's id."""
        values = hook_values(entity, await json_body(request))
        return JSONResponse(self.book.add(entity, values))

    async def get_hook(self, request: Request, entity: str) -> Response:
        """`GET /{Entity}/Hooks/{id}`."""
        hook_id = _hook_id(request)
        hook = self.book.get(entity, hook_id)
        return _missing(entity, hook_id) if hook is None else JSONResponse(hook)

    async def replace_hook(self, request: Request, entity: str) -> Response:
        """`PUT /{Entity}/Hooks/{id}`."""
        hook_id = _hook_id(request)
        values = hook_values(entity, await json_body(request))
        if not self.book.replace(entity, hook_id, values):
            return _missing(entity, hook_id)
        return Response(status_code=200)

    async def delete_hook(self, request: Request, entity: str) -> Response:
        """`DELETE /{Entity}/Hooks/{id}`."""
        hook_id = _hook_id(request)
        if not self.book.remove(entity, hook_id):
            return _missing(entity, hook_id)
        return Response(status_code=200)


def hook_routes(api: HooksApi, guarded: Guard) -> list[BaseRoute]:
    """`/{Entity}/Hooks` and `/{Entity}/Hooks/{id}` for every hooked entity, each endpoint
    wrapped by `guarded` (the API's auth and rate limit). They must precede `/{Entity}/{id}`."""
    routes: list[BaseRoute] = []
    for entity in HOOK_ENTITIES:
        collection = {"GET": api.list_hooks, "POST": api.create_hook}
        single = {"GET": api.get_hook, "PUT": api.replace_hook, "DELETE": api.delete_hook}
        for path, verbs in ((f"/{entity}/Hooks", collection), (f"/{entity}/Hooks/{{id}}", single)):
            endpoint = guarded(partial(_dispatch, entity, verbs))
            routes.append(Route(path, endpoint, methods=list(verbs)))
    return routes


async def _dispatch(
    entity: str, verbs: Mapping[str, Handler], request: Request, _: str
) -> Response:
    return await verbs[request.method](request, entity)


def _hook_id(request: Request) -> int:
    raw = str(request.path_params["id"])
    if not _INT64.match(raw) or not -(2**63) <= int(raw) < 2**63:
        raise BadRequest(f"The value '{raw}' is not valid.")
    return int(raw)


def _missing(entity: str, hook_id: int) -> Response:
    kind = f"{HOOK_ENTITIES[entity]}Hook"
    return error(404, f"{kind} with id {hook_id} was not found.", "NotFoundException")
