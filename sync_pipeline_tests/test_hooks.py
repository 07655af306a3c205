"""WebCRM hooks end to end over real HTTP: the sandbox delivers, `sync-pipeline hooks serve`
receives into a real store (SQLite file, PostgreSQL), `hooks register|list|unregister` manage."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from sync_pipeline.core.hook_payload import HOOK_ENTITIES
from sync_pipeline.processes import free_port, start_group, stop_group
from sync_pipeline.receiver import create_receiver_app
from sync_pipeline.sandbox.hook_delivery import DeliveryPolicy
from sync_pipeline.sandbox.server import RunningSandbox, SandboxSettings, running_sandbox
from sync_pipeline.store import LinkStore
from sync_pipeline_tests.sandbox.conftest import webcrm_login
from sync_pipeline_tests.test_cli import CLI

SECRET = "test-secret-0123456789"
# Retries scaled from seconds/minutes to tenths of a second, so an outage is met in seconds.
QUICK_DELIVERY = DeliveryPolicy(first_delay=0.05, max_delay=0.5, give_up_after=120, timeout=2)
WAIT = 60.0  # the most any wait below may take (a bound, not a measured figure)
Event = tuple[str, str, str]


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll `condition` until it holds; fail naming `what` after WAIT seconds."""
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Receiver:
    """`sync-pipeline hooks serve` as a child process on a fixed loopback port."""

    def __init__(self, store_url: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.store_url = store_url
        self._log = log
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until /healthz answers."""
        env = {**os.environ, "SYNC_HOOKS_SECRET": SECRET, "SYNC_STATE_URL": self.store_url}
        args = [CLI, "hooks", "serve", "--port", str(self.port)]
        process = self._process = start_group(args, env, self._log)

        def healthy() -> bool:
            assert process.poll() is None, self._log.read_text()[-2000:]
            try:
                return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, "the receiver to start")

    def stop(self) -> None:
        """Stop it (SIGINT, as an operator's Ctrl-C)."""
        if self._process is not None:
            stop_group(self._process)
            self._process = None

    def stored(self) -> list[Event]:
        """(entity, record id, event type) of every stored event, in cursor order."""
        with LinkStore(self.store_url) as store:
            events, _ = store.events_after(0, limit=10_000)
        return [(e.entity, e.record_id, e.event_type) for e in events]


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    """A small seeded sandbox whose hook deliveries retry within tenths of a second."""
    settings = SandboxSettings(
        webcrm_port=0,
        crmoffice_port=0,
        seed=20,
        webcrm_rate_limit=100_000,
        crmoffice_rate_limit=100_000,
        hook_delivery=QUICK_DELIVERY,
    )
    with running_sandbox(settings) as running:
        yield running


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    """A running receiver over a SQLite store in the test's folder."""
    running = Receiver(f"sqlite:///{tmp_path / 'state.sqlite'}", tmp_path / "receiver.log")
    running.start()
    yield running
    running.stop()


def hooks_cli(sandbox: RunningSandbox, *args: str) -> subprocess.CompletedProcess[str]:
    """`sync-pipeline hooks ARGS` against the sandbox's WebCRM."""
    env = {**os.environ, "WEBCRM_BASE_URL": sandbox.webcrm_url, "SYNC_HOOKS_SECRET": SECRET}
    return subprocess.run(
        [CLI, "hooks", *args], env=env, capture_output=True, text=True, timeout=120
    )


def register(sandbox: RunningSandbox, receiver: Receiver) -> None:
    """Register our hooks on the sandbox for `receiver`."""
    done = hooks_cli(sandbox, "register", "--target-url", receiver.url)
    assert done.returncode == 0, done.stderr


def first_id(sandbox: RunningSandbox, entity: str) -> str:
    """The id of the first seeded record of `entity`."""
    spec_id = {"Persons": "PersonId", "Users": "UserId", "Products": "ProductId"}[entity]
    return str(sandbox.webcrm.records(entity)[0][spec_id])


def make_edits(sandbox: RunningSandbox) -> list[Event]:
    """Edits through the API and as a user in the CRM; the events they should cause."""
    person, user, product = (first_id(sandbox, e) for e in ("Persons", "Users", "Products"))
    with webcrm_login(sandbox.webcrm_url) as api:
        api.patch("/Users", json=[{"UserId": int(user), "UserMobilePhone": "+45 20 11 22 33"}])
        new_product = str(api.post("/Products", json={"ProductCombined": "Ny vare"}).json())
        assert api.delete(f"/Products/{product}").status_code == 200
        api.post("/Organisations", json={"OrganisationName": "Not hooked A/S"})
    sandbox.webcrm.edit("Persons", int(person), {"PersonFirstName": "Åse"})
    return [
        ("Users", user, "Update"),
        ("Products", new_product, "Create"),
        ("Products", product, "Delete"),
        ("Persons", person, "Update"),
    ]


def test_edits_reach_the_store_through_the_receiver(
    sandbox: RunningSandbox, store_url: str, tmp_path: Path
) -> None:
    """API and UI edits of hooked entities arrive as events in the store, each once."""
    receiver = Receiver(store_url, tmp_path / "receiver.log")
    receiver.start()
    try:
        register(sandbox, receiver)
        expected = make_edits(sandbox)
        wait_for(lambda: set(expected) <= set(receiver.stored()), "every event to be stored")
        assert sorted(receiver.stored()) == sorted(expected)  # Organisations: not synced, no hook
        deliveries = sandbox.stats()["webcrm"]["hook_deliveries"]
        assert deliveries["delivered"] == len(expected) and deliveries["given_up"] == 0
    finally:
        receiver.stop()


def test_a_repeated_delivery_is_stored_once(receiver: Receiver) -> None:
    """The same event POSTed twice answers 200 both times and is stored once."""
    body = {
        "Entity": "Persons",
        "EventType": "Update",
        "Id": 1042,
        "EventTime": "2026-11-30T09:40:01.123Z",
    }
    url = f"{receiver.url}/webcrm/hooks/{SECRET}"
    first, second = httpx.post(url, json=body), httpx.post(url, json=body)
    assert (first.status_code, first.json()) == (200, {"received": 1, "stored": 1})
    assert (second.status_code, second.json()) == (200, {"received": 1, "stored": 0})
    assert receiver.stored() == [("Persons", "1042", "Update")]


def test_a_wrong_secret_or_payload_is_refused_and_nothing_stored(
    sandbox: RunningSandbox, receiver: Receiver, tmp_path: Path
) -> None:
    """403 on a wrong secret (also for the sandbox's retries), 400 on a bad body; no event kept."""
    good = {"Entity": "Persons", "EventType": "Update", "Id": 1}
    assert (
        httpx.post(f"{receiver.url}/webcrm/hooks/wrong-secret-000000", json=good).status_code == 403
    )
    bad = httpx.post(f"{receiver.url}/webcrm/hooks/{SECRET}", json={"Entity": "Persons"})
    assert bad.status_code == 400
    with webcrm_login(sandbox.webcrm_url) as api:
        wrong = f"{receiver.url}/webcrm/hooks/wrong-secret-000000"
        api.post(
            "/Persons/Hooks", json={"TargetUrl": wrong, "EventType": "Update", "Filter": ["All"]}
        )
    sandbox.webcrm.edit("Persons", int(first_id(sandbox, "Persons")), {"PersonFirstName": "Bo"})
    stats = sandbox.webcrm_stats
    wait_for(lambda: stats.snapshot()["hook_deliveries"]["failed_attempts"] >= 2, "refusals")
    assert receiver.stored() == []
    assert SECRET not in (tmp_path / "receiver.log").read_text()


def test_a_receiver_down_for_a_while_loses_no_event(
    sandbox: RunningSandbox, receiver: Receiver
) -> None:
    """Edits made while the receiver is stopped arrive once it is back (the sandbox retries)."""
    register(sandbox, receiver)
    receiver.stop()
    expected = make_edits(sandbox)
    stats = sandbox.webcrm_stats
    enough = 3 * len(expected)  # every event refused a few times: the outage is met for real
    wait_for(lambda: stats.snapshot()["hook_deliveries"]["failed_attempts"] >= enough, "retries")
    assert receiver.stored() == []
    receiver.start()
    wait_for(lambda: set(expected) <= set(receiver.stored()), "the retried events")
    assert sorted(receiver.stored()) == sorted(expected)
    assert stats.snapshot()["hook_deliveries"]["given_up"] == 0


def test_register_list_unregister(sandbox: RunningSandbox) -> None:
    """register makes 3 hooks per synced entity once, re-enables a disabled one; list hides the
    secret; unregister removes ours and keeps a foreign hook."""
    base = "https://sync.example.com"
    with webcrm_login(sandbox.webcrm_url) as api:
        foreign = {
            "TargetUrl": "https://other.example/in",
            "EventType": "Create",
            "Filter": ["All"],
        }
        foreign_id = api.post("/Persons/Hooks", json=foreign).json()
        first = hooks_cli(sandbox, "register", "--target-url", base)
        assert first.returncode == 0, first.stderr
        assert "9 created, 0 already there, 0 re-enabled" in first.stdout
        ours = [
            h for e in HOOK_ENTITIES for h in api.get(f"/{e}/Hooks").json() if h["Id"] != foreign_id
        ]
        assert len(ours) == 9 and {h["TargetUrl"] for h in ours} == {
            f"{base}/webcrm/hooks/{SECRET}"
        }
        api.put(f"/Persons/Hooks/{ours[0]['Id']}", json={**ours[0], "IsEnabled": False})
        again = hooks_cli(sandbox, "register", "--target-url", base)
        assert "0 created, 8 already there, 1 re-enabled" in again.stdout
        listed = hooks_cli(sandbox, "list")
        assert listed.returncode == 0 and SECRET not in listed.stdout + listed.stderr
        assert listed.stdout.count("/webcrm/hooks/***") == 9 and "other.example" in listed.stdout
        removed = hooks_cli(sandbox, "unregister")
        assert removed.returncode == 0 and "9 hook(s) removed" in removed.stdout
        left = [h["Id"] for e in HOOK_ENTITIES for h in api.get(f"/{e}/Hooks").json()]
        assert left == [foreign_id]


def test_hook_commands_fail_in_one_line(sandbox: RunningSandbox) -> None:
    """No secret: serve and register exit 1; a bad --target-url exits 2; each says why in a line."""
    env = {k: v for k, v in os.environ.items() if k != "SYNC_HOOKS_SECRET"}
    serve = subprocess.run(
        [CLI, "hooks", "serve", "--port", str(free_port())], env=env, capture_output=True, text=True
    )
    assert serve.returncode == 1 and serve.stderr.count("\n") == 1
    assert "SYNC_HOOKS_SECRET is not set" in serve.stderr
    bad = hooks_cli(sandbox, "register", "--target-url", "sync.example.com")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--target-url" in bad.stderr


async def post_in_process(app: Starlette) -> httpx.Response:
    """POST one event to the receiver app through httpx's ASGI transport."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        body = {"Entity": "Persons", "EventType": "Update", "Id": 7}
        return await client.post(f"/webcrm/hooks/{SECRET}", json=body)


def test_a_store_that_cannot_write_answers_503(tmp_path: Path) -> None:
    """When the event cannot be committed the receiver answers 503 (so WebCRM retries), not 2xx."""
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    with LinkStore(url) as store:
        with sqlite3.connect(tmp_path / "state.sqlite") as raw:
            raw.execute("DROP TABLE hook_events")  # the store's write now fails for real
        answer = asyncio.run(post_in_process(create_receiver_app(store, SECRET)))
    assert answer.status_code == 503 and SECRET not in answer.text
