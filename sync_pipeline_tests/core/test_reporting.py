"""Plan counts and preview, the mass-change breaker, the RST data flow, normalisation, __all__."""

from __future__ import annotations

import re

import pandas as pd

import sync_pipeline.core as core
from sync_pipeline.core import (
    mass_change_verdict,
    match_key,
    normalize_values,
    render_dataflow_rst,
    text_column,
)
from sync_pipeline_tests.core.maps import sandbox_field_map
from sync_pipeline_tests.core.world import World

FM = sandbox_field_map()
PERSONS = FM.pairs["persons_contacts"]


def busy_world(linked: int = 10) -> World:
    """`linked` linked pairs; three edited in WebCRM, one new person."""
    w = World(PERSONS)
    for i in range(linked):
        w.put("webcrm", str(i), givenName=f"N{i}")
        w.put("crmoffice", f"c{i}", givenName=f"N{i}")
        w.link(str(i), f"c{i}")
    for i in range(3):
        w.put("webcrm", str(i), familyName="Edited")
    w.put("webcrm", "new", givenName="Fresh")
    return w


def test_counts_are_flat_ints() -> None:
    """counts() gives one int per action kind, per direction for creates and updates."""
    counts = busy_world().plan().counts()
    assert counts == {
        "creates_to_crmoffice": 1,
        "creates_to_webcrm": 0,
        "updates_to_crmoffice": 3,
        "updates_to_webcrm": 0,
        "conflicts": 0,
        "matches": 0,
        "adopts": 0,
        "shadow_moves": 0,
        "orphans": 0,
        "held": 0,
        "intents_not_applied": 0,
    }
    assert all(type(v) is int for v in counts.values())


def test_preview_markdown_has_counts_and_capped_samples() -> None:
    """The preview lists the counts and at most max_rows sample rows per section."""
    text = busy_world().plan().preview_markdown(max_rows=2)
    assert "### Plan for `persons_contacts` (full read)" in text
    assert "| updates_to_crmoffice | 3 |" in text
    assert "#### Updates to_crmoffice (3)" in text and "…and 1 more" in text
    assert "#### Creates to_crmoffice (1)" in text and "| new | Fresh |" in text
    assert "Conflicts" not in text


def test_empty_plan_frames_have_their_columns() -> None:
    """A no-op plan still carries every frame with its documented columns and dtypes."""
    w = World(PERSONS)
    plan = w.plan()
    assert plan.is_empty
    fields = list(PERSONS.field_names)
    texts = [text_column(f) for f in fields]
    assert list(plan.creates["to_webcrm"].columns) == ["source_id", *fields, *texts]
    assert list(plan.updates["to_crmoffice"].columns) == [
        "webcrm_id",
        "crmoffice_id",
        "changed",
        *fields,
        *texts,
    ]
    assert list(plan.links.columns) == ["webcrm_id", "crmoffice_id", "action", "intent_id", *fields]
    assert str(plan.links["intent_id"].dtype) == "Int64"
    assert list(plan.conflicts.columns) == [
        "webcrm_id",
        "crmoffice_id",
        "field",
        "webcrm_value",
        "crmoffice_value",
        "shadow_value",
        "winner",
        "rule",
    ]
    assert list(plan.orphans.columns) == ["webcrm_id", "crmoffice_id", "missing_side"]
    assert list(plan.held.columns) == ["side", "id", "reason", "kind"]
    assert list(plan.intents_not_applied.columns) == [
        "intent_id",
        "direction",
        "source_id",
        "reason",
    ]


def test_mass_change_breaker() -> None:
    """Updating more than max_share of the linked records fails; within it passes."""
    plan = busy_world(10).plan()
    verdict = mass_change_verdict(plan, linked_count=10, min_updates=0)
    assert not verdict.passed and verdict.share == 0.3
    assert "3 of 10 linked records" in verdict.message
    assert mass_change_verdict(plan, linked_count=10, max_share=0.3, min_updates=0).passed


def test_breaker_ignores_a_handful_of_updates() -> None:
    """Below `min_updates` updated links the share alone never trips the breaker."""
    plan = busy_world(10).plan()
    assert mass_change_verdict(plan, linked_count=10, min_updates=4).passed
    assert not mass_change_verdict(plan, linked_count=10, min_updates=3).passed


def test_breaker_counts_a_link_once_across_directions() -> None:
    """A link updated in both directions counts once."""
    w = busy_world(10)
    w.put("crmoffice", "c0", directPhone="12")
    plan = w.plan()
    assert len(plan.updates["to_webcrm"]) == 1
    assert mass_change_verdict(plan, linked_count=10).share == 0.3


def test_breaker_counts_orphans_like_updates() -> None:
    """Links orphaned by a complete read count toward the mass-change share, as updates do."""
    w = World(PERSONS)
    for i in range(10):
        w.put("webcrm", str(i), givenName=f"N{i}")
        w.put("crmoffice", f"c{i}", givenName=f"N{i}")
        w.link(str(i), f"c{i}")
    for i in range(3):
        del w.crmoffice[f"c{i}"]
    plan = w.plan()
    assert len(plan.orphans) == 3
    verdict = mass_change_verdict(plan, linked_count=10, min_updates=0)
    assert not verdict.passed and verdict.share == 0.3
    assert "3 orphaned" in verdict.message


def test_initial_load_is_not_a_mass_change() -> None:
    """With nothing linked yet, any number of creates and matches passes the breaker."""
    w = World(PERSONS)
    for i in range(5):
        w.put("webcrm", str(i), givenName=f"N{i}", familyName="X", mobilePhone="1")
        w.put(
            "crmoffice",
            f"c{i}",
            givenName=f"N{i}",
            familyName="X",
            mobilePhone="1",
            directPhone="2",
        )
    plan = w.plan()
    assert plan.counts()["matches"] == 5 and len(plan.updates["to_webcrm"]) == 5
    assert mass_change_verdict(plan, linked_count=0).passed


def test_dataflow_rst_is_a_list_table_per_pair() -> None:
    """The RST has one titled section per pair, each with a well-formed 3-column list-table."""
    text = render_dataflow_rst(FM)
    lines = text.splitlines()
    for name in FM.pairs:
        i = lines.index(name)
        assert lines[i + 1] == "-" * len(name)
    assert text.count(".. list-table::") == 2  # the products pair has no fields yet
    assert "No mapped fields" in text
    rows = re.findall(r"^   \* - (.+)$", text, flags=re.MULTILINE)
    assert rows[0] == "Source property" and "``PersonFirstName``" in rows
    cells = re.findall(r"^     - (.+)$", text, flags=re.MULTILINE)
    assert len(cells) == 2 * len(rows)
    assert "Target data type" in cells and "``givenName``" in cells
    # options directly under the directive, then a blank line before the body
    block = text[text.index(".. list-table:: persons_contacts") :].splitlines()
    assert block[1] == "   :header-rows: 1" and block[2] == ""


def test_normalize_values() -> None:
    """None, NaN, "" and whitespace become ""; text is stripped and NFC."""
    values = pd.Series([None, float("nan"), "", "  ", " Åse ", "A\u030ase"], dtype=object)
    assert normalize_values(values).tolist() == ["", "", "", "", "Åse", "Åse"]


def test_match_keys() -> None:
    """Phones keep digits (leading + read as 00); names are casefolded, inner space collapsed."""
    phones = pd.Series(["+45 11 22", "0045-1122", "(11) 22", ""], dtype="str")
    assert match_key(phones, "phone").tolist() == ["00451122", "00451122", "1122", ""]
    names = pd.Series(["Anne  Marie", "ANNE MARIE", "Straße"], dtype="str")
    assert match_key(names, "string").tolist() == ["anne marie", "anne marie", "strasse"]


def test_public_all_is_complete() -> None:
    """Everything in core.__all__ exists, and the main entry points are in it."""
    for name in core.__all__:
        assert hasattr(core, name), name
    for name in (
        "plan_pair_sync",
        "prepare_side",
        "load_field_map",
        "PairPlan",
        "mass_change_verdict",
    ):
        assert name in core.__all__
