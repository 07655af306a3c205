"""WebcrmClient against a fake WebCRM: paging minimum, /Queries literal, bulk PATCH, creates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from sync_pipeline.clients import (
    ItemResult,
    ProtocolError,
    RetryPolicy,
    WebcrmClient,
    query_literal,
)
from sync_pipeline_tests.clients.fakes import WEBCRM_TOKEN, FakeWebcrm, raises, status


def _client(fake: FakeWebcrm) -> WebcrmClient:
    return WebcrmClient(
        "https://webcrm.test", WEBCRM_TOKEN, transport=fake.transport(), retry=RetryPolicy.testing()
    )


@pytest.mark.parametrize(("records", "pages"), [(0, 1), (999, 1), (1000, 2), (2500, 3), (3000, 4)])
def test_list_all_reads_the_minimum_pages(records: int, pages: int) -> None:
    """Pages of 1000 until a short page: a full last page costs one empty-page request."""
    fake = FakeWebcrm()
    fake.add_persons(records)
    client = _client(fake)
    result = client.list_all("Persons")
    assert [r["PersonId"] for r in result] == list(range(1, records + 1))
    gets = fake.requests_to("GET", "/Persons")
    assert len(gets) == pages
    assert {r.url.params["Size"] for r in gets} == {"1000"}
    assert [r.url.params["Page"] for r in gets] == [str(p) for p in range(1, pages + 1)]


def test_iter_pages_streams_pages() -> None:
    """iter_pages yields each non-empty page as it arrives."""
    fake = FakeWebcrm()
    fake.add_persons(1500)
    assert [len(page) for page in _client(fake).iter_pages("Persons")] == [1000, 500]


def test_unknown_entity_is_refused_before_any_request() -> None:
    """Only Persons, Users and Products are WebCRM entities here."""
    fake = FakeWebcrm()
    with pytest.raises(ValueError, match="unknown WebCRM entity 'Person'"):
        _client(fake).list_all("Person")
    assert fake.log == []


def test_query_updated_sends_utc_round_trip_literals() -> None:
    """The /Queries script compares <X>UpdatedAt with UTC .NET round-trip literals (`Z`), which
    no account zone can misread (evidence 3, 11); bounds widen to whole seconds."""
    fake = FakeWebcrm()
    fake.add_persons(3)
    client = _client(fake)
    since = datetime(2024, 7, 1, 10, 0, 0, tzinfo=UTC)
    rows = client.query_updated("Persons", since, since + timedelta(hours=1, microseconds=1))
    assert len(rows) == 3
    assert fake.scripts == [
        "SELECT * FROM Person WHERE PersonUpdatedAt >= '2024-07-01T10:00:00.0000000Z'"
        " AND PersonUpdatedAt < '2024-07-01T11:00:01.0000000Z'"
    ]
    client.query_updated("Users", datetime(2024, 1, 15, 10, 0, 0, 500, tzinfo=UTC))
    assert fake.scripts[-1] == (
        "SELECT * FROM User WHERE UserUpdatedAt >= '2024-01-15T10:00:00.0000000Z'"
    )


def test_query_updated_pages_like_a_list() -> None:
    """Query results page at Size=1000 too."""
    fake = FakeWebcrm()
    fake.add_persons(1000)
    _client(fake).query_updated("Products", datetime(2024, 1, 1, tzinfo=UTC))
    assert [r.url.params["Page"] for r in fake.requests_to("GET", "/Queries")] == ["1", "2"]


@pytest.mark.parametrize(
    ("moment", "round_up", "literal"),
    [
        (datetime(2024, 7, 1, 22, 30, tzinfo=UTC), False, "2024-07-01T22:30:00.0000000Z"),
        (
            datetime(2024, 7, 1, 10, 0, 0, 999_999, tzinfo=UTC),
            False,
            "2024-07-01T10:00:00.0000000Z",
        ),
        (datetime(2024, 7, 1, 10, 0, 0, 1, tzinfo=UTC), True, "2024-07-01T10:00:01.0000000Z"),
        (
            datetime(2024, 7, 1, 10, 0, 0, tzinfo=timezone(timedelta(hours=-5))),
            False,
            "2024-07-01T15:00:00.0000000Z",
        ),
        # The autumn fold is no concern: UTC has none.
        (datetime(2024, 10, 27, 0, 30, tzinfo=UTC), True, "2024-10-27T00:30:00.0000000Z"),
    ],
)
def test_query_literal(moment: datetime, round_up: bool, literal: str) -> None:
    """Instants become UTC round-trip literals, rounded so the window only widens."""
    assert query_literal(moment, round_up=round_up) == literal


def test_naive_query_bounds_are_refused() -> None:
    """A naive datetime is ambiguous; the client will not guess its zone."""
    with pytest.raises(ValueError, match="timezone-aware"):
        query_literal(datetime(2024, 7, 1, 10, 0))


def test_bulk_upsert_chunks_1201_items_into_three_patches() -> None:
    """1201 items go as 500 + 500 + 201 in three PATCH requests, one result per item in order."""
    fake = FakeWebcrm()
    items = [{"PersonFirstName": f"N{i}"} for i in range(1201)]
    chunks: list[tuple[int, int]] = []
    results = _client(fake).bulk_upsert(
        "Persons", items, on_chunk=lambda offset, rs: chunks.append((offset, len(rs)))
    )
    patches = fake.requests_to("PATCH", "/Persons")
    assert [len(httpx.Response(200, content=r.content).json()) for r in patches] == [500, 500, 201]
    assert chunks == [(0, 500), (500, 500), (1000, 201)]
    assert results == [ItemResult(True, str(i), None) for i in range(1, 1202)]


def test_bulk_upsert_reports_per_item_errors_in_place() -> None:
    """An item the API refuses gets ok=False with the API's message; the others succeed."""
    fake = FakeWebcrm(reject_names={"Bad"})
    fake.add_persons(2)
    items: list[dict[str, object]] = [
        {"PersonId": 1, "PersonFirstName": "Ok"},
        {"PersonFirstName": "Bad"},
        {"PersonId": 2, "PersonFirstName": "Fine"},
    ]
    results = _client(fake).bulk_upsert("Persons", items)
    assert results[0] == ItemResult(True, "1", None)
    assert results[1].ok is False and results[1].error == "Invalid PersonFirstName: Bad"
    assert results[2] == ItemResult(True, "2", None)
    assert fake.persons[1]["PersonLastName"] == "Æbelø"  # untouched field survives


def test_update_only_chunk_is_retried_after_an_ambiguous_failure() -> None:
    """A chunk of pure updates is idempotent: a dropped connection is simply retried."""
    fake = FakeWebcrm()
    fake.add_persons(2)
    fake.faults = [None, raises(httpx.RemoteProtocolError)]
    results = _client(fake).bulk_upsert("Persons", [{"PersonId": 2, "PersonFirstName": "X"}])
    assert results == [ItemResult(True, "2", None)]
    assert len(fake.requests_to("PATCH", "/Persons")) == 2


def test_chunk_with_inserts_is_not_repeated_when_it_may_have_landed() -> None:
    """Inserts after a 500 come back outcome_unknown (no duplicate), and the next chunk goes on."""
    fake = FakeWebcrm()
    fake.faults = [None, status(500)]
    items = [{"PersonFirstName": f"N{i}"} for i in range(501)]
    results = _client(fake).bulk_upsert("Persons", items)
    assert all(r.outcome_unknown and not r.ok for r in results[:500])
    assert results[500] == ItemResult(True, "1", None)
    assert len(fake.requests_to("PATCH", "/Persons")) == 2


def test_chunk_rejected_as_a_whole_marks_each_item() -> None:
    """A 400 for the chunk and for each half of it fails every item with the reason."""
    fake = FakeWebcrm()
    refused = status(400, {"Message": "The request body is invalid."})
    fake.faults = [None, refused, refused, refused]
    results = _client(fake).bulk_upsert("Persons", [{"PersonFirstName": "A"}] * 2)
    assert [r.ok for r in results] == [False, False]
    assert "The request body is invalid." in (results[0].error or "")
    assert len(fake.requests_to("PATCH", "/Persons")) == 3


def test_chunk_refused_once_as_a_whole_lands_in_halves() -> None:
    """A whole-chunk 400 that the halves do not repeat: every item lands on the re-send."""
    fake = FakeWebcrm()
    fake.faults = [None, status(400, {"Message": "Item 3 is invalid."})]
    results = _client(fake).bulk_upsert("Persons", [{"PersonFirstName": "A"}] * 4)
    assert [r.ok for r in results] == [True] * 4
    assert len(fake.requests_to("PATCH", "/Persons")) == 3


def test_chunk_refused_for_no_item_reason_is_not_split() -> None:
    """A whole-chunk 403 says nothing about items: no bisecting, every item fails once."""
    fake = FakeWebcrm()
    fake.faults = [None, status(403, {"Message": "Forbidden."})]
    results = _client(fake).bulk_upsert("Persons", [{"PersonFirstName": "A"}] * 4)
    assert [r.ok for r in results] == [False] * 4
    assert len(fake.requests_to("PATCH", "/Persons")) == 1


def test_patch_result_of_the_wrong_length_is_a_protocol_error() -> None:
    """Results must align with items; anything else cannot be trusted."""
    fake = FakeWebcrm()
    fake.faults = [None, status(200, ["1"])]
    with pytest.raises(ProtocolError, match="not a list of 2 strings"):
        _client(fake).bulk_upsert("Persons", [{"PersonFirstName": "A"}] * 2)


def test_create_returns_the_new_id_as_text() -> None:
    """POST answers a bare integer; the client returns it as a string id."""
    fake = FakeWebcrm()
    fake.add_persons(4)
    assert _client(fake).create("Persons", {"PersonFirstName": "Ærlig"}) == "5"


def test_get_returns_the_record() -> None:
    """GET /{entity}/{id} returns the record object."""
    fake = FakeWebcrm()
    fake.add_persons(1)
    assert _client(fake).get("Persons", "1")["PersonFirstName"] == "P1"


def test_server_ignoring_page_is_a_protocol_error() -> None:
    """A server that answers every page with page 1 is caught instead of read forever."""
    fake = FakeWebcrm()
    fake.add_persons(1000)
    first_page = list(fake.persons.values())
    fake.faults = [None, status(200, first_page), status(200, first_page)]
    with pytest.raises(ProtocolError, match="page 2 repeats page 1"):
        _client(fake).list_all("Persons")
