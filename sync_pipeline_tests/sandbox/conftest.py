"""Fixtures: both CRMs served by uvicorn on ephemeral loopback ports, and logged-in clients."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from sync_pipeline.sandbox import RunningSandbox, SandboxSettings, running_sandbox

# Ephemeral ports, small data, rate limits out of the way unless a test is about them.
QUICK = SandboxSettings(
    webcrm_port=0,
    crmoffice_port=0,
    seed=40,
    webcrm_rate_limit=100_000,
    crmoffice_rate_limit=100_000,
)


def quick_settings(**changes: object) -> SandboxSettings:
    """QUICK with some settings changed."""
    # why the ignore below: keyword overrides of a dataclass of mixed field types
    return replace(QUICK, **changes)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    """A seeded sandbox shared by one test module."""
    with running_sandbox(QUICK) as running:
        yield running


def webcrm_login(base_url: str, code: str = "sandbox-webcrm-token") -> httpx.Client:
    """An httpx client for WebCRM carrying a fresh bearer token."""
    response = httpx.post(f"{base_url}/Auth/ApiLogin", data={"authCode": code})
    response.raise_for_status()
    token = response.json()["AccessToken"]
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"})


def crmoffice_login(base_url: str) -> httpx.Client:
    """An httpx client for CRMOffice carrying a fresh bearer token."""
    form = {
        "grant_type": "client_credentials",
        "client_id": "sandbox-client",
        "client_secret": "sandbox-secret",
    }
    response = httpx.post(f"{base_url}/connect/token", data=form)
    response.raise_for_status()
    token = response.json()["access_token"]
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture(scope="module")
def webcrm(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    """A logged-in WebCRM client on the module's sandbox."""
    with webcrm_login(sandbox.webcrm_url) as client:
        yield client


@pytest.fixture(scope="module")
def crmoffice(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    """A logged-in CRMOffice client on the module's sandbox."""
    with crmoffice_login(sandbox.crmoffice_url) as client:
        yield client


def first_organisation_id(client: httpx.Client) -> int:
    """The id of the first organisation (the seed makes some)."""
    found = client.get("/Organisations", params={"Page": 1, "Size": 1}).json()
    return int(found[0]["OrganisationId"])


def creatable(client: httpx.Client, entity: str) -> dict[str, object]:
    """What a new record of `entity` needs to be accepted: a person a last name and an
    existing organisation (evidence 7, 8); other entities nothing."""
    if entity != "Persons":
        return {}
    return {"PersonLastName": "Hansen", "PersonOrganisationId": first_organisation_id(client)}
