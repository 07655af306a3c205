"""`--data-dir`: records, id counters and timestamps survive a restart."""

from __future__ import annotations

from pathlib import Path

from sync_pipeline.sandbox import WebcrmState, running_sandbox
from sync_pipeline_tests.sandbox.conftest import (
    creatable,
    crmoffice_login,
    quick_settings,
    webcrm_login,
)


def test_state_survives_a_restart(tmp_path: Path) -> None:
    """A restart with the same directory restores both CRMs exactly and keeps counting ids."""
    settings = quick_settings(seed=20, data_dir=tmp_path)
    with running_sandbox(settings) as first:
        with webcrm_login(first.webcrm_url) as client:
            person = {"PersonFirstName": "Ærlig", **creatable(client, "Persons")}
            person_id = client.post("/Persons", json=person).json()
        with crmoffice_login(first.crmoffice_url) as client:
            contact_id = client.post("/contacts", json={"givenName": "Ærlig"}).json()["id"]
        first.crmoffice.delete("contacts", "c-1")
        before = {e: first.webcrm.records(e) for e in ("Persons", "Users", "Products")}
        contacts = first.crmoffice.records("contacts")
        companies = first.crmoffice.records("companies")
    assert (tmp_path / "webcrm.json").exists() and (tmp_path / "crmoffice.json").exists()
    with running_sandbox(quick_settings(seed=999, data_dir=tmp_path)) as second:
        assert second.restored
        assert {e: second.webcrm.records(e) for e in before} == before
        assert second.crmoffice.records("contacts") == contacts
        assert second.crmoffice.records("companies") == companies
        with webcrm_login(second.webcrm_url) as client:
            assert client.post("/Persons", json=person).json() == person_id + 1
        with crmoffice_login(second.crmoffice_url) as client:
            again = client.post("/contacts", json={"givenName": "Neste"}).json()
        assert int(again["id"][2:]) == int(contact_id[2:]) + 1
        assert again["updatedAt"] > max(c["updatedAt"] for c in contacts)


def test_without_a_data_dir_nothing_is_kept(tmp_path: Path) -> None:
    """In-memory by default: a new sandbox starts from the seed again."""
    with running_sandbox(quick_settings(seed=5)) as first:
        first.webcrm.insert("Persons", {"PersonFirstName": "Flyktig"})
    with running_sandbox(quick_settings(seed=5)) as second:
        names = [p["PersonFirstName"] for p in second.webcrm.records("Persons")]
        assert "Flyktig" not in names and not second.restored


def test_a_snapshot_from_before_an_entity_was_declared_loads() -> None:
    """A saved state without Organisations (declared later in systems.yaml) loads; they start
    empty at id 1000."""
    state = WebcrmState()
    state.insert("Persons", {"PersonLastName": "Ås"})
    snapshot = state.dump()
    del snapshot["next_id"]["Organisations"], snapshot["records"]["Organisations"]
    restored = WebcrmState()
    restored.load(snapshot)
    assert restored.records("Persons") == state.records("Persons")
    assert restored.records("Organisations") == []
    assert restored.insert("Organisations", {"OrganisationName": "Ny AS"}) == 1000
