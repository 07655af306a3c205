"""Reads from servers that page smaller than asked (issue 9, kind 3) and the server's clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from sync_pipeline.clients import CrmofficeClient, RetryPolicy, WebcrmClient
from sync_pipeline.sandbox.server import RunningSandbox, running_sandbox
from sync_pipeline_tests.clients.fakes import WEBCRM_TOKEN, FakeWebcrm
from sync_pipeline_tests.pipeline.conftest import empty_sandbox
from sync_pipeline_tests.pipeline.helpers import DeleteAfterFirstPage

CLIENT_ID, CLIENT_SECRET = "sandbox-client", "sandbox-secret"
UNLIMITED = 100_000


@pytest.fixture
def capped() -> Iterator[RunningSandbox]:
    """An empty sandbox whose CRMOffice serves at most 10 items per page."""
    settings = empty_sandbox(crmoffice_max_page_size=10)
    with running_sandbox(settings) as running:
        yield running


def _crmoffice(
    sandbox: RunningSandbox, transport: httpx.BaseTransport | None = None
) -> CrmofficeClient:
    return CrmofficeClient(
        sandbox.crmoffice_url,
        CLIENT_ID,
        CLIENT_SECRET,
        rate_limit_per_minute=None,
        transport=transport,
    )


def _add_contacts(sandbox: RunningSandbox, count: int) -> list[str]:
    return [sandbox.crmoffice.insert("contacts", {"givenName": f"K{n}"}) for n in range(count)]


def test_crmoffice_reads_every_record_when_the_server_caps_its_pages(
    capped: RunningSandbox,
) -> None:
    """25 contacts served 10 a page (envelope `pageSize: 10`): all 25 read, complete, in
    ceil(25 / 10) = 3 requests."""
    ids = _add_contacts(capped, 25)
    with _crmoffice(capped) as client:
        read = client.read_all("contacts")
    assert [r["id"] for r in read.records] == ids
    assert (read.complete, read.problem) == (True, None)
    assert capped.stats()["crmoffice"]["requests"]["GET /contacts"] == 3


def test_crmoffice_read_with_a_record_deleted_while_paging_is_incomplete(
    capped: RunningSandbox,
) -> None:
    """A delete between pages shifts the rest (one record is never served) and changes
    `totalItems`: the read says it is incomplete and why."""
    ids = _add_contacts(capped, 25)
    with _crmoffice(capped, transport=DeleteAfterFirstPage(capped, ids[3])) as client:
        read = client.read_all("contacts")
    assert [r["id"] for r in read.records] == ids[:10] + ids[11:]  # ids[10] was never served
    assert not read.complete
    assert read.problem == "the total changed from 25 to 24 while paging"


class _CappedWebcrm(FakeWebcrm):
    """A WebCRM that serves at most 10 records per page whatever `Size` asks."""

    def _page(self, request: httpx.Request, rows: list[dict[str, object]]) -> httpx.Response:
        page = int(request.url.params["Page"])
        return httpx.Response(200, json=rows[(page - 1) * 10 : page * 10])


def test_webcrm_reads_every_record_when_the_server_caps_its_pages() -> None:
    """No total in WebCRM pages: a round short first page (10 of 1000 asked) is probed, the
    cap found, and all 25 read in ceil(25 / 10) = 3 requests."""
    fake = _CappedWebcrm()
    fake.add_persons(25)
    client = WebcrmClient(
        "https://webcrm.test", WEBCRM_TOKEN, transport=fake.transport(), retry=RetryPolicy.testing()
    )
    read = client.read_all("Persons")
    assert [r["PersonId"] for r in read.records] == list(range(1, 26))
    assert read.complete
    assert len(fake.requests_to("GET", "/Persons")) == 3


def test_clients_read_the_server_clock_from_the_date_header(capped: RunningSandbox) -> None:
    """After a request, each client knows the server's now (its `Date` header) within the
    header's one-second resolution, and when it read it."""
    before = datetime.now(UTC)
    webcrm = WebcrmClient(capped.webcrm_url, "sandbox-webcrm-token", rate_limit_per_minute=None)
    with webcrm, _crmoffice(capped) as crmoffice:
        assert webcrm.server_clock.now() is None
        webcrm.list_all("Persons")
        crmoffice.list_all("contacts")
        for client in (webcrm, crmoffice):
            now = client.server_clock.now()
            reading = client.server_clock.last
            assert now is not None and reading is not None
            assert before - timedelta(seconds=2) <= now <= datetime.now(UTC) + timedelta(seconds=1)
            assert abs(reading.offset) < timedelta(seconds=2)
