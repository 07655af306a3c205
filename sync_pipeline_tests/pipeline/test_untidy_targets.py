"""End to end against sandboxes as untidy as production: targets that reformat phones, names
that differ only in Unicode whitespace, and a bulk write refused as a whole for one bad item."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sync_pipeline.sandbox.server import running_sandbox
from sync_pipeline_tests.pipeline.conftest import Pipeline, empty_sandbox
from sync_pipeline_tests.pipeline.helpers import PERSON, contact, contacts, partner, person, persons

PAIR = "persons_contacts"
QUIET = empty_sandbox()


@contextmanager
def untidy(folder: Path, **realism: Any) -> Iterator[Pipeline]:
    """The pipeline against a sandbox with the given realism options."""
    with running_sandbox(replace(QUIET, **realism)) as sandbox:
        yield Pipeline(sandbox, folder)


def _writes_per_run(pipeline: Pipeline, runs: int) -> list[dict[str, int]]:
    """Writes each of `runs` syncs of the pair made, per system."""
    out = []
    for _ in range(runs):
        before = pipeline.writes()
        pipeline.sync(PAIR)
        after = pipeline.writes()
        out.append({system: after[system] - before[system] for system in after})
    return out


@pytest.mark.parametrize(
    "realism",
    [
        {"crmoffice_phone_format": "compact"},
        {"crmoffice_phone_format": "compact", "webcrm_phone_format": "grouped"},
    ],
    ids=["crmoffice compacts", "both reformat"],
)
def test_webcrm_phone_edit_is_written_once_to_a_reformatting_target(
    tmp_path: Path, realism: dict[str, str]
) -> None:
    """One user edit of a WebCRM phone, then five syncs: exactly one write (to CRMOffice,
    stored its way), runs 2-5 write nothing, and the user's WebCRM formatting stays."""
    with untidy(tmp_path, **realism) as pipeline:
        person_id = pipeline.sandbox.webcrm.insert("Persons", dict(PERSON))
        pipeline.sync(PAIR)
        contact_id = partner(pipeline.store(), PAIR, person_id)
        pipeline.sandbox.webcrm.edit("Persons", person_id, {"PersonMobilePhone": "+45 8765 4321"})
        writes = _writes_per_run(pipeline, 5)
        assert writes == [{"webcrm": 0, "crmoffice": 1}] + [{"webcrm": 0, "crmoffice": 0}] * 4
        assert person(pipeline.sandbox, person_id)["PersonMobilePhone"] == "+45 8765 4321"
        assert contact(pipeline.sandbox, contact_id)["mobilePhone"] == "+4587654321"


def test_crmoffice_phone_edit_is_written_once_to_a_grouping_webcrm(tmp_path: Path) -> None:
    """The other direction: a CRMOffice edit lands once in a WebCRM that groups phones;
    the CRMOffice user's own text is never overwritten by WebCRM's grouping."""
    realism = {"crmoffice_phone_format": "compact", "webcrm_phone_format": "grouped"}
    with untidy(tmp_path, **realism) as pipeline:
        person_id = pipeline.sandbox.webcrm.insert("Persons", dict(PERSON))
        pipeline.sync(PAIR)
        contact_id = partner(pipeline.store(), PAIR, person_id)
        pipeline.sandbox.crmoffice.edit("contacts", contact_id, {"directPhone": "+47 2233-4455"})
        writes = _writes_per_run(pipeline, 5)
        assert writes == [{"webcrm": 1, "crmoffice": 0}] + [{"webcrm": 0, "crmoffice": 0}] * 4
        assert contact(pipeline.sandbox, contact_id)["directPhone"] == "+47 2233-4455"
        assert person(pipeline.sandbox, person_id)["PersonDirectPhone"] == "+47 22 33 44 55"


@pytest.mark.parametrize(
    ("given_name", "family_name"),
    [("Anne\u00a0Marie", "Berg"), ("Anne\u2009Marie\u200b", "Ba\u030ard")],
    ids=["no-break space", "thin space, ZWSP, decomposed å"],
)
def test_initial_match_links_names_differing_in_unicode_whitespace(
    pipeline: Pipeline, given_name: str, family_name: str
) -> None:
    """Before the first sync, `Anne Marie` in WebCRM and the same name with other Unicode
    whitespace or invisibles in CRMOffice (same surname, same phone) are linked, not duplicated;
    equal canonical values write nothing."""
    web_family = "Bård" if family_name != "Berg" else "Berg"
    person_id = pipeline.sandbox.webcrm.insert(
        "Persons",
        {
            "PersonFirstName": "Anne Marie",
            "PersonLastName": web_family,
            "PersonMobilePhone": "+45 20 30 40 50",
        },
        # Older than the contact beyond the clocks' 2 s doubt, so a differing value (the
        # ZWSP, which is no whitespace) is settled for the newer contact, not as a clock tie.
        at=datetime.now(UTC) - timedelta(seconds=30),
    )
    pipeline.sandbox.crmoffice.insert(
        "contacts",
        {"givenName": given_name, "familyName": family_name, "mobilePhone": "+45 20 30 40 50"},
    )
    pipeline.sync(PAIR)
    assert len(persons(pipeline.sandbox)) == 1 and len(contacts(pipeline.sandbox)) == 1
    contact_id = partner(pipeline.store(), PAIR, person_id)
    assert contact(pipeline.sandbox, contact_id)["givenName"] == given_name
    if "\u200b" not in given_name:
        assert pipeline.writes() == {"webcrm": 0, "crmoffice": 0}


def test_one_bad_item_does_not_sink_a_refused_bulk_write(tmp_path: Path) -> None:
    """WebCRM refuses a bulk PATCH as a whole (400) for one 31-character phone: in the first
    run the four valid updates land, only the bad record fails and is recorded for retry."""
    with untidy(tmp_path, webcrm_bulk_rejection="whole-chunk") as pipeline:
        ids = [
            pipeline.sandbox.webcrm.insert("Persons", {**PERSON, "PersonFirstName": f"P{n}"})
            for n in range(5)
        ]
        pipeline.sync(PAIR)
        store = pipeline.store()
        contact_ids = [partner(store, PAIR, i) for i in ids]
        phones = [f"+47 22 33 44 5{n}" for n in range(5)]
        phones[2] = "+47 " + "2" * 27  # 31 characters: WebCRM refuses it
        for contact_id, phone in zip(contact_ids, phones, strict=True):
            pipeline.sandbox.crmoffice.edit("contacts", contact_id, {"mobilePhone": phone})
        pipeline.sync(PAIR, expect_success=False)
        landed = [person(pipeline.sandbox, i)["PersonMobilePhone"] for i in ids]
        assert landed == [
            p if n != 2 else PERSON["PersonMobilePhone"] for n, p in enumerate(phones)
        ]
        failures = pipeline.store().failures_frame(PAIR)
        assert failures["record_id"].tolist() == [contact_ids[2]]
        assert "at most 30 characters" in failures["error"].iloc[0]
