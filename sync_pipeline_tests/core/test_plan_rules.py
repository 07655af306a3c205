"""DESIGN section 2 at the core level: one test per sync rule."""

from __future__ import annotations

import pandas as pd
import pytest

from sync_pipeline.core import (
    ConflictPolicy,
    Direction,
    plan_pair_sync,
    prepare_side,
    text_column,
)
from sync_pipeline_tests.core.maps import sandbox_field_map
from sync_pipeline_tests.core.world import World

FM = sandbox_field_map()
PERSONS = FM.pairs["persons_contacts"]


@pytest.fixture
def world() -> World:
    """One person linked to one contact, both 'Anne Hansen'."""
    w = World(PERSONS)
    w.put("webcrm", "1", givenName="Anne", familyName="Hansen", mobilePhone="+45 11 22 33 44")
    w.put("crmoffice", "c1", givenName="Anne", familyName="Hansen", mobilePhone="+45 11 22 33 44")
    w.link("1", "c1")
    return w


def test_no_edits_plan_nothing(world: World) -> None:
    """A sync with no edits on either side plans nothing at all."""
    assert world.plan().is_empty


def test_one_side_changed_wins(world: World) -> None:
    """An edit on one side only is written to the other side, that field only."""
    world.put("webcrm", "1", givenName="Anna")
    plan = world.plan()
    up = plan.updates["to_crmoffice"]
    assert up[["webcrm_id", "crmoffice_id", "givenName"]].values.tolist() == [["1", "c1", "Anna"]]
    assert up["changed"].tolist() == [("givenName",)]
    assert plan.updates["to_webcrm"].empty and plan.conflicts.empty


def test_conflict_newest_wins(world: World) -> None:
    """Both sides edited differently: the more recently updated record wins."""
    world.put("webcrm", "1", givenName="Anna")
    world.put("crmoffice", "c1", givenName="Annie")  # later
    plan = world.plan()
    assert plan.updates["to_webcrm"]["givenName"].tolist() == ["Annie"]
    assert plan.updates["to_crmoffice"].empty
    row = plan.conflicts.iloc[0]
    assert (row["field"], row["winner"], row["rule"]) == ("givenName", "crmoffice", "newest")
    assert (row["webcrm_value"], row["crmoffice_value"], row["shadow_value"]) == (
        "Anna",
        "Annie",
        "Anne",
    )


def test_conflict_non_empty_beats_empty(world: World) -> None:
    """A non-empty value beats a cleared one even when the clear is newer."""
    world.put("crmoffice", "c1", familyName="Berg")
    world.put("webcrm", "1", familyName="")  # newer, but empty
    plan = world.plan()
    assert plan.updates["to_webcrm"]["familyName"].tolist() == ["Berg"]
    assert plan.conflicts[["winner", "rule"]].values.tolist() == [["crmoffice", "non_empty"]]


@pytest.mark.parametrize("tie_winner", ["webcrm", "crmoffice"])
def test_conflict_tie_goes_to_policy(world: World, tie_winner: str) -> None:
    """Both edited at the same instant: the policy's side wins (WebCRM by default)."""
    world.put("webcrm", "1", givenName="Anna")
    world.put("crmoffice", "c1", givenName="Annie")
    world.crmoffice["c1"].updated_at = world.webcrm["1"].updated_at
    # why the ignore below: `tie_winner` is a Side literal from the parametrisation
    plan = world.plan(policy=ConflictPolicy(tie=tie_winner))  # type: ignore[arg-type]
    assert plan.conflicts[["winner", "rule"]].values.tolist() == [[tie_winner, "tie"]]
    expected = {"webcrm": "Anna", "crmoffice": "Annie"}[tie_winner]
    direction: Direction = "to_crmoffice" if tie_winner == "webcrm" else "to_webcrm"
    assert plan.updates[direction]["givenName"].tolist() == [expected]


def test_default_policy_is_webcrm() -> None:
    """The default tie winner is WebCRM."""
    assert ConflictPolicy().tie == "webcrm"


def test_clears_propagate(world: World) -> None:
    """Emptying a field on one side while the other is unchanged empties it on the other."""
    world.put("crmoffice", "c1", mobilePhone="")
    plan = world.plan()
    assert plan.updates["to_webcrm"][["mobilePhone", "changed"]].values.tolist() == [
        ["", ("mobilePhone",)]
    ]


def test_both_changed_to_same_value_moves_shadow(world: World) -> None:
    """Both sides edited to the same value: nothing to write, the shadow moves."""
    world.put("webcrm", "1", familyName="Berg")
    world.put("crmoffice", "c1", familyName=" Berg")  # as normalised by prepare_side: "Berg"
    world.crmoffice["c1"].values["familyName"] = "Berg"
    plan = world.plan()
    assert plan.updates["to_webcrm"].empty and plan.updates["to_crmoffice"].empty
    assert plan.links[["action", "familyName", "givenName"]].values.tolist() == [
        ["shadow_move", "Berg", "Anne"]
    ]


def test_second_plan_after_apply_is_empty(world: World) -> None:
    """No echo: after applying a plan, the next plan writes nothing to either side."""
    world.put("webcrm", "1", givenName="Anna")
    world.put("crmoffice", "c1", mobilePhone="", familyName="Berg")
    world.put("webcrm", "2", givenName="New", familyName="Person")
    world.put("crmoffice", "c9", givenName="Only", familyName="Contact")
    world.apply(world.plan())
    assert world.plan().is_empty
    assert world.disagreements() == []


def test_empty_forms_never_flap() -> None:
    """None, "" and whitespace-only are one value: prepared from raw, they never diff."""
    w = World(PERSONS)
    web_raw = pd.DataFrame(
        [
            {
                "PersonId": 1,
                "PersonUpdatedAt": "2024-09-14T10:00:00+02:00",
                "PersonFirstName": "Anne",
                "PersonLastName": None,
                "PersonDirectPhone": "   ",
                "PersonMobilePhone": "",
            }
        ],
        dtype=object,
    )
    crm_raw = pd.DataFrame(
        [
            {
                "id": "c1",
                "updatedAt": "2024-09-14T09:00:00.000Z",
                "givenName": " Anne ",
                "familyName": "  ",
                "directPhone": None,
                "mobilePhone": "\t",
            }
        ],
        dtype=object,
    )
    web = prepare_side(web_raw, PERSONS, "webcrm", FM.entities).valid
    crm = prepare_side(crm_raw, PERSONS, "crmoffice", FM.entities).valid
    for shadow_empty in ("", None):  # None: the shadow never held the field (a new field)
        links = pd.DataFrame(
            {
                "webcrm_id": ["1"],
                "crmoffice_id": ["c1"],
                "status": ["active"],
                "givenName": ["Anne"],
                "familyName": [shadow_empty],
                "directPhone": [shadow_empty],
                "mobilePhone": [""],
            }
        )

        plan = plan_pair_sync(
            w.pair,
            web,
            crm,
            links,
            w.intents_frame(),
            complete=True,
            now=w.clock,
        )
        writes = {k: v for k, v in plan.counts().items() if k != "shadow_moves"}
        assert not any(writes.values()), plan.counts()
        assert plan.counts()["shadow_moves"] == (shadow_empty is None)


def test_policy_rejects_unknown_side() -> None:
    """A misspelt tie winner is an error, not a silent CRMOffice win."""
    with pytest.raises(ValueError, match="unknown tie 'webcrn'"):
        # why the ignore below: deliberately wrong, to test the runtime check
        ConflictPolicy(tie="webcrn")  # type: ignore[arg-type]


def test_unmapped_fields_never_reach_frames_or_plan() -> None:
    """Unmapped properties (email, title, custom fields) are in no frame: no write touches them."""

    raw = pd.DataFrame(
        [
            {
                "PersonId": 1,
                "PersonUpdatedAt": "2024-09-14T10:00:00+02:00",
                "PersonFirstName": "Anne",
                "PersonEmail": "a@b.dk",
                "PersonTitle": "CEO",
                "PersonCustom1": "x",
            }
        ],
        dtype=object,
    )
    crm_raw = pd.DataFrame(
        [
            {
                "id": "c1",
                "updatedAt": "2024-09-14T07:00:00.000Z",
                "givenName": "Old",
                "email": "c@d.no",
                "title": "CTO",
                "company": {"id": "co1"},
            }
        ],
        dtype=object,
    )
    web = prepare_side(raw, PERSONS, "webcrm", FM.entities).valid
    crm = prepare_side(crm_raw, PERSONS, "crmoffice", FM.entities).valid
    names = PERSONS.field_names
    mapped = {"id", "updated_at", *names, *(text_column(f) for f in names)}
    assert set(web.columns) == mapped and set(crm.columns) == mapped
    links = pd.DataFrame(
        {
            "webcrm_id": ["1"],
            "crmoffice_id": ["c1"],
            "givenName": ["Old"],
            "familyName": [""],
            "directPhone": [""],
            "mobilePhone": [""],
        }
    )
    w = World(PERSONS)
    plan = plan_pair_sync(
        PERSONS,
        web,
        crm,
        links,
        w.intents_frame(),
        complete=True,
        now=w.clock,
    )
    update = plan.updates["to_crmoffice"]
    assert update["changed"].tolist() == [("givenName",)]
    assert not {"email", "title", "company", "PersonEmail"} & set(update.columns)
