"""WebCRM hook events: the payload a hook POSTs, and where our receiver listens for it.

ASSUMED: the vendor spec (`reference/webcrm-swagger-v1.json`, `/{Entity}/Hooks`, `XHookDto`)
documents how hooks are registered (`TargetUrl`, `IsEnabled`, `EventType` Create/Update/Delete,
`Filter`), not what WebCRM POSTs. Our assumption, kept here only, so the sandbox (which sends it)
and the receiver (which parses it) change together when the real payload is known: one JSON
object per event,

    {"HookId": 17, "Entity": "Persons", "EventType": "Update", "Id": 1042,
     "EventTime": "2026-11-30T09:40:01.123Z"}

The parser is lenient where the real payload may differ: member names in any case, the entity
singular or plural (`Person`, `Persons`), the id as `Id` or `<Prefix>Id` (`PersonId`), as a
number or digits, a JSON array of such objects, and no time at all (the receipt time is used).
Pure: times are arguments, never read from a clock.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args
from urllib.parse import urlsplit, urlunsplit

from sync_pipeline.core.systems import packaged_systems

EventType = Literal["Create", "Update", "Delete"]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)
# The WebCRM entities whose hooks we manage (every entity `systems.yaml` declares for WebCRM),
# by collection name and DTO prefix (`Persons` -> `Person`: `PersonDto`, `PersonHookDto`).
HOOK_ENTITIES: Mapping[str, str] = {
    name: (spec.dto or name).removesuffix("Dto")
    for name, spec in packaged_systems().webcrm.entities.items()
}
# Our receiver listens at RECEIVER_PATH/<secret>; a TargetUrl with this path is one of ours.
RECEIVER_PATH = "/webcrm/hooks"
MAX_EVENTS_PER_BODY = 1000
# WebCRM ids are int32 (vendor spec: `PersonId`, `/{Entity}/{id}` `format: int32`); a larger
# one would make every GET by id answer 400, failing each sensor tick that reads the event.
MAX_RECORD_ID = 2**31 - 1


@dataclass(frozen=True)
class HookEvent:
    """One change of one WebCRM record: `entity` a collection name (`Persons`), `record_id`
    the record's id as text, `event_type` Create/Update/Delete, `event_time` aware UTC."""

    entity: str
    record_id: str
    event_type: EventType
    event_time: datetime


def build_payload(event: HookEvent, hook_id: int) -> dict[str, Any]:
    """The JSON object the (emulated) WebCRM POSTs for `event` on hook `hook_id`."""
    stamp = event.event_time.astimezone(UTC).isoformat(timespec="milliseconds")
    return {
        "HookId": hook_id,
        "Entity": event.entity,
        "EventType": event.event_type,
        "Id": int(event.record_id),
        "EventTime": stamp.replace("+00:00", "Z"),
    }


def parse_payload(body: bytes, received_at: datetime) -> list[HookEvent]:
    """The events of one POST body (an object or an array of objects).

    Raises ValueError (with a message fit for a 400) for anything else: bad JSON, an unknown
    entity or event type, a missing or non-positive id, a time without an offset.
    """
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("the body is not JSON") from None
    items = document if isinstance(document, list) else [document]
    if not items or len(items) > MAX_EVENTS_PER_BODY:
        raise ValueError(f"expected 1 to {MAX_EVENTS_PER_BODY} events, got {len(items)}")
    return [_event(item, received_at) for item in items]


def _event(item: object, received_at: datetime) -> HookEvent:
    if not isinstance(item, dict):
        raise ValueError("an event is not a JSON object")
    members = {str(k).lower(): v for k, v in item.items()}
    entity = _entity(members.get("entity"))
    event_type = next(
        (t for t in EVENT_TYPES if t.lower() == str(members.get("eventtype", "")).lower()), None
    )
    if event_type is None:
        raise ValueError(f"EventType must be one of {', '.join(EVENT_TYPES)}")
    raw_id = members.get("id", members.get(f"{HOOK_ENTITIES[entity].lower()}id"))
    record_id = _record_id(raw_id)
    raw_time = members.get("eventtime", members.get("time"))
    return HookEvent(entity, record_id, event_type, _time(raw_time, received_at))


def _entity(value: object) -> str:
    text = str(value or "").strip().lower()
    for name, prefix in HOOK_ENTITIES.items():
        if text in (name.lower(), prefix.lower()):
            return name
    raise ValueError(f"Entity must be one of {', '.join(HOOK_ENTITIES)}")


def _record_id(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("Id must be a positive integer")
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_RECORD_ID:
        raise ValueError(f"Id must be a positive integer up to {MAX_RECORD_ID}")
    return str(int(text))


def _time(value: object, received_at: datetime) -> datetime:
    if value is None:
        return received_at.astimezone(UTC)
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise ValueError("EventTime must be an ISO 8601 date-time") from None
    if moment.utcoffset() is None:
        raise ValueError("EventTime must carry a UTC offset")
    return moment.astimezone(UTC)


def target_url(base_url: str, secret: str) -> str:
    """The TargetUrl to register: the receiver's public `base_url` (scheme, host, optional
    prefix path; a trailing RECEIVER_PATH is accepted) + `RECEIVER_PATH/<secret>`.

    Raises ValueError for a base URL that is not absolute http(s), carries a query, or already
    carries a receiver URL's path past `RECEIVER_PATH` (a full receiver URL pasted as the base:
    the hooks would POST to `…/webcrm/hooks/<old>/webcrm/hooks/<secret>` and always get 404).
    """
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise ValueError(f"--target-url must be an absolute http(s) URL, not {base_url!r}")
    path = parts.path.rstrip("/").removesuffix(RECEIVER_PATH)
    if f"{RECEIVER_PATH}/" in f"{path}/":
        raise ValueError(
            f"--target-url must be the receiver's base URL (without {RECEIVER_PATH}/...), "
            f"not {redacted_url(base_url)!r}"
        )
    return urlunsplit((parts.scheme, parts.netloc, f"{path}{RECEIVER_PATH}/{secret}", "", ""))


def is_receiver_url(url: str) -> bool:
    """Whether a hook's TargetUrl points at a receiver of ours (`…/webcrm/hooks/<secret>`)."""
    path = urlsplit(url).path.rstrip("/")
    head, _, secret = path.rpartition("/")
    return bool(secret) and head.endswith(RECEIVER_PATH)


def redacted_url(url: str) -> str:
    """`url` fit to print: a receiver URL's secret (its last path segment), any query and any
    user-info shown as `***`."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    netloc = f"***@{host}" if "@" in parts.netloc else host
    path = parts.path
    if is_receiver_url(url):
        path = f"{path.rstrip('/').rpartition('/')[0]}/***"
    return urlunsplit((parts.scheme, netloc, path, "***" if parts.query else "", ""))
