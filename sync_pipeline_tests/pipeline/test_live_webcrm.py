"""The sync against a WebCRM as strict as the live one (issue 10): reverse creates carry what a
person needs, contacts that cannot become one are held, and windows are right in any zone."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from sync_pipeline.core import load_field_map
from sync_pipeline.sandbox.server import running_sandbox
from sync_pipeline_tests.pipeline.conftest import (
    Pipeline,
    empty_sandbox,
    with_default_organisation,
)
from sync_pipeline_tests.pipeline.helpers import (
    DEFAULT_ORGANISATION_ID,
    PERSON,
    contact,
    contacts,
    partner,
    person,
    persons,
)

ZONES = ("Europe/London", "Europe/Copenhagen")
# Europe's clocks go back at 01:00Z on 27 Oct 2024: London's 01:00-02:00 and Copenhagen's
# 02:00-03:00 wall times happen twice that night.
AUTUMN_CHANGE = datetime(2024, 10, 27, 1, 0, tzinfo=UTC)


@pytest.fixture(params=ZONES)
def zoned(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Pipeline]:
    """The pipeline against a WebCRM rendering (and reading literals in) each zone."""
    with running_sandbox(empty_sandbox(request.param)) as running:
        yield Pipeline(with_default_organisation(running), tmp_path)


def _plan_held(pipeline: Pipeline) -> dict[str, str]:
    dry = pipeline.sync("persons_contacts", dry_run=True)
    plan = dry.asset_value(dg.AssetKey(["persons_contacts", "plan_links"])).plan
    return dict(zip(plan.held["id"], plan.held["reason"], strict=True))


def test_reverse_create_fills_the_default_organisation(pipeline: Pipeline) -> None:
    """A contact becomes a person of `WEBCRM_DEFAULT_ORGANISATION_ID` (create_defaults)."""
    contact_id = pipeline.sandbox.crmoffice.insert(
        "contacts", {"givenName": "Kari", "familyName": "Nordmann"}
    )
    pipeline.sync("persons_contacts")
    created = person(pipeline.sandbox, partner(pipeline.store(), "persons_contacts", contact_id))
    assert created["PersonOrganisationId"] == DEFAULT_ORGANISATION_ID
    assert created["PersonLastName"] == "Nordmann"


def test_contact_without_family_name_is_held_not_sent(pipeline: Pipeline) -> None:
    """No family name: held with a one-line reason, never written (so never failing), run after
    run; once the contact has one, the person is created."""
    contact_id = pipeline.sandbox.crmoffice.insert("contacts", {"givenName": "Kun Fornavn"})
    assert _plan_held(pipeline)[contact_id] == "familyName is empty; Persons need PersonLastName"
    for _ in range(2):
        pipeline.sync("persons_contacts")
    assert persons(pipeline.sandbox) == [] and pipeline.writes()["webcrm"] == 0
    assert pipeline.store().find_links(contact_id) == []
    pipeline.sandbox.crmoffice.edit("contacts", contact_id, {"familyName": "Etternavn"})
    pipeline.sync("persons_contacts")
    assert partner(pipeline.store(), "persons_contacts", contact_id)


def test_unset_default_organisation_holds_reverse_creates(pipeline: Pipeline) -> None:
    """Without WEBCRM_DEFAULT_ORGANISATION_ID, reverse creates are held naming the variable."""
    pipeline.use_field_map(load_field_map(), env={})
    contact_id = pipeline.sandbox.crmoffice.insert(
        "contacts", {"givenName": "Ola", "familyName": "Nordmann"}
    )
    reason = _plan_held(pipeline)[contact_id]
    assert reason.startswith("WEBCRM_DEFAULT_ORGANISATION_ID is not set; Persons need PersonOrg")


def test_backfill_window_across_the_autumn_change(zoned: Pipeline) -> None:
    """A window over the night the clocks go back syncs exactly the persons changed in it, in
    either rendering zone (the ambiguous wall-clock hour included)."""
    moments = {
        "Før": AUTUMN_CHANGE - timedelta(hours=1, seconds=30),  # 26 Oct 23:59:30Z: outside
        "Første": AUTUMN_CHANGE - timedelta(minutes=30),  # the first pass of the fold
        "Andre": AUTUMN_CHANGE + timedelta(minutes=30),  # the second pass
        "Etter": AUTUMN_CHANGE + timedelta(days=1),  # 28 Oct 01:00Z: outside
    }
    for name, moment in moments.items():
        zoned.sandbox.webcrm.insert("Persons", {**PERSON, "PersonFirstName": name}, at=moment)
    zoned.sync("persons_contacts", since=date(2024, 10, 27), until=date(2024, 10, 28))
    assert sorted(c["givenName"] for c in contacts(zoned.sandbox)) == ["Andre", "Første"]


def test_incremental_edits_flow_both_ways_in_any_zone(zoned: Pipeline) -> None:
    """Linked, then edited on both sides: incremental runs carry each edit across, whatever
    offset WebCRM renders, and the newer edit wins a conflict."""
    person_id = zoned.sandbox.webcrm.insert("Persons", dict(PERSON))
    zoned.sync("persons_contacts")
    contact_id = partner(zoned.store(), "persons_contacts", person_id)
    now = datetime.now(UTC)
    older = {"PersonLastName": "Eldre", "PersonDirectPhone": "+45 11 22 33 44"}
    zoned.sandbox.webcrm.edit("Persons", person_id, older, at=now - timedelta(seconds=30))
    zoned.sandbox.crmoffice.edit("contacts", contact_id, {"familyName": "Nyere"}, at=now)
    zoned.sync("persons_contacts")
    assert person(zoned.sandbox, person_id)["PersonLastName"] == "Nyere"
    assert contact(zoned.sandbox, contact_id)["directPhone"] == "+45 11 22 33 44"


def _missed(result: dg.ExecuteInProcessResult) -> tuple[bool, int]:
    (evaluation,) = [
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "missed_changes"
        and e.asset_key == dg.AssetKey(["persons_contacts", "plan_links"])
    ]
    figure = evaluation.metadata["missed_by_incremental"].value
    assert isinstance(figure, int)
    return evaluation.passed, figure


def test_full_run_reports_what_the_incremental_runs_missed(zoned: Pipeline) -> None:
    """After incremental runs, a full run counts the changes it writes that were made before
    the cursors: 0 when the windows were right; a change slipped in behind them is counted."""
    zoned.sandbox.webcrm.insert("Persons", dict(PERSON))
    zoned.sync("persons_contacts")
    zoned.sandbox.webcrm.insert("Persons", {**PERSON, "PersonFirstName": "Nyere"})
    zoned.sync("persons_contacts")
    assert _missed(zoned.sync("persons_contacts", full=True)) == (True, 0)
    behind = datetime.now(UTC) - timedelta(days=1)  # as if a window had lost it
    zoned.sandbox.webcrm.insert("Persons", {**PERSON, "PersonFirstName": "Tapt"}, at=behind)
    zoned.sync("persons_contacts")
    assert _missed(zoned.sync("persons_contacts", full=True)) == (False, 1)


def test_id_generation_failures_are_retried_on_later_runs(tmp_path: Path) -> None:
    """With a third of WebCRM creates failing per item (evidence 9), later runs create the
    rest: every contact ends with exactly one person."""
    settings = replace(empty_sandbox(), webcrm_create_failure_rate=0.34, fault_seed=3)
    with running_sandbox(settings) as running:
        pipeline = Pipeline(with_default_organisation(running), tmp_path)
        made = [
            running.crmoffice.insert("contacts", {"givenName": f"K{n}", "familyName": "Lund"})
            for n in range(12)
        ]
        result = pipeline.sync("persons_contacts", expect_success=False)
        assert 0 < len(persons(running)) < 12, result.success
        for _ in range(6):
            pipeline.sync("persons_contacts", expect_success=False)
        store = pipeline.store()
        assert {partner(store, "persons_contacts", c) for c in made} == {
            str(p["PersonId"]) for p in persons(running)
        }
