"""The QA checklist end to end through Dagster: every mapped field, every direction it flows."""

from __future__ import annotations

import pytest

from sync_pipeline_tests.pipeline.conftest import Pipeline
from sync_pipeline_tests.pipeline.helpers import (
    PERSON,
    PERSON_TO_CONTACT,
    USER_TO_CONTACT,
    contact,
    contacts,
    partner,
    person,
    persons,
)


def _linked_person(pipeline: Pipeline) -> tuple[int, str]:
    person_id = pipeline.sandbox.webcrm.insert("Persons", dict(PERSON))
    pipeline.sync("persons_contacts")
    return person_id, partner(pipeline.store(), "persons_contacts", person_id)


def test_new_person_arrives_as_a_contact_with_its_four_fields(pipeline: Pipeline) -> None:
    """A person created in WebCRM becomes one CRMOffice contact carrying the mapped fields."""
    _, contact_id = _linked_person(pipeline)
    created = contact(pipeline.sandbox, contact_id)
    for prop, field in PERSON_TO_CONTACT.items():
        assert created[field] == PERSON[prop]
    assert len(contacts(pipeline.sandbox)) == 1
    assert not created.get("email"), "unmapped PersonEmail must not flow"


@pytest.mark.parametrize(("prop", "field"), sorted(PERSON_TO_CONTACT.items()))
def test_person_edit_flows_to_contact(pipeline: Pipeline, prop: str, field: str) -> None:
    """Editing each mapped person field in WebCRM updates the linked contact."""
    person_id, contact_id = _linked_person(pipeline)
    value = "+45 99 88 77 66" if "Phone" in prop else "Ærø-Østergård"
    pipeline.sandbox.webcrm.edit("Persons", person_id, {prop: value})
    pipeline.sync("persons_contacts")
    assert contact(pipeline.sandbox, contact_id)[field] == value


@pytest.mark.parametrize(("prop", "field"), sorted(PERSON_TO_CONTACT.items()))
def test_contact_edit_flows_to_person(pipeline: Pipeline, prop: str, field: str) -> None:
    """Editing each mapped contact field in CRMOffice updates the linked person."""
    person_id, contact_id = _linked_person(pipeline)
    value = "+47 412 34 567" if "Phone" in prop else "Åse Bråten"
    pipeline.sandbox.crmoffice.edit("contacts", contact_id, {field: value})
    pipeline.sync("persons_contacts")
    assert person(pipeline.sandbox, person_id)[prop] == value


def test_unlinked_contact_creates_a_person(pipeline: Pipeline) -> None:
    """A CRMOffice contact linked to nothing gets a WebCRM person (creates go both ways)."""
    contact_id = pipeline.sandbox.crmoffice.insert(
        "contacts", {"givenName": "Kari", "familyName": "Nordmann", "mobilePhone": "+47 912 34 567"}
    )
    pipeline.sync()
    person_id = partner(pipeline.store(), "persons_contacts", contact_id)
    created = person(pipeline.sandbox, person_id)
    assert (created["PersonFirstName"], created["PersonLastName"]) == ("Kari", "Nordmann")
    assert created["PersonMobilePhone"] == "+47 912 34 567"
    assert len(pipeline.sandbox.webcrm.records("Users")) == 0, "users are never created"


def _linked_user(pipeline: Pipeline) -> tuple[int, str]:
    user_id = pipeline.sandbox.webcrm.insert(
        "Users",
        {
            "UserName": "Mette Frederiksen",
            "UserMobilePhone": "+45 40 50 60 70",
            "UserTelephone": "+45 70 10 20 30",
            "UserEmail": "mf@example.dk",
        },
    )
    pipeline.sync()
    return user_id, partner(pipeline.store(), "users_contacts", user_id)


def test_user_gets_a_contact_with_phones_only(pipeline: Pipeline) -> None:
    """A WebCRM user becomes a contact with mobile and direct phone, no names (that is the spec)."""
    _, contact_id = _linked_user(pipeline)
    created = contact(pipeline.sandbox, contact_id)
    assert created["mobilePhone"] == "+45 40 50 60 70"
    assert created["directPhone"] == "+45 70 10 20 30"
    assert not created.get("givenName") and not created.get("familyName")
    assert persons(pipeline.sandbox) == [], "a user's contact never spawns a person"


@pytest.mark.parametrize(("prop", "field"), sorted(USER_TO_CONTACT.items()))
def test_user_edit_flows_to_contact(pipeline: Pipeline, prop: str, field: str) -> None:
    """Editing each mapped user field in WebCRM updates the linked contact."""
    user_id, contact_id = _linked_user(pipeline)
    pipeline.sandbox.webcrm.edit("Users", user_id, {prop: "22 33 44 55"})
    pipeline.sync()
    assert contact(pipeline.sandbox, contact_id)[field] == "22 33 44 55"


@pytest.mark.parametrize(("prop", "field"), sorted(USER_TO_CONTACT.items()))
def test_contact_edit_flows_to_user(pipeline: Pipeline, prop: str, field: str) -> None:
    """Editing a user-linked contact's phone in CRMOffice updates the WebCRM user."""
    user_id, contact_id = _linked_user(pipeline)
    pipeline.sandbox.crmoffice.edit("contacts", contact_id, {field: "+45 11 22 33 44"})
    pipeline.sync()
    user = pipeline.sandbox.webcrm.get("Users", user_id)
    assert user is not None and user[prop] == "+45 11 22 33 44"
    assert persons(pipeline.sandbox) == []


def test_product_creates_a_company_and_not_the_other_way(pipeline: Pipeline) -> None:
    """Products get a linked company; a lone company never creates a product."""
    product_id = pipeline.sandbox.webcrm.insert("Products", {"ProductCombined": "Havregryn 1 kg"})
    pipeline.sandbox.crmoffice.insert("companies", {"name": "Fjordkraft AS"})
    pipeline.sync()
    company_id = partner(pipeline.store(), "products_companies", product_id)
    assert pipeline.sandbox.crmoffice.get("companies", company_id) is not None
    assert len(pipeline.sandbox.crmoffice.records("companies")) == 2
    assert len(pipeline.sandbox.webcrm.records("Products")) == 1
