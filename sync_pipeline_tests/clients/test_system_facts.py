"""The clients take page sizes, chunk sizes, query tables and rate limits from the system
description (`systems.yaml`), not from constants of their own."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from sync_pipeline.clients import CrmofficeClient, RetryPolicy, WebcrmClient
from sync_pipeline.core import SystemSpec
from sync_pipeline.core.systems import packaged_systems
from sync_pipeline_tests.clients.fakes import (
    CRMOFFICE_SECRET,
    WEBCRM_TOKEN,
    FakeCrmoffice,
    FakeWebcrm,
)


def _with_entity(system: SystemSpec, name: str, **changes: object) -> SystemSpec:
    """`system` with one entity's facts changed, as a different systems.yaml would declare."""
    entities = dict(system.entities)
    # why the ignore below: keyword overrides of a dataclass of mixed field types
    entities[name] = dataclasses.replace(entities[name], **changes)  # type: ignore[arg-type]
    return dataclasses.replace(system, entities=entities)


def _webcrm(fake: FakeWebcrm, system: SystemSpec) -> WebcrmClient:
    return WebcrmClient(
        "https://webcrm.test",
        WEBCRM_TOKEN,
        transport=fake.transport(),
        retry=RetryPolicy.testing(),
        system=system,
    )


def test_a_changed_page_size_changes_the_request_size() -> None:
    """Persons declared with page_size 250: the client asks for Size=250 and pages by it."""
    fake = FakeWebcrm()
    fake.add_persons(600)
    system = _with_entity(packaged_systems().webcrm, "Persons", page_size=250)
    assert len(_webcrm(fake, system).list_all("Persons")) == 600
    gets = fake.requests_to("GET", "/Persons")
    assert [(r.url.params["Page"], r.url.params["Size"]) for r in gets] == [
        ("1", "250"),
        ("2", "250"),
        ("3", "250"),
    ]


def test_the_declared_page_size_is_what_the_client_sends() -> None:
    """With the shipped description, Size is the declared maximum (1000 for Persons)."""
    fake = FakeWebcrm()
    fake.add_persons(3)
    client = _webcrm(fake, packaged_systems().webcrm)
    client.list_all("Persons")
    declared = packaged_systems().webcrm.entity("Persons").page_size
    assert [r.url.params["Size"] for r in fake.requests_to("GET", "/Persons")] == [str(declared)]


def test_a_changed_write_chunk_changes_the_bulk_patch_size() -> None:
    """Persons declared with write_chunk 100: 250 items go as 100 + 100 + 50."""
    fake = FakeWebcrm()
    system = _with_entity(packaged_systems().webcrm, "Persons", write_chunk=100)
    items = [{"PersonFirstName": f"N{i}"} for i in range(250)]
    assert all(r.ok for r in _webcrm(fake, system).bulk_upsert("Persons", items))
    patches = fake.requests_to("PATCH", "/Persons")
    assert [len(httpx.Response(200, content=r.content).json()) for r in patches] == [100, 100, 50]


def test_queries_read_the_declared_table_and_updated_at_property() -> None:
    """/Queries names the entity's `query_table` and filters on its `updated_at` property."""
    fake = FakeWebcrm()
    system = _with_entity(
        packaged_systems().webcrm, "Persons", query_table="Contact", updated_at="PersonCreatedAt"
    )
    _webcrm(fake, system).query_updated("Persons", datetime(2024, 7, 1, 10, tzinfo=UTC))
    assert fake.scripts == [
        "SELECT * FROM Contact WHERE PersonCreatedAt >= '2024-07-01T10:00:00.0000000Z'"
    ]


def test_crmoffice_page_size_comes_from_the_description() -> None:
    """contacts declared with page_size 200: pageSize=200, three pages for 450 contacts."""
    fake = FakeCrmoffice()
    fake.add_contacts(450)
    system = _with_entity(packaged_systems().crmoffice, "contacts", page_size=200)
    client = CrmofficeClient(
        "https://crmoffice.test",
        "sandbox-client",
        CRMOFFICE_SECRET,
        transport=fake.transport(),
        retry=RetryPolicy.testing(),
        system=system,
    )
    assert len(client.list_all("contacts")) == 450
    gets = fake.requests_to("GET", "/contacts")
    assert [r.url.params["pageSize"] for r in gets] == ["200", "200", "200"]


def test_an_entity_the_description_lacks_is_refused() -> None:
    """A client knows exactly the entities its description declares."""
    fake = FakeWebcrm()
    system = dataclasses.replace(
        packaged_systems().webcrm,
        entities={"Persons": packaged_systems().webcrm.entity("Persons")},
    )
    expected = r"^unknown WebCRM entity 'Organisations'; expected one of \['Persons'\]$"
    with pytest.raises(ValueError, match=expected):
        _webcrm(fake, system).list_all("Organisations")
    assert fake.log == []


def test_the_default_rate_limit_is_the_declared_one() -> None:
    """Without an explicit limit each client paces at its system's declared requests/minute."""
    webcrm = WebcrmClient("https://webcrm.test", WEBCRM_TOKEN)
    crmoffice = CrmofficeClient("https://crmoffice.test", "id", "secret")
    with webcrm, crmoffice:  # the limiter is internal to the HTTP edge; read it to check
        assert webcrm._http._limiter.limit == packaged_systems().webcrm.rate_limit.per_minute
        declared = packaged_systems().crmoffice.rate_limit.per_minute
        assert crmoffice._http._limiter.limit == declared


def test_updated_since_is_written_in_the_declared_timestamp_format() -> None:
    """contacts declared with seconds_local_offset: updatedSince keeps the offset, no millis."""
    fake = FakeCrmoffice()
    system = _with_entity(
        packaged_systems().crmoffice, "contacts", timestamp_format="seconds_local_offset"
    )
    client = CrmofficeClient(
        "https://crmoffice.test",
        "sandbox-client",
        CRMOFFICE_SECRET,
        transport=fake.transport(),
        retry=RetryPolicy.testing(),
        system=system,
    )
    since = datetime(2024, 7, 1, 12, 0, 0, 250_000, tzinfo=timezone(timedelta(hours=2)))
    client.list_all("contacts", updated_since=since)
    (get,) = fake.requests_to("GET", "/contacts")
    assert get.url.params["updatedSince"] == "2024-07-01T12:00:00+02:00"
