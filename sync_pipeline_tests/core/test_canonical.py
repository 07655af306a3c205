"""Canonical comparison (targets that reformat what we write) and Unicode-folded match keys."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_pipeline.core import canonical_values, load_field_map, match_key, prepare_side
from sync_pipeline.core import text_column as text
from sync_pipeline_tests.core.world import World

FM = load_field_map()
PERSONS = FM.pairs["persons_contacts"]
NBSP, NNBSP, THIN, IDEO = "\u00a0", "\u202f", "\u2009", "\u3000"


def _pairs(digits: str, sep: str) -> str:
    return sep.join(digits[i : i + 2] for i in range(0, len(digits), 2))


# Ways a CRM renders one phone number: (country code, national digits) -> text.
PHONE_STYLES: dict[str, Callable[[str, str], str]] = {
    "compact": lambda cc, n: f"+{cc}{n}",
    "spaces": lambda cc, n: f"+{cc} {_pairs(n, ' ')}",
    "dashes": lambda cc, n: f"+{cc}-{n[:4]}-{n[4:]}",
    "dots": lambda cc, n: f"+{cc}.{_pairs(n, '.')}",
    "parentheses": lambda cc, n: f"(+{cc}) {n[:4]} {n[4:]}",
    "nbsp": lambda cc, n: f"+{cc}{NBSP}{_pairs(n, NBSP)}",
    "narrow nbsp": lambda cc, n: f"+{cc}{NNBSP}{n[:4]}{NNBSP}{n[4:]}",
    "padded": lambda cc, n: f"  +{cc} {n}  ",
}
# Ways a CRM stores one name: text -> text.
NAME_STYLES: dict[str, Callable[[str], str]] = {
    "as typed": lambda s: s,
    "NFD": lambda s: unicodedata.normalize("NFD", s),
    "double spaces": lambda s: s.replace(" ", "  "),
    "nbsp": lambda s: s.replace(" ", NBSP),
    "thin space": lambda s: s.replace(" ", THIN),
    "ideographic space": lambda s: s.replace(" ", IDEO),
    "padded": lambda s: f" {s}{NBSP}",
}

country = st.sampled_from(["45", "47", "46", "44"])
national = st.text("0123456789", min_size=8, max_size=8)
name = st.lists(
    st.sampled_from(["Anne", "Marie", "Åse", "Søren", "Kjær", "Ærø", "Østergård", "von"]),
    min_size=1,
    max_size=3,
).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(country, national, st.sampled_from(list(PHONE_STYLES)), st.sampled_from(list(PHONE_STYLES)))
def test_phone_reformats_share_one_canonical_form(cc: str, n: str, a: str, b: str) -> None:
    """Any two renderings of one phone (spaces, dashes, dots, parentheses, NBSP...) are equal
    in canonical form: `+` and the digits."""
    values = pd.Series([PHONE_STYLES[a](cc, n), PHONE_STYLES[b](cc, n)], dtype="str")
    assert canonical_values(values, "phone").tolist() == [f"+{cc}{n}"] * 2


@settings(max_examples=200, deadline=None)
@given(name, st.sampled_from(list(NAME_STYLES)))
def test_name_reformats_share_one_canonical_form(typed: str, style: str) -> None:
    """NFD/NFC, doubled or Unicode spaces and padding are one canonical string."""
    values = pd.Series([typed, NAME_STYLES[style](typed)], dtype="str")
    canonical = canonical_values(values, "string").tolist()
    assert canonical == [unicodedata.normalize("NFC", typed)] * 2


def test_canonical_keeps_real_differences() -> None:
    """Case, another digit, a national vs international number and emptiness stay different."""
    strings = pd.Series(["Anne", "anne", "", "   "], dtype="str")
    assert canonical_values(strings, "string").tolist() == ["Anne", "anne", "", ""]
    phones = pd.Series(["+45 12 34", "+45 12 35", "12 34", "0045 1234", ""], dtype="str")
    assert canonical_values(phones, "phone").tolist() == [
        "+451234",
        "+451235",
        "1234",
        "00451234",
        "",
    ]


def test_side_frame_carries_canonical_values_and_the_text() -> None:
    """A mapped field holds its canonical form; its text column what the system holds (NBSP
    grouping is a valid phone, not a quarantine)."""
    raw = pd.DataFrame(
        [
            {
                "PersonId": 7,
                "PersonUpdatedAt": "2024-09-14T10:00:00+02:00",
                "PersonFirstName": "Anne  Marie",
                "PersonLastName": "A\u030ase",
                "PersonMobilePhone": f"+45{NBSP}12{NBSP}34{NBSP}56{NBSP}78",
            }
        ],
        dtype=object,
    )
    side = prepare_side(raw, PERSONS, "webcrm", FM.entities)
    assert side.quarantined.empty, side.quarantined["reason"].tolist()
    row = side.valid.iloc[0]
    assert (row["givenName"], row[text("givenName")]) == ("Anne Marie", "Anne  Marie")
    assert (row["familyName"], row[text("familyName")]) == ("Åse", "Åse")
    assert row["mobilePhone"] == "+4512345678"
    assert row[text("mobilePhone")] == f"+45{NBSP}12{NBSP}34{NBSP}56{NBSP}78"


def _linked_world(phone: str) -> World:
    w = World(PERSONS)
    w.put("webcrm", "1", givenName="Anne Marie", familyName="Berg", mobilePhone=phone)
    w.put("crmoffice", "c1", givenName="Anne Marie", familyName="Berg", mobilePhone=phone)
    w.link("1", "c1")
    return w


@settings(max_examples=60, deadline=None)
@given(
    country,
    national,
    national,
    st.sampled_from(list(PHONE_STYLES)),
    st.sampled_from(list(PHONE_STYLES)),
    st.sampled_from(list(NAME_STYLES)),
)
def test_a_reformatting_target_causes_one_write_and_no_write_back(
    cc: str, old: str, new: str, user_style: str, target_style: str, name_style: str
) -> None:
    """A WebCRM edit is written once with the user's own text; the target storing it (and a
    name) in its own format is no change: nothing is written back, the user's text stays."""
    w = _linked_world(PHONE_STYLES["spaces"](cc, old))
    typed = PHONE_STYLES[user_style](cc, new).strip()
    w.put("webcrm", "1", mobilePhone=typed)
    plan = w.plan()
    if new == old:
        assert plan.updates["to_crmoffice"].empty
    else:
        sent = plan.updates["to_crmoffice"]
        assert sent[text("mobilePhone")].tolist() == [typed]
        assert sent["mobilePhone"].tolist() == [f"+{cc}{new}"]
    w.apply(plan)
    # The target stores what it was sent in its own format, and rewrites a name too.
    w.crmoffice["c1"].values["mobilePhone"] = PHONE_STYLES[target_style](cc, new)
    w.crmoffice["c1"].values["givenName"] = NAME_STYLES[name_style]("Anne Marie")
    for _ in range(3):
        plan = w.plan()
        assert plan.updates["to_webcrm"].empty and plan.updates["to_crmoffice"].empty
        assert plan.conflicts.empty
        w.apply(plan)
    assert w.webcrm["1"].values["mobilePhone"] == typed


def test_a_shadow_stored_as_text_moves_to_its_canonical_form() -> None:
    """A shadow written before canonical forms (`+45 12 34 56 78`) is read canonically: both
    sides unchanged is no write and no conflict, and the shadow moves once."""
    w = _linked_world("+45 12 34 56 78")
    w.links["1", "c1"]["mobilePhone"] = "+45 12 34 56 78"
    w.crmoffice["c1"].values["mobilePhone"] = "+4512345678"
    plan = w.plan()
    assert plan.updates["to_webcrm"].empty and plan.updates["to_crmoffice"].empty
    assert plan.conflicts.empty
    assert plan.links[["action", "mobilePhone"]].values.tolist() == [["shadow_move", "+4512345678"]]
    w.apply(plan)
    assert w.plan().is_empty


def test_an_edit_against_an_old_text_shadow_is_no_conflict() -> None:
    """With an old text shadow, a real edit on one side still flows one way (no conflict)."""
    w = _linked_world("+45 12 34 56 78")
    w.links["1", "c1"]["mobilePhone"] = "+45 12 34 56 78"
    w.put("crmoffice", "c1", mobilePhone="+45 99 99 99 99")
    plan = w.plan()
    assert plan.conflicts.empty and plan.updates["to_crmoffice"].empty
    assert plan.updates["to_webcrm"][text("mobilePhone")].tolist() == ["+45 99 99 99 99"]


def test_a_crashed_create_is_adopted_although_the_target_reformatted_it() -> None:
    """The intent's payload is canonical: a contact the target stored compacted is still
    recognised as ours after a crash (adopted, not created twice)."""
    w = World(PERSONS)
    w.put("webcrm", "9", givenName="Ole  Dam", familyName="Dam", mobilePhone="+45 20 30 40 50")
    w.apply(w.plan(), crash_after_create=True)
    (created,) = [c for _, c in w.created]
    assert w.crmoffice[created].values["mobilePhone"] == "+45 20 30 40 50"  # our text was sent
    w.crmoffice[created].values.update(mobilePhone="+4520304050", givenName="Ole Dam")
    plan = w.plan()
    assert plan.creates["to_crmoffice"].empty
    assert plan.links[["webcrm_id", "crmoffice_id", "action"]].values.tolist() == [
        ["9", created, "adopt"]
    ]


def test_an_intent_recorded_as_text_is_still_adopted() -> None:
    """An open intent whose payload holds text (recorded before canonical forms) still
    matches the record it created, stored compacted by the target."""
    w = World(PERSONS)
    w.put("webcrm", "9", givenName="Ole", familyName="Dam", mobilePhone="+45 20 30 40 50")
    w.apply(w.plan(), crash_after_create=True)
    (created,) = [c for _, c in w.created]
    w.intents[0]["payload"] = {**w.webcrm["9"].values}
    w.crmoffice[created].values["mobilePhone"] = "+4520304050"
    plan = w.plan()
    assert plan.creates["to_crmoffice"].empty
    assert plan.links["action"].tolist() == ["adopt"]


WHITESPACE_AND_INVISIBLES = {
    "no-break space": "Anne\u00a0Marie",
    "thin space": "Anne\u2009Marie",
    "ideographic space": "Anne\u3000Marie",
    "zero-width space": "Anne \u200bMarie",
    "zero-width joiner": "An\u200dne Marie",
    "soft hyphen": "Anne Ma\u00adrie",
    "byte order mark": "\ufeffAnne Marie",
    "double and padded spaces": "  Anne   Marie ",
    "upper and mixed case": "ANNE marie",
    "fullwidth letters": "Ａｎｎｅ Ｍａｒｉｅ",
}


@pytest.mark.parametrize("variant", list(WHITESPACE_AND_INVISIBLES))
def test_match_keys_fold_unicode_whitespace_invisibles_and_case(variant: str) -> None:
    """Every Unicode whitespace, invisible format character (Cf), compatibility form and case
    folds to the same key on both sides."""
    values = pd.Series(["Anne Marie", WHITESPACE_AND_INVISIBLES[variant]], dtype="str")
    keys = match_key(values, "string").tolist()
    assert keys == ["anne marie", "anne marie"]


def test_match_keys_fold_decomposed_letters_and_phone_formats() -> None:
    """Decomposed `å` equals composed; `ß` casefolds; phones keep digits (fullwidth too)."""
    names = pd.Series(["Åse Strauß", "A\u030ase STRAUSS"], dtype="str")
    assert match_key(names, "string").tolist() == ["åse strauss", "åse strauss"]
    phones = pd.Series([f"+45{NBSP}12 34", "\u200b+45-1234", "＋４５ １２３４"], dtype="str")
    assert match_key(phones, "phone").tolist() == ["00451234"] * 3


@pytest.mark.parametrize("variant", list(WHITESPACE_AND_INVISIBLES))
def test_initial_match_links_across_unicode_variants(variant: str) -> None:
    """`Anne Marie` in WebCRM and a whitespace/case/invisible variant in CRMOffice (same
    surname and phone) are linked, not created twice."""
    w = World(PERSONS)
    w.put("webcrm", "1", givenName="Anne Marie", familyName="Berg", mobilePhone="+45 20304050")
    crm_name = WHITESPACE_AND_INVISIBLES[variant]
    w.put("crmoffice", "c1", givenName=crm_name, familyName="BERG", mobilePhone="+4520304050")
    plan = w.plan()
    assert plan.links[["webcrm_id", "crmoffice_id", "action"]].values.tolist() == [
        ["1", "c1", "match"]
    ]
    assert plan.creates["to_crmoffice"].empty and plan.creates["to_webcrm"].empty
