"""WebCRM's Hooks API, emulated: `GET/POST /{Entity}/Hooks`, `GET/PUT/DELETE /{Entity}/Hooks/{id}`
for Persons, Users, Products and Organisations (vendor spec: operations `PersonsHooksGet` …,
definition `PersonHookDto` …: `Id` int64, `TargetUrl`, `IsEnabled`, `EventType`
Create/Update/Delete, `Filter` an array of the DTO's enum, and the server's `CreatedAt/By`,
`UpdatedAt/By`).

ASSUMED where the spec is silent: a hook needs an absolute http(s) `TargetUrl` and an
`EventType` (400 otherwise); `IsEnabled` defaults to true and `Filter` to `["All"]`; an unknown
id is a 404 in the records' error shape; hook ids are one int64 sequence across entities.
`Filter` values other than `All` (owners, the current user) are validated and kept but match
every record: the sandbox has no users behind its token. Delivery is `hook_delivery`'s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sync_pipeline.core.hook_payload import EVENT_TYPES, HOOK_ENTITIES
from sync_pipeline.core.known_fields import webcrm_spec
from sync_pipeline.sandbox.timestamps import DEFAULT_WEBCRM_ZONE, webcrm_timestamp
from sync_pipeline.sandbox.webcrm_http import BadRequest

FIRST_HOOK_ID = 1
API_AUTHOR = "API"


def filter_values(entity: str) -> tuple[str, ...]:
    """The `Filter` members the spec's `<Prefix>HookDto` allows for `entity`."""
    dto = webcrm_spec()["definitions"][f"{HOOK_ENTITIES[entity]}HookDto"]
    return tuple(dto["properties"]["Filter"]["items"]["enum"])


class HookBook:
    """Every registered hook, by entity and id; thread-safe; `dump`/`load` for `--data-dir`."""

    def __init__(
        self, clock: Callable[[], float] = time.time, zone: str = DEFAULT_WEBCRM_ZONE
    ) -> None:
        self._clock = clock
        self._zone = ZoneInfo(zone)
        self._lock = threading.Lock()
        self._hooks: dict[str, dict[int, dict[str, Any]]] = {e: {} for e in HOOK_ENTITIES}
        self._next_id = FIRST_HOOK_ID
        self.version = 0

    def page(self, entity: str, page: int, size: int) -> list[dict[str, Any]]:
        """One page of `entity`'s hooks in id order, rendered as `<Prefix>HookDto`."""
        with self._lock:
            hooks = sorted(self._hooks[entity].items())[(page - 1) * size : page * size]
            return [self._render(hook) for _, hook in hooks]

    def get(self, entity: str, hook_id: int) -> dict[str, Any] | None:
        """One rendered hook, or None."""
        with self._lock:
            hook = self._hooks[entity].get(hook_id)
            return None if hook is None else self._render(hook)

    def add(self, entity: str, values: dict[str, Any]) -> int:
        """Register a hook (values from `hook_values`); return its new id."""
        with self._lock:
            hook_id = self._next_id
            self._next_id += 1
            now = int(self._clock())
            self._hooks[entity][hook_id] = {
                **values,
                "Id": hook_id,
                "CreatedAt": now,
                "CreatedBy": API_AUTHOR,
                "UpdatedAt": now,
                "UpdatedBy": API_AUTHOR,
            }
            self.version += 1
            return hook_id

    def replace(self, entity: str, hook_id: int, values: dict[str, Any]) -> bool:
        """Replace a hook's settings; False if it does not exist."""
        with self._lock:
            hook = self._hooks[entity].get(hook_id)
            if hook is None:
                return False
            hook.update(values, UpdatedAt=int(self._clock()), UpdatedBy=API_AUTHOR)
            self.version += 1
            return True

    def remove(self, entity: str, hook_id: int) -> bool:
        """Delete a hook; False if it does not exist."""
        with self._lock:
            if self._hooks[entity].pop(hook_id, None) is None:
                return False
            self.version += 1
            return True

    def targets(self, entity: str, event_type: str) -> list[tuple[int, str]]:
        """`(hook id, TargetUrl)` of every enabled hook of `entity` for `event_type`."""
        with self._lock:
            return [
                (hook_id, hook["TargetUrl"])
                for hook_id, hook in sorted(self._hooks[entity].items())
                if hook["IsEnabled"] and hook["EventType"] == event_type
            ]

    def dump(self) -> dict[str, Any]:
        """A JSON-ready snapshot: hooks and the id counter."""
        with self._lock:
            hooks = {e: [dict(h) for h in rows.values()] for e, rows in self._hooks.items()}
            return {"next_id": self._next_id, "hooks": hooks}

    def load(self, snapshot: dict[str, Any]) -> None:
        """Replace everything with a snapshot made by dump()."""
        with self._lock:
            self._next_id = int(snapshot.get("next_id", FIRST_HOOK_ID))
            stored = snapshot.get("hooks", {})
            self._hooks = {e: {int(h["Id"]): h for h in stored.get(e, [])} for e in HOOK_ENTITIES}
            self.version += 1

    def _render(self, hook: dict[str, Any]) -> dict[str, Any]:
        rendered = dict(hook)
        rendered["Filter"] = list(hook["Filter"])
        for name in ("CreatedAt", "UpdatedAt"):
            rendered[name] = webcrm_timestamp(hook[name], self._zone)
        return rendered


def hook_values(entity: str, body: Any) -> dict[str, Any]:
    """The settings a `<Prefix>HookDto` body carries (server fields ignored), checked.

    Raises BadRequest for a body that is not an object, a TargetUrl that is not an absolute
    http(s) URL, an EventType or Filter member outside the spec's enums, a non-boolean IsEnabled.
    """
    dto = f"{HOOK_ENTITIES[entity]}HookDto"
    if not isinstance(body, dict):
        raise BadRequest(f"The request body must be a {dto} object.")
    url = body.get("TargetUrl")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadRequest("TargetUrl must be an absolute http or https URL.")
    event_type = body.get("EventType")
    if event_type not in EVENT_TYPES:
        raise BadRequest(f"EventType must be one of {', '.join(EVENT_TYPES)}.")
    enabled = body.get("IsEnabled", True)
    if not isinstance(enabled, bool):
        raise BadRequest("IsEnabled must be true or false.")
    chosen = body.get("Filter") or ["All"]
    allowed = filter_values(entity)
    if not isinstance(chosen, list) or any(f not in allowed for f in chosen):
        raise BadRequest(f"Filter members must be among {', '.join(allowed)}.")
    return {"TargetUrl": url, "EventType": event_type, "IsEnabled": enabled, "Filter": chosen}
