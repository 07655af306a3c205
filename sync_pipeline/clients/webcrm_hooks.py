"""WebCRM's Hooks API on the WebCRM client (vendor spec: `GET/POST /{Entity}/Hooks`,
`GET/PUT/DELETE /{Entity}/Hooks/{id}`, definition `<Prefix>HookDto`).

A hook has one `EventType` (Create, Update or Delete), a `TargetUrl` WebCRM POSTs to, `IsEnabled`
and a `Filter` (`["All"]` here: every record). The list is paged like records (`Size` ≤ 1000).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sync_pipeline.clients.http import HttpEdge
from sync_pipeline.clients.pagination import PagePaginator
from sync_pipeline.core.hook_payload import HOOK_ENTITIES

HOOK_PAGE_SIZE = 1000


@dataclass(frozen=True)
class Hook:
    """One registered hook as the API lists it."""

    id: int
    entity: str
    event_type: str
    target_url: str
    enabled: bool


class WebcrmHooks:
    """The Hooks operations; mixed into `WebcrmClient` (which provides `_http` and `_pages`)."""

    _http: HttpEdge

    def _pages(
        self, path: str, params: Mapping[str, str], paginator: PagePaginator
    ) -> Iterator[list[dict[str, Any]]]:
        raise NotImplementedError  # provided by WebcrmClient

    def list_hooks(self, entity: str) -> list[Hook]:
        """Every hook the token's user registered for `entity` (Persons, Users, ...)."""
        path = _hooks_path(entity)
        pages = self._pages(path, {}, PagePaginator(HOOK_PAGE_SIZE))
        return [_hook(entity, dto) for page in pages for dto in page]

    def create_hook(
        self, entity: str, event_type: str, target_url: str, *, enabled: bool = True
    ) -> int:
        """Register a hook (POST, not repeated once it may have landed); return its id."""
        body = _dto(event_type, target_url, enabled)
        response = self._http.request("POST", _hooks_path(entity), json=body, idempotent=False)
        new_id = self._http.json_body(response)
        if isinstance(new_id, bool) or not isinstance(new_id, int) or new_id <= 0:
            raise self._http.protocol_error(response, "a create response that is not an id")
        return new_id

    def update_hook(self, hook: Hook, *, enabled: bool) -> None:
        """Replace a hook's settings (PUT), keeping its event type and URL."""
        body = {"Id": hook.id, **_dto(hook.event_type, hook.target_url, enabled)}
        self._http.request("PUT", f"{_hooks_path(hook.entity)}/{hook.id}", json=body)

    def delete_hook(self, hook: Hook) -> None:
        """Delete a hook."""
        self._http.request("DELETE", f"{_hooks_path(hook.entity)}/{hook.id}")


def _hooks_path(entity: str) -> str:
    if entity not in HOOK_ENTITIES:
        raise ValueError(f"WebCRM has no hooks for {entity!r} here ({', '.join(HOOK_ENTITIES)})")
    return f"/{entity}/Hooks"


def _dto(event_type: str, target_url: str, enabled: bool) -> dict[str, Any]:
    return {
        "TargetUrl": target_url,
        "EventType": event_type,
        "IsEnabled": enabled,
        "Filter": ["All"],
    }


def _hook(entity: str, dto: Mapping[str, Any]) -> Hook:
    return Hook(
        id=int(dto.get("Id") or 0),
        entity=entity,
        event_type=str(dto.get("EventType") or ""),
        target_url=str(dto.get("TargetUrl") or ""),
        enabled=bool(dto.get("IsEnabled")),
    )
