"""Full reads and orphans (issue 9, kind 3): a read that may have missed records orphans
nothing, a would-be orphan is confirmed by a GET by id, an orphaned link seen again is active
again, and mass orphaning trips the breaker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sync_pipeline.clients import CrmofficeClient, WebcrmClient
from sync_pipeline.commands.sync_report import failure_line
from sync_pipeline.sandbox.server import RunningSandbox, running_sandbox
from sync_pipeline.sync import Clients, PairSyncReport, PairSyncRequest, sync_pair
from sync_pipeline_tests.pipeline.conftest import Pipeline, empty_sandbox
from sync_pipeline_tests.pipeline.helpers import (
    PERSON,
    DeleteAfterFirstPage,
    HidingLister,
    partner,
    person,
)

PAIR = "persons_contacts"


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[Pipeline]:
    """The pipeline against a sandbox whose CRMOffice serves at most 10 items per page."""
    settings = empty_sandbox(crmoffice_max_page_size=10)
    with running_sandbox(settings) as sandbox:
        yield Pipeline(sandbox, tmp_path)


def _persons(pipeline: Pipeline, count: int) -> list[int]:
    return [
        pipeline.sandbox.webcrm.insert("Persons", {**PERSON, "PersonFirstName": f"Navn {n}"})
        for n in range(count)
    ]


def _statuses(pipeline: Pipeline) -> dict[str, int]:
    links = pipeline.store().links_frame(PAIR, [], status=None)
    return {str(k): int(v) for k, v in links["status"].value_counts().items()}


def _full_sync_pair(pipeline: Pipeline, transport: httpx.BaseTransport) -> PairSyncReport:
    """One full run of the pair in one call (as a backfill runs it), CRMOffice over `transport`."""
    sandbox = pipeline.sandbox
    webcrm = WebcrmClient(sandbox.webcrm_url, "sandbox-webcrm-token", rate_limit_per_minute=None)
    crmoffice = CrmofficeClient(
        sandbox.crmoffice_url,
        "sandbox-client",
        "sandbox-secret",
        rate_limit_per_minute=None,
        transport=transport,
    )
    with webcrm, crmoffice:
        return sync_pair(
            pipeline.field_map.pairs[PAIR],
            pipeline.field_map,
            Clients(webcrm, crmoffice),
            pipeline.store(),
            "a-full-run",
            PairSyncRequest(mode="full"),
        )


def test_a_full_run_against_capped_pages_orphans_nothing_and_edits_still_sync(
    capped: Pipeline,
) -> None:
    """CRMOffice pages capped at 10 of 25 contacts: `--full` reads all 25, orphans nothing,
    and a later edit of the 25th contact reaches WebCRM."""
    ids = _persons(capped, 25)
    capped.sync(PAIR)
    capped.sync(PAIR, full=True)
    assert _statuses(capped) == {"active": 25}
    contact_id = partner(capped.store(), PAIR, ids[-1])
    capped.sandbox.crmoffice.edit("contacts", contact_id, {"givenName": "Senere"})
    capped.sync(PAIR)
    assert person(capped.sandbox, ids[-1])["PersonFirstName"] == "Senere"


def test_a_read_that_changed_while_paging_orphans_nothing(capped: Pipeline) -> None:
    """A contact deleted between two pages makes the total change and one live contact go
    unserved: that full run orphans nothing; the next full run orphans only the deleted one."""
    ids = _persons(capped, 25)
    capped.sync(PAIR)
    victim = partner(capped.store(), PAIR, ids[3])
    report = _full_sync_pair(capped, DeleteAfterFirstPage(capped.sandbox, victim))
    assert not report.rows[1].complete
    assert _statuses(capped) == {"active": 25}
    capped.sync(PAIR, full=True)
    assert _statuses(capped) == {"active": 24, "orphaned": 1}
    assert [link["status"] for link in capped.store().find_links(victim)] == ["orphaned"]


def test_a_would_be_orphan_is_confirmed_by_a_get_by_id(pipeline: Pipeline) -> None:
    """A list that leaves out two live contacts (its pages add up) orphans neither: each is
    found by a GET by id; a contact deleted for real is orphaned after its GET says 404."""
    ids = _persons(pipeline, 6)
    pipeline.sync(PAIR)
    hidden = {partner(pipeline.store(), PAIR, person_id) for person_id in ids[:2]}
    deleted = partner(pipeline.store(), PAIR, ids[2])
    pipeline.sandbox.crmoffice.delete("contacts", deleted)
    pipeline.sandbox.reset_stats()
    report = _full_sync_pair(pipeline, HidingLister(hidden))
    assert report.rows[1].complete
    assert pipeline.sandbox.stats()["crmoffice"]["requests"]["GET /contacts/{id}"] == 3
    assert _statuses(pipeline) == {"active": 5, "orphaned": 1}
    assert [link["status"] for link in pipeline.store().find_links(deleted)] == ["orphaned"]


def test_mass_orphaning_trips_the_breaker(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """Half the linked contacts gone at once is a mass change: the full run stops before any
    write, the CLI line says why, and no link is orphaned."""
    pipeline = Pipeline(sandbox, tmp_path, max_update_share=0.2, min_updates_for_breaker=5)
    ids = _persons(pipeline, 10)
    pipeline.sync(PAIR)
    for person_id in ids[:5]:
        sandbox.crmoffice.delete("contacts", partner(pipeline.store(), PAIR, person_id))
    result = pipeline.sync(PAIR, full=True, expect_success=False)
    assert not result.success
    assert "mass_change" in failure_line(result) and "5 orphaned" in failure_line(result)
    assert _statuses(pipeline) == {"active": 10}


def test_an_orphaned_link_whose_records_are_seen_again_is_active_again(
    pipeline: Pipeline,
) -> None:
    """A link orphaned by an earlier (false) read is reactivated by a full run that sees both
    its records, and the edit made meanwhile syncs in that run."""
    [person_id, _other] = _persons(pipeline, 2)
    pipeline.sync(PAIR)
    contact_id = partner(pipeline.store(), PAIR, person_id)
    pipeline.store().mark_orphaned(PAIR, [(str(person_id), contact_id, "crmoffice")], "old-run")
    pipeline.sandbox.crmoffice.edit("contacts", contact_id, {"givenName": "Igen"})
    pipeline.sync(PAIR, full=True)
    assert [link["status"] for link in pipeline.store().find_links(contact_id)] == ["active"]
    assert person(pipeline.sandbox, person_id)["PersonFirstName"] == "Igen"
