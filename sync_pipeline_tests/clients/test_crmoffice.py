"""CrmofficeClient against a fake CRMOffice: paging by totalItems, writes, write_many."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from sync_pipeline.clients import (
    AuthenticationError,
    CrmofficeClient,
    RecordRejectedError,
    RetryPolicy,
    WriteOp,
    WriteResult,
)
from sync_pipeline.clients.crmoffice import utc_millis
from sync_pipeline_tests.clients.fakes import CRMOFFICE_SECRET, FakeCrmoffice, status


def _client(
    fake: FakeCrmoffice, *, secret: str = CRMOFFICE_SECRET, concurrency: int = 8
) -> CrmofficeClient:
    return CrmofficeClient(
        "https://crmoffice.test",
        "sandbox-client",
        secret,
        transport=fake.transport(),
        retry=RetryPolicy.testing(),
        max_concurrency=concurrency,
    )


@pytest.mark.parametrize(("records", "pages"), [(0, 1), (499, 1), (500, 1), (1000, 2), (1001, 3)])
def test_list_all_stops_when_total_items_is_covered(records: int, pages: int) -> None:
    """pageSize=500, and no request for an empty page once totalItems is reached."""
    fake = FakeCrmoffice()
    fake.add_contacts(records)
    result = _client(fake).list_all("contacts")
    assert len(result) == records
    gets = fake.requests_to("GET", "/contacts")
    assert len(gets) == pages
    assert {r.url.params["pageSize"] for r in gets} == {"500"}


def test_updated_since_is_utc_with_milliseconds() -> None:
    """updatedSince goes as ISO-8601 UTC, milliseconds, Z."""
    fake = FakeCrmoffice()
    since = datetime(2024, 9, 14, 10, 0, 0, 123_999, tzinfo=timezone(timedelta(hours=2)))
    _client(fake).list_all("contacts", updated_since=since)
    assert fake.log[-1].url.params["updatedSince"] == "2024-09-14T08:00:00.123Z"
    assert utc_millis(datetime(2024, 1, 1, tzinfo=UTC)) == "2024-01-01T00:00:00.000Z"


def test_create_patch_get() -> None:
    """POST returns the 201 record; PATCH changes only the sent fields."""
    fake = FakeCrmoffice()
    client = _client(fake)
    created = client.create("contacts", {"givenName": "Åse", "familyName": "Lie"})
    patched = client.patch("contacts", created["id"], {"givenName": "Åsa"})
    assert patched == {"id": created["id"], "givenName": "Åsa", "familyName": "Lie"}
    assert client.get("contacts", created["id"]) == patched


def test_problem_json_becomes_the_error_detail() -> None:
    """A 422 problem document's title and detail make RecordRejectedError.detail."""
    fake = FakeCrmoffice()
    with pytest.raises(RecordRejectedError) as caught:
        _client(fake).create("contacts", {"givenName": "x" * 300})
    assert caught.value.status == 422
    assert caught.value.detail == "Invalid field: givenName is longer than 255 characters"


def test_problem_json_field_errors_are_included() -> None:
    """Validation `errors` members are spelled out field by field."""
    fake = FakeCrmoffice()
    body = {
        "title": "Unprocessable Content",
        "status": 422,
        "detail": "Invalid fields.",
        "errors": {"shoeSize": ["unknown field"], "givenName": ["too long", "bad char"]},
    }
    fake.faults = [None, status(422, body)]
    with pytest.raises(RecordRejectedError) as caught:
        _client(fake).patch("contacts", "c1", {"shoeSize": 44})
    assert caught.value.detail == (
        "Unprocessable Content: Invalid fields.: shoeSize: unknown field; "
        "givenName: too long, bad char"
    )


def test_write_many_returns_every_outcome_in_order() -> None:
    """Creates and patches run concurrently; rejected records come back, nothing is raised."""
    fake = FakeCrmoffice()
    fake.add_contacts(1)
    ops = [WriteOp("create", "contacts", {"givenName": f"G{i}"}) for i in range(20)]
    ops.insert(5, WriteOp("create", "contacts", {"givenName": "x" * 256}))
    ops.append(WriteOp("patch", "contacts", {"familyName": "Berg"}, id="c1"))
    seen: list[tuple[int, WriteResult, str]] = []
    results = _client(fake).write_many(
        ops, on_result=lambda i, r: seen.append((i, r, threading.current_thread().name))
    )
    assert [r.op for r in results] == ops
    assert [r.ok for r in results] == [i != 5 for i in range(22)]
    assert results[5].status == 422 and "longer than 255" in (results[5].error or "")
    assert results[-1].record == {"id": "c1", "givenName": "G1", "familyName": "Berg"}
    assert sorted(i for i, _, _ in seen) == list(range(22))
    assert {name for _, _, name in seen} == {threading.current_thread().name}
    assert len(fake.contacts) == 21


def test_write_many_respects_max_concurrency() -> None:
    """No more than max_concurrency requests are in flight at once, and more than one is."""
    fake = FakeCrmoffice(delay=lambda: time.sleep(0.02))
    ops = [WriteOp("create", "contacts", {"givenName": f"G{i}"}) for i in range(40)]
    _client(fake, concurrency=4).write_many(ops)
    assert fake.max_in_flight == 4


def test_write_many_raises_only_for_bad_credentials() -> None:
    """A rejected client secret is fatal: AuthenticationError, not 40 failed results."""
    fake = FakeCrmoffice()
    ops = [WriteOp("create", "contacts", {"givenName": f"G{i}"}) for i in range(40)]
    with pytest.raises(AuthenticationError, match="rejected the client credentials"):
        _client(fake, secret="wrong").write_many(ops)
    assert fake.requests_to("POST", "/contacts") == []


def test_write_many_stops_attempting_once_the_api_is_down() -> None:
    """After one op exhausts its retries, unstarted ops are returned unattempted."""
    fake = FakeCrmoffice()
    fake.add_contacts(1)
    fake.faults = [None] + [status(503)] * 1000
    ops = [WriteOp("patch", "contacts", {"givenName": "G"}, id="c1") for _ in range(30)]
    results = _client(fake, concurrency=1).write_many(ops)
    assert not any(r.ok for r in results)
    assert "after 6 attempts" in (results[0].error or "")
    assert all(
        (r.error or "").startswith("not attempted: CRMOffice unavailable") for r in results[1:]
    )
    assert len(fake.requests_to("PATCH", "/contacts/c1")) == 6


class _Stop(Exception):
    """The check before a write said no (as a lost pair lease does)."""


def test_write_many_checks_before_each_request_and_stops_when_told() -> None:
    """`before_each` runs before every request; once it raises, no further request is made
    and the exception comes out of write_many."""
    fake = FakeCrmoffice()
    checks: list[int] = []

    def before() -> None:
        checks.append(len(fake.contacts))
        if len(checks) > 3:
            raise _Stop("lease lost")

    ops = [WriteOp("create", "contacts", {"givenName": f"G{i}"}) for i in range(20)]
    with pytest.raises(_Stop):
        _client(fake, concurrency=1).write_many(ops, before_each=before)
    assert checks[:3] == [0, 1, 2]
    assert len(fake.contacts) == 3


def test_write_op_validates_its_shape() -> None:
    """A patch needs an id, a create takes none, and the entity must be known."""
    with pytest.raises(ValueError, match="needs the record id"):
        WriteOp("patch", "contacts", {})
    with pytest.raises(ValueError, match="takes no id"):
        WriteOp("create", "contacts", {}, id="c1")
    with pytest.raises(ValueError, match="unknown CRMOffice entity"):
        WriteOp("create", "persons", {})


def test_concurrent_writers_share_one_login() -> None:
    """Eight threads starting together log in once, not once each."""
    fake = FakeCrmoffice()
    ops = [WriteOp("create", "contacts", {"givenName": f"G{i}"}) for i in range(40)]
    client = _client(fake)
    assert all(r.ok for r in client.write_many(ops))
    assert fake.logins == 1 == client.stats.logins
    assert client.stats.requests == 41
