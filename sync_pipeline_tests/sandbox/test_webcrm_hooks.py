"""WebCRM Hooks endpoints: every answer is what the vendor spec declares (PersonHookDto, ...)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest

from sync_pipeline.core.hook_payload import HOOK_ENTITIES
from sync_pipeline.processes import free_port
from sync_pipeline.sandbox import RunningSandbox, running_sandbox
from sync_pipeline.sandbox.hook_delivery import DeliveryPolicy
from sync_pipeline.sandbox.webcrm_hooks import filter_values
from sync_pipeline_tests.sandbox.conftest import quick_settings, webcrm_login
from sync_pipeline_tests.sandbox.spec import (
    assert_valid,
    definition_validator,
    operation,
    response_validator,
)

URL = "http://127.0.0.1:9/webcrm/hooks/abcdefghijklmnop"


def _hook(event_type: str = "Update", **changes: object) -> dict[str, object]:
    return {
        "TargetUrl": URL,
        "EventType": event_type,
        "IsEnabled": True,
        "Filter": ["All"],
    } | changes


@pytest.mark.parametrize("entity", list(HOOK_ENTITIES))
def test_hooks_round_trip_as_the_spec_declares(webcrm: httpx.Client, entity: str) -> None:
    """POST answers an int64 id; GET list and GET by id validate; PUT and DELETE answer 200."""
    path = f"/{entity}/Hooks"
    assert "application/json" in operation(path, "post")["consumes"]
    created = webcrm.post(path, json=_hook("Create"))
    assert created.status_code == 200
    hook_id = created.json()
    assert_valid(response_validator(path, "post"), hook_id)
    listed = webcrm.get(path, params={"Page": 1, "Size": 1000})
    assert listed.status_code == 200
    assert_valid(response_validator(path, "get"), listed.json())
    assert hook_id in [h["Id"] for h in listed.json()]
    one = webcrm.get(f"{path}/{hook_id}").json()
    assert_valid(response_validator(f"{path}/{{id}}", "get"), one)
    assert_valid(definition_validator(f"{HOOK_ENTITIES[entity]}HookDto"), one)
    assert (one["EventType"], one["TargetUrl"], one["IsEnabled"]) == ("Create", URL, True)
    filters = list(filter_values(entity))
    put = webcrm.put(f"{path}/{hook_id}", json=_hook("Delete", IsEnabled=False, Filter=filters))
    assert put.status_code == 200
    after = webcrm.get(f"{path}/{hook_id}").json()
    assert (after["EventType"], after["IsEnabled"], after["Filter"]) == ("Delete", False, filters)
    assert webcrm.delete(f"{path}/{hook_id}").status_code == 200
    assert webcrm.get(f"{path}/{hook_id}").status_code == 404
    assert webcrm.delete(f"{path}/{hook_id}").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        _hook(TargetUrl="not a url"),
        _hook(TargetUrl=None),
        _hook(EventType="Touch"),
        _hook(EventType=None),
        _hook(Filter=["Everyone"]),
        _hook(IsEnabled="yes"),
        ["not", "an", "object"],
    ],
)
def test_bad_hooks_are_refused(webcrm: httpx.Client, body: object) -> None:
    """A hook without an http(s) TargetUrl, with a type or filter outside the enums: 400."""
    response = webcrm.post("/Persons/Hooks", json=body)
    assert response.status_code == 400
    assert set(response.json()) == {"Message", "Type"}


def test_hooks_need_the_bearer_token(sandbox: RunningSandbox) -> None:
    """Without a token the Hooks endpoints answer 401, as every other endpoint."""
    assert httpx.get(f"{sandbox.webcrm_url}/Persons/Hooks").status_code == 401
    assert httpx.post(f"{sandbox.webcrm_url}/Users/Hooks", json=_hook()).status_code == 401


def test_hooks_survive_a_restart_with_a_data_dir(tmp_path: Path) -> None:
    """With --data-dir the registered hooks are kept across a restart, like the records."""
    settings = quick_settings(data_dir=tmp_path, seed=2)
    with running_sandbox(settings) as first, webcrm_login(first.webcrm_url) as client:
        hook_id = client.post("/Products/Hooks", json=_hook()).json()
    with running_sandbox(settings) as second, webcrm_login(second.webcrm_url) as client:
        assert client.get(f"/Products/Hooks/{hook_id}").json()["TargetUrl"] == URL


def test_a_stalled_receiver_never_holds_up_the_api() -> None:
    """With a hook whose target accepts connections but never answers, writes still answer
    at once (well inside a client timeout far shorter than the delivery's)."""
    stalled = socket.socket()
    stalled.bind(("127.0.0.1", 0))
    stalled.listen(64)  # connections complete in the backlog; nothing ever answers them
    target = f"http://127.0.0.1:{stalled.getsockname()[1]}/webcrm/hooks/abcdefghijklmnop"
    policy = DeliveryPolicy(first_delay=0.05, max_delay=0.1, give_up_after=60, timeout=30)
    try:
        with running_sandbox(quick_settings(hook_delivery=policy)) as running:
            with webcrm_login(running.webcrm_url) as api:
                api.post("/Products/Hooks", json=_hook("Create", TargetUrl=target))
                for n in range(5):
                    created = api.post("/Products", json={"ProductCombined": f"P{n}"}, timeout=5)
                    assert created.status_code == 200
            deliveries = running.webcrm_stats.snapshot()["hook_deliveries"]
            assert deliveries["delivered"] == 0 and deliveries["pending"] >= 4
    finally:
        stalled.close()


def test_delivery_gives_up_after_its_bound() -> None:
    """A receiver that never comes back is retried with backoff, then given up (not forever)."""
    target = f"http://127.0.0.1:{free_port()}/webcrm/hooks/abcdefghijklmnop"  # nothing listens
    policy = DeliveryPolicy(first_delay=0.02, max_delay=0.1, give_up_after=0.5, timeout=1)
    with running_sandbox(quick_settings(hook_delivery=policy)) as running:
        with webcrm_login(running.webcrm_url) as api:
            api.post("/Users/Hooks", json=_hook("Update", TargetUrl=target))
        running.webcrm.edit("Users", running.webcrm.records("Users")[0]["UserId"], {})
        deadline = time.monotonic() + 30
        while running.webcrm_stats.snapshot()["hook_deliveries"]["given_up"] == 0:
            assert time.monotonic() < deadline, "the delivery was never given up"
            time.sleep(0.05)
        deliveries = running.webcrm_stats.snapshot()["hook_deliveries"]
    assert deliveries["given_up"] == 1 and deliveries["pending"] == 0
    assert deliveries["delivered"] == 0 and deliveries["failed_attempts"] >= 3
