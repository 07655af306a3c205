"""WebCRM bulk writes refused as a whole for one bad item: bisected against the real sandbox."""

from __future__ import annotations

import math

import pytest

from sync_pipeline.clients import WebcrmClient
from sync_pipeline.sandbox.server import RunningSandbox
from sync_pipeline_tests.clients.test_against_sandbox import WEBCRM_TOKEN, sandbox

LONG_PHONE = "+45 " + "1" * 27  # 31 characters: breaks WebCRM's (assumed) 30-character rule


def _patches(sb: RunningSandbox) -> int:
    return int(sb.stats()["webcrm"]["requests"].get("PATCH /Persons", 0))


def _items(ids: list[int | None], bad: int, organisation: int = 0) -> list[dict[str, object]]:
    """Five person bodies (inserts name `organisation`: the live API needs one, evidence 8)."""
    items: list[dict[str, object]] = []
    for n, person_id in enumerate(ids):
        item: dict[str, object] = {"PersonLastName": f"Berg {n}", "PersonMobilePhone": f"+45 2{n}"}
        if person_id is not None:
            item["PersonId"] = person_id
        else:
            item["PersonOrganisationId"] = organisation
        items.append(item)
    items[bad]["PersonMobilePhone"] = LONG_PHONE
    return items


@pytest.mark.parametrize("bad", [0, 2, 4])
@pytest.mark.parametrize("kind", ["updates", "inserts"])
def test_one_bad_item_among_five_fails_alone(kind: str, bad: int) -> None:
    """WebCRM refuses the whole PATCH (400) for one 31-character phone: the client bisects,
    the 4 valid items land, the bad one fails with the API's reason, in at most
    1 + 2*ceil(log2 5) requests, and no insert is duplicated."""
    with sandbox(seed=None, empty=True, webcrm_bulk_rejection="whole-chunk") as sb:
        organisation = sb.webcrm.insert("Organisations", {"OrganisationName": "Berg A/S"})
        existing = [sb.webcrm.insert("Persons", {"PersonLastName": "Old"}) for _ in range(5)]
        ids: list[int | None] = list(existing) if kind == "updates" else [None] * 5
        client = WebcrmClient(sb.webcrm_url, WEBCRM_TOKEN, rate_limit_per_minute=None)
        results = client.bulk_upsert("Persons", _items(ids, bad, organisation))
        assert [r.ok for r in results] == [n != bad for n in range(5)]
        assert "PersonMobilePhone must be at most 30 characters" in (results[bad].error or "")
        assert _patches(sb) <= 1 + 2 * math.ceil(math.log2(5))
        names = sorted(p["PersonLastName"] for p in sb.webcrm.records("Persons"))
        landed = sorted(f"Berg {n}" for n in range(5) if n != bad)
        expected = [*landed, "Old"] if kind == "updates" else [*landed, *["Old"] * 5]
        assert names == sorted(expected)


def test_valid_chunk_costs_one_request() -> None:
    """Without a bad item nothing is split: five updates, one PATCH."""
    with sandbox(seed=None, empty=True, webcrm_bulk_rejection="whole-chunk") as sb:
        ids: list[int | None] = [
            sb.webcrm.insert("Persons", {"PersonLastName": "O"}) for _ in "12345"
        ]
        items = _items(ids, 0)
        items[0]["PersonMobilePhone"] = "+45 20"
        client = WebcrmClient(sb.webcrm_url, WEBCRM_TOKEN, rate_limit_per_minute=None)
        assert all(r.ok for r in client.bulk_upsert("Persons", items))
        assert _patches(sb) == 1
