"""`sync-pipeline hooks serve [--host H] [--port 8710] | register --target-url URL | list |
unregister`: the WebCRM hook receiver and the hooks that feed it.

The shared secret is `SYNC_HOOKS_SECRET` (the receiver checks it, `register` puts it in each
hook's TargetUrl: `<URL>/webcrm/hooks/<secret>`). `register` makes one hook per event type
(Create, Update, Delete) for every WebCRM entity a pair syncs, and is idempotent: a hook with
the same URL and event type is kept (re-enabled if disabled). `unregister` deletes every hook
whose TargetUrl points at a receiver path (ours, whatever the host or secret). Output never
shows a secret. Exit 0 done, 1 failure (one line on stderr), 2 a bad `--target-url`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from sync_pipeline.clients import CrmClientError, Hook, WebcrmClient
from sync_pipeline.commands.connect import open_webcrm
from sync_pipeline.core.hook_payload import (
    EVENT_TYPES,
    HOOK_ENTITIES,
    is_receiver_url,
    redacted_url,
    target_url,
)
from sync_pipeline.receiver import check_secret, serve_receiver
from sync_pipeline.settings import SettingsError, configured_field_map, state_url_from
from sync_pipeline.store import StoreError

SECRET_VARIABLE = "SYNC_HOOKS_SECRET"


def serve(host: str, port: int) -> int:
    """Run the receiver in the foreground until interrupted; 1 when it cannot start."""
    try:
        secret = check_secret(os.environ.get(SECRET_VARIABLE))
        serve_receiver(state_url_from(os.environ, Path.cwd()), secret, host, port)
    except (ValueError, StoreError) as error:
        print(f"hooks serve: {error}", file=sys.stderr)
        return 1
    return 0


def register(base_url: str) -> int:
    """Make sure each synced entity has an enabled hook per event type at our receiver."""
    try:
        secret = check_secret(os.environ.get(SECRET_VARIABLE))
    except ValueError as error:
        print(f"hooks register: {error}", file=sys.stderr)
        return 1
    try:
        url = target_url(base_url, secret)
    except ValueError as error:  # a usage error: the argument is wrong
        print(f"hooks register: {error}", file=sys.stderr)
        return 2

    def act(client: WebcrmClient) -> None:
        counts = dict.fromkeys(("created", "already there", "re-enabled"), 0)
        for entity in _synced_entities():
            existing = client.list_hooks(entity)
            for event_type in EVENT_TYPES:
                outcome, hook_id = _ensure(client, existing, entity, event_type, url)
                counts[outcome] += 1
                print(f"{entity} {event_type}: {outcome} (id {hook_id})")
        summary = ", ".join(f"{n} {what}" for what, n in counts.items())
        print(f"hooks to {redacted_url(url)}: {summary}")

    return _with_webcrm("register", act)


def _ensure(
    client: WebcrmClient, existing: list[Hook], entity: str, event_type: str, url: str
) -> tuple[str, int]:
    """One hook for (entity, event type) at `url`: what was done and its id."""
    same = [h for h in existing if h.target_url == url and h.event_type == event_type]
    if not same:
        return "created", client.create_hook(entity, event_type, url)
    if not same[0].enabled:
        client.update_hook(same[0], enabled=True)
        return "re-enabled", same[0].id
    return "already there", same[0].id


def list_hooks() -> int:
    """Print every hook of the hooked entities: id, entity, event type, URL, enabled."""

    def act(client: WebcrmClient) -> None:
        hooks = [hook for entity in HOOK_ENTITIES for hook in client.list_hooks(entity)]
        for hook in hooks:
            state = "enabled" if hook.enabled else "disabled"
            print(f"{hook.id}  {hook.entity}  {hook.event_type}  {_shown(hook)}  {state}")
        if not hooks:
            print("no hooks")

    return _with_webcrm("list", act)


def unregister() -> int:
    """Delete every hook whose TargetUrl points at a receiver of ours."""

    def act(client: WebcrmClient) -> None:
        removed = 0
        for entity in HOOK_ENTITIES:
            for hook in client.list_hooks(entity):
                if is_receiver_url(hook.target_url):
                    client.delete_hook(hook)
                    print(f"deleted {hook.id}  {hook.entity}  {hook.event_type}  {_shown(hook)}")
                    removed += 1
        print(f"{removed} hook(s) removed")

    return _with_webcrm("unregister", act)


def _with_webcrm(verb: str, act: Callable[[WebcrmClient], None]) -> int:
    try:
        with open_webcrm(os.environ) as client:
            act(client)
    except (CrmClientError, SettingsError, ValueError) as error:
        print(f"hooks {verb} failed: {error}", file=sys.stderr)
        return 1
    return 0


def _synced_entities() -> list[str]:
    """The WebCRM entities the configured pairs sync, in HOOK_ENTITIES order."""
    pairs = configured_field_map(os.environ).pairs.values()
    synced = {pair.webcrm_entity for pair in pairs}
    return [entity for entity in HOOK_ENTITIES if entity in synced]


def _shown(hook: Hook) -> str:
    return redacted_url(hook.target_url)
