"""`/_sandbox/stats`: requests per method and path family, 429s, faults and writes."""

from __future__ import annotations

import httpx

from sync_pipeline.sandbox import running_sandbox
from sync_pipeline_tests.sandbox.conftest import crmoffice_login, quick_settings, webcrm_login


def test_webcrm_requests_are_counted_by_family() -> None:
    """Ids become {id}; logins, queries and writes are counted; stats calls and UI edits not."""
    with running_sandbox(quick_settings(seed=5)) as sandbox:
        with webcrm_login(sandbox.webcrm_url) as client:
            client.get("/Persons/1000")
            client.get("/Persons/1001")
            client.get("/Persons", params={"Size": 2})
            client.patch("/Persons", json=[{"PersonId": 1000, "PersonTitle": "Chef"}, {}])
            # ^ the second item lacks a last name and organisation: refused alone (evidence 7)
            client.get(
                "/Queries",
                params={"script": "SELECT * FROM Person WHERE PersonUpdatedAt >= '2024-01-01'"},
            )
        sandbox.webcrm.edit("Persons", 1002, {"PersonTitle": "UI"})
        httpx.get(f"{sandbox.webcrm_url}/_sandbox/stats")
        stats = httpx.get(f"{sandbox.webcrm_url}/_sandbox/stats").json()
    assert stats["requests"] == {
        "GET /Persons": 1,
        "GET /Persons/{id}": 2,
        "GET /Queries": 1,
        "PATCH /Persons": 1,
        "POST /Auth/ApiLogin": 1,
    }
    assert stats["requests_total"] == 6 and stats["writes"] == 1 and stats["throttled_429"] == 0
    assert stats["faults"] == {
        "429": 0,
        "500": 0,
        "503": 0,
        "stall": 0,
        "drop": 0,
        "drop_after_write": 0,
    }


def test_crmoffice_stats_and_reset() -> None:
    """CRMOffice counts its own families; POST /_sandbox/reset-stats zeroes everything."""
    with running_sandbox(quick_settings(seed=5)) as sandbox:
        with crmoffice_login(sandbox.crmoffice_url) as client:
            contact = client.post("/contacts", json={"givenName": "Gro"}).json()
            client.patch(f"/contacts/{contact['id']}", json={"familyName": "Lie"})
            client.get("/nowhere/c-1")
        stats = sandbox.stats()["crmoffice"]
        assert stats["requests"] == {
            "GET /nowhere/{id}": 1,
            "PATCH /contacts/{id}": 1,
            "POST /connect/token": 1,
            "POST /contacts": 1,
        }
        assert stats["writes"] == 2
        reset = httpx.post(f"{sandbox.crmoffice_url}/_sandbox/reset-stats").json()
        assert reset["requests_total"] == 0 and reset["writes"] == 0
        assert sandbox.stats()["crmoffice"]["requests"] == {}
