"""A record stamped in the future (issue 9, kind 11): the cursor never moves past the source's
own now, the record is reported and still syncs, and ordinary edits keep flowing."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from sync_pipeline_tests.pipeline.conftest import Pipeline
from sync_pipeline_tests.pipeline.helpers import PERSON, contact, partner, person

PAIR = "persons_contacts"
BAD_IMPORT = datetime(2099, 1, 1, 0, 0, tzinfo=UTC)


def _cursor(pipeline: Pipeline, name: str) -> datetime:
    value = pipeline.store().pair_state(PAIR, [name]).cursors[name]
    assert value is not None, f"no {name} cursor"
    return value


def _reported(pipeline: Pipeline, system: str, entity: str) -> object:
    event = pipeline.instance.get_latest_materialization_event(dg.AssetKey([system, entity]))
    assert event is not None and event.asset_materialization is not None
    return event.asset_materialization.metadata["future_records"].value


def test_a_contact_stamped_in_2099_does_not_freeze_the_contacts_cursor(
    pipeline: Pipeline,
) -> None:
    """A contact whose updatedAt reads 2099 still syncs and is reported; the cursor stays at or
    before CRMOffice's now, so a later ordinary edit of another contact reaches WebCRM."""
    crmoffice = pipeline.sandbox.crmoffice
    future = crmoffice.insert(
        "contacts", {"givenName": "Fremtid", "familyName": "Ås"}, at=BAD_IMPORT
    )
    ordinary = crmoffice.insert("contacts", {"givenName": "Nu", "familyName": "Ås"})
    pipeline.sync(PAIR)
    assert person(pipeline.sandbox, partner(pipeline.store(), PAIR, future))["PersonFirstName"] == (
        "Fremtid"
    )
    assert _cursor(pipeline, "crmoffice/contacts") <= datetime.now(UTC)
    assert _reported(pipeline, "crmoffice", "contacts") == 1
    crmoffice.edit("contacts", ordinary, {"givenName": "Senere"})
    pipeline.sync(PAIR)
    assert person(pipeline.sandbox, partner(pipeline.store(), PAIR, ordinary))[
        "PersonFirstName"
    ] == ("Senere")
    assert _cursor(pipeline, "crmoffice/contacts") <= datetime.now(UTC)


def test_a_person_stamped_in_2099_does_not_freeze_the_persons_cursor(pipeline: Pipeline) -> None:
    """The same on WebCRM: a person stamped 2099 is reported, the Persons cursor stays at or
    before WebCRM's now, and a later ordinary edit of another person reaches CRMOffice."""
    webcrm = pipeline.sandbox.webcrm
    future = webcrm.insert("Persons", {**PERSON, "PersonFirstName": "Fremtid"}, at=BAD_IMPORT)
    ordinary = webcrm.insert("Persons", {**PERSON, "PersonFirstName": "Nu"})
    pipeline.sync(PAIR)
    assert contact(pipeline.sandbox, partner(pipeline.store(), PAIR, future))["givenName"] == (
        "Fremtid"
    )
    assert _cursor(pipeline, "webcrm/Persons") <= datetime.now(UTC)
    assert _reported(pipeline, "webcrm", "persons") == 1
    webcrm.edit("Persons", ordinary, {"PersonFirstName": "Senere"})
    pipeline.sync(PAIR)
    assert contact(pipeline.sandbox, partner(pipeline.store(), PAIR, ordinary))["givenName"] == (
        "Senere"
    )
