"""The realism options: targets that reformat phones, and whole-chunk bulk rejection."""

from __future__ import annotations

import pytest

from sync_pipeline.sandbox import running_sandbox
from sync_pipeline.sandbox.command import build_parser, settings_from
from sync_pipeline.sandbox.realism import compact_phone, group_phone
from sync_pipeline_tests.sandbox.conftest import crmoffice_login, quick_settings, webcrm_login

LONG_PHONE = "+45 " + "1" * 27  # 31 characters: over WebCRM's (assumed) 30


@pytest.mark.parametrize(
    ("sent", "compact", "grouped"),
    [
        ("+45 12 34 56 78", "+4512345678", "+45 12 34 56 78"),
        ("+45 1234-5678", "+4512345678", "+45 12 34 56 78"),
        ("(+47) 22.33.44.55", "+4722334455", "+47 22 33 44 55"),
        ("0045 12345678", "004512345678", "00 45 12 34 56 78"),
        ("12 34 56 7", "1234567", "12 34 56 7"),
    ],
)
def test_phone_styles(sent: str, compact: str, grouped: str) -> None:
    """Compact keeps `+` and digits; grouped puts pairs after `+` and a 2-digit country code."""
    assert (compact_phone(sent), group_phone(sent)) == (compact, grouped)


def test_command_line_realism_options() -> None:
    """`sync-pipeline sandbox` accepts the documented realism options (defaults: off)."""
    parser = build_parser()
    default = settings_from(parser.parse_args([]))
    assert (default.crmoffice_phone_format, default.webcrm_phone_format) == ("as-sent", "as-sent")
    assert default.webcrm_bulk_rejection == "per-item"
    args = parser.parse_args(
        [
            "--crmoffice-phone-format",
            "compact",
            "--webcrm-phone-format",
            "grouped",
            "--webcrm-bulk-rejection",
            "whole-chunk",
        ]
    )
    chosen = settings_from(args)
    assert chosen.crmoffice_phone_format == "compact"
    assert chosen.webcrm_phone_format == "grouped"
    assert chosen.webcrm_bulk_rejection == "whole-chunk"


def test_reformatting_targets_store_phones_their_way() -> None:
    """API writes of phones are stored compacted (CRMOffice) and grouped (WebCRM); a user's
    own edit through the state handle is kept as typed."""
    settings = quick_settings(
        seed=None, empty=True, crmoffice_phone_format="compact", webcrm_phone_format="grouped"
    )
    with running_sandbox(settings) as sb:
        crm = crmoffice_login(sb.crmoffice_url)
        made = crm.post("/contacts", json={"givenName": "Ib", "mobilePhone": "+45 20-30-40-50"})
        assert made.json()["mobilePhone"] == "+4520304050"
        web = webcrm_login(sb.webcrm_url)
        person = sb.webcrm.insert("Persons", {"PersonLastName": "Ås"})
        answer = web.patch(
            "/Persons", json=[{"PersonId": person, "PersonMobilePhone": "+4520304050"}]
        )
        assert answer.json() == [str(person)]
        assert (sb.webcrm.get("Persons", person) or {})["PersonMobilePhone"] == "+45 20 30 40 50"
        sb.webcrm.edit("Persons", person, {"PersonMobilePhone": "+45 2030 4050"})
        assert (sb.webcrm.get("Persons", person) or {})["PersonMobilePhone"] == "+45 2030 4050"


def test_bad_bulk_item_fails_alone_by_default() -> None:
    """By default an item breaking a field rule gets its own error string; the rest land."""
    with running_sandbox(quick_settings(seed=None, empty=True)) as sb:
        web = webcrm_login(sb.webcrm_url)
        org = sb.webcrm.insert("Organisations", {"OrganisationName": "A/S"})
        items = [
            {"PersonLastName": "A", "PersonOrganisationId": org},
            {"PersonLastName": "B", "PersonOrganisationId": org, "PersonDirectPhone": LONG_PHONE},
        ]
        answer = web.patch("/Persons", json=items).json()
        assert answer[0].isdigit() and "at most 30 characters" in answer[1]
        assert [p["PersonLastName"] for p in sb.webcrm.records("Persons")] == ["A"]


def test_whole_chunk_rejection_refuses_the_request() -> None:
    """With `--webcrm-bulk-rejection whole-chunk` one bad item is a 400 for the whole PATCH,
    naming the item, and nothing is saved; single-record writes break the rule with a 400."""
    settings = quick_settings(seed=None, empty=True, webcrm_bulk_rejection="whole-chunk")
    with running_sandbox(settings) as sb:
        web = webcrm_login(sb.webcrm_url)
        items = [{"PersonLastName": "A"}, {"PersonLastName": "B", "PersonDirectPhone": LONG_PHONE}]
        answer = web.patch("/Persons", json=items)
        assert answer.status_code == 400
        assert "Item 1: PersonDirectPhone must be at most 30 characters" in answer.json()["Message"]
        assert sb.webcrm.records("Persons") == []
        assert sb.stats()["webcrm"]["writes"] == 0
        single = web.post("/Persons", json={"PersonLastName": "C", "PersonMobilePhone": LONG_PHONE})
        assert single.status_code == 400
