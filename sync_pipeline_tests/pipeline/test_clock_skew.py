"""Issue 9 kind 6: a system whose clock runs slow must not decide conflicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from sync_pipeline.sandbox.server import SandboxSettings, running_sandbox
from sync_pipeline_tests.pipeline.conftest import Pipeline, empty_sandbox
from sync_pipeline_tests.pipeline.helpers import PERSON, contact, partner, person

SLOW = -600.0  # CRMOffice's clock runs 10 minutes slow


def _skewed_sandbox() -> SandboxSettings:
    return empty_sandbox(crmoffice_clock_offset=SLOW)


def test_the_later_edit_wins_although_its_system_clock_runs_ten_minutes_slow(
    tmp_path: Path,
) -> None:
    """WebCRM edited, then CRMOffice 5 s later on a clock 10 min slow: the later (CRMOffice)
    value wins, and the run's metadata reports CRMOffice's offset (about -600 s)."""
    with running_sandbox(_skewed_sandbox()) as sandbox:
        pipeline = Pipeline(sandbox, tmp_path)
        person_id = sandbox.webcrm.insert("Persons", {**PERSON, "PersonFirstName": "Anna"})
        pipeline.sync("persons_contacts")
        contact_id = partner(pipeline.store(), "persons_contacts", person_id)
        earlier = datetime.now(UTC) - timedelta(seconds=5)
        sandbox.webcrm.edit("Persons", person_id, {"PersonFirstName": "Anne"}, at=earlier)
        sandbox.crmoffice.edit("contacts", contact_id, {"givenName": "Annie"})  # its clock
        result = pipeline.sync("persons_contacts")
        assert person(sandbox, person_id)["PersonFirstName"] == "Annie"
        assert contact(sandbox, contact_id)["givenName"] == "Annie"
        extract = result.get_asset_materialization_events()
        offsets = [
            e.materialization.metadata["clock_offset_seconds"].value
            for e in extract
            if e.asset_key == dg.AssetKey(["crmoffice", "contacts"])
        ]
        assert offsets and abs(float(str(offsets[0])) - SLOW) <= 2


def test_edits_within_the_clocks_uncertainty_are_a_flagged_tie(tmp_path: Path) -> None:
    """Edits 1 s apart (after correction) are a tie for the policy's side, ruled clock_tie."""
    with running_sandbox(_skewed_sandbox()) as sandbox:
        pipeline = Pipeline(sandbox, tmp_path)
        person_id = sandbox.webcrm.insert("Persons", {**PERSON, "PersonFirstName": "Anna"})
        pipeline.sync("persons_contacts")
        contact_id = partner(pipeline.store(), "persons_contacts", person_id)
        now = datetime.now(UTC)
        sandbox.webcrm.edit("Persons", person_id, {"PersonFirstName": "Anne"}, at=now)
        crm_time = now + timedelta(seconds=SLOW + 1)  # 1 s after WebCRM's, on CRMOffice's clock
        sandbox.crmoffice.edit("contacts", contact_id, {"givenName": "Annie"}, at=crm_time)
        pipeline.sync("persons_contacts")
        assert contact(sandbox, contact_id)["givenName"] == "Anne"  # the tie goes to WebCRM
        history = pipeline.store().history_frame(pair="persons_contacts", webcrm_id=str(person_id))
        assert "clock_tie" in "".join(history["detail"].astype(str))
