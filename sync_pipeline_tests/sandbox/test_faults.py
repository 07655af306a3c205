"""Fault injection: seeded and deterministic; drops look like transport errors to httpx."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.types import Message

from sync_pipeline.sandbox import FaultSettings, RunningSandbox, running_sandbox
from sync_pipeline.sandbox.faults import FaultPlan, cut_connection
from sync_pipeline_tests.sandbox.conftest import crmoffice_login, quick_settings, webcrm_login

TRANSPORT_ERRORS = (httpx.RemoteProtocolError, httpx.ReadError)


def seed_where(rate: float, draws: list[tuple[bool, str | None]]) -> int:
    """The first fault seed whose plan starts with these (is_write, fault) draws."""
    for seed in range(100_000):
        plan = FaultPlan(FaultSettings(rate, seed))
        if all(plan.draw(is_write) == kind for is_write, kind in draws):
            return seed
    raise AssertionError(f"no seed gives {draws}")


def _outcomes(sandbox: RunningSandbox) -> list[str]:
    """Status code, or "dropped", for a fixed sequence of 40 requests (no token needed)."""
    outcomes = []
    with httpx.Client(base_url=sandbox.webcrm_url, timeout=5.0) as client:
        for i in range(40):
            try:
                if i % 3:
                    response = client.get("/Persons")
                else:
                    response = client.post("/Persons", json={"PersonFirstName": "x"})
                outcomes.append(str(response.status_code))
            except httpx.TransportError:
                # A dropped socket reads as a protocol error or, when the close races the
                # request body, a reset: which one is timing, not the fault plan.
                outcomes.append("dropped")
    return outcomes


def test_faults_are_deterministic_for_a_seed() -> None:
    """The same seed and request sequence meet the same faults; another seed differs."""
    runs = []
    for seed in (7, 7, 8):
        settings = quick_settings(
            seed=None, fault_rate=0.5, fault_seed=seed, fault_stall_seconds=0.1
        )
        with running_sandbox(settings) as sandbox:
            runs.append((_outcomes(sandbox), sandbox.stats()["webcrm"]["faults"]))
    assert runs[0] == runs[1]
    assert runs[0][0] != runs[2][0]
    outcomes, faults = runs[0]
    assert {"401", "429", "500", "503", "dropped"} <= set(outcomes)
    assert sum(faults.values()) == len(outcomes) - outcomes.count("401") + faults["stall"]


def test_dropped_connection_is_a_transport_error_and_nothing_is_applied() -> None:
    """A drop before the request is applied: httpx raises, no contact is created."""
    seed = seed_where(0.5, [(True, None), (True, "drop")])
    with (
        running_sandbox(quick_settings(seed=None, fault_rate=0.5, fault_seed=seed)) as sandbox,
        crmoffice_login(sandbox.crmoffice_url) as client,
    ):
        # The socket closes before any response byte: httpx sees a protocol error or, when the
        # close races the request body, a reset. Either is a transport error to the client.
        with pytest.raises(TRANSPORT_ERRORS):
            client.post("/contacts", json={"givenName": "Tapt"})
        assert sandbox.crmoffice.records("contacts") == []
        assert sandbox.stats()["crmoffice"]["faults"]["drop"] == 1


def test_write_applied_then_connection_dropped() -> None:
    """The nasty case: the client sees a transport error although the contact was created."""
    seed = seed_where(0.5, [(True, None), (True, "drop_after_write")])
    with (
        running_sandbox(quick_settings(seed=None, fault_rate=0.5, fault_seed=seed)) as sandbox,
        crmoffice_login(sandbox.crmoffice_url) as client,
    ):
        with pytest.raises(TRANSPORT_ERRORS):
            client.post("/contacts", json={"givenName": "Dobbel"})
        assert [c["givenName"] for c in sandbox.crmoffice.records("contacts")] == ["Dobbel"]
        stats = sandbox.stats()["crmoffice"]
        assert stats["faults"]["drop_after_write"] == 1 and stats["writes"] == 1


def test_webcrm_patch_applied_then_dropped() -> None:
    """A bulk PATCH can be applied and its answer lost."""
    seed = seed_where(0.5, [(True, None), (True, "drop_after_write")])
    with (
        running_sandbox(quick_settings(seed=None, fault_rate=0.5, fault_seed=seed)) as sandbox,
        webcrm_login(sandbox.webcrm_url) as client,
    ):
        owner = sandbox.webcrm.insert("Organisations", {"OrganisationName": "Eier AS"})
        person = {"PersonLastName": "Berg", "PersonOrganisationId": owner}
        with pytest.raises(TRANSPORT_ERRORS):
            client.patch(
                "/Persons",
                json=[{**person, "PersonFirstName": "Søren"}, {**person, "PersonFirstName": "Åse"}],
            )
        assert [p["PersonFirstName"] for p in sandbox.webcrm.records("Persons")] == ["Søren", "Åse"]


def test_stall_outlasts_the_client_timeout() -> None:
    """A stalled response arrives after the stall; a client with a shorter timeout gives up."""
    seed = seed_where(0.5, [(True, None), (False, "stall")])
    settings = quick_settings(seed=None, fault_rate=0.5, fault_seed=seed, fault_stall_seconds=0.6)
    with running_sandbox(settings) as sandbox, crmoffice_login(sandbox.crmoffice_url) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.get("/contacts", timeout=0.2)
        assert sandbox.stats()["crmoffice"]["faults"]["stall"] == 1


@pytest.mark.parametrize("kind", ["429", "500", "503"])
def test_injected_errors_in_webcrm_shapes(kind: str) -> None:
    """Injected 429s carry Retry-After and the documented body; 5xx are plain errors."""
    seed = seed_where(0.5, [(True, None), (False, kind)])
    with (
        running_sandbox(quick_settings(seed=3, fault_rate=0.5, fault_seed=seed)) as sandbox,
        webcrm_login(sandbox.webcrm_url) as client,
    ):
        response = client.get("/Persons")
        assert response.status_code == int(kind)
        if kind == "429":
            assert response.headers["Retry-After"] == "1"
            assert response.json()["Type"] == "TooManyRequestsException"
        stats = sandbox.stats()["webcrm"]
        assert stats["faults"][kind] == 1 and stats["throttled_429"] == 0


def test_injected_429_in_crmoffice_shape() -> None:
    """CRMOffice's injected 429 is a problem document with Retry-After."""
    seed = seed_where(0.5, [(True, None), (False, "429")])
    with (
        running_sandbox(quick_settings(seed=3, fault_rate=0.5, fault_seed=seed)) as sandbox,
        crmoffice_login(sandbox.crmoffice_url) as client,
    ):
        response = client.get("/contacts")
        assert response.status_code == 429 and response.headers["Retry-After"] == "1"
        assert response.headers["content-type"].startswith("application/problem+json")


def test_cut_without_a_reachable_socket_promises_a_body_that_never_comes() -> None:
    """Under a server that hides its transport, the fallback is a head with a missing body."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(cut_connection(receive, send))
    assert [m["type"] for m in sent] == ["http.response.start"]
    assert (b"content-length", b"64") in sent[0]["headers"]


def test_sandbox_endpoints_are_never_faulted() -> None:
    """With every request faulted, /_sandbox/* still answers."""
    with running_sandbox(
        quick_settings(seed=None, fault_rate=1.0, fault_stall_seconds=0.1)
    ) as sandbox:
        for url in (sandbox.webcrm_url, sandbox.crmoffice_url):
            for _ in range(10):
                assert httpx.get(f"{url}/_sandbox/stats").status_code == 200
        assert sum(sandbox.stats()["webcrm"]["faults"].values()) == 0
