"""A field added to the map of a live deployment: its initial reconciliation on existing links."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from sync_pipeline.core import Direction, PairSpec, parse_field_map, plan_pair_sync
from sync_pipeline_tests.core.test_fieldmap import raw_map
from sync_pipeline_tests.core.world import World


def _pair(**field_keys: dict[str, Any]) -> PairSpec:
    data = raw_map()
    for item in data["pairs"]["persons_contacts"]["fields"]:
        item.update(field_keys.get(item["crmoffice"], {}))
    return parse_field_map(data).pairs["persons_contacts"]


def _world(pair: PairSpec, web_family: str, crm_family: str) -> World:
    """One link whose shadow predates `familyName` (added to the map since)."""
    w = World(pair)
    w.put("webcrm", "1", givenName="Anne", familyName=web_family)
    w.put("crmoffice", "c1", givenName="Anne", familyName=crm_family)
    w.link("1", "c1")
    del w.links["1", "c1"]["familyName"]
    return w


def test_differing_values_are_held_not_newest_wins() -> None:
    """Two different values of a field new to the link: no write, no conflict, a held row."""
    w = _world(_pair(), "Product text", "Company name")  # CRMOffice edited last
    plan = w.plan()
    assert plan.updates["to_crmoffice"].empty and plan.updates["to_webcrm"].empty
    assert plan.conflicts.empty
    [held] = plan.held.to_dict("records")
    assert (held["side"], held["id"]) == ("webcrm", "1")
    assert held["reason"].startswith("new field familyName differs from crmoffice c1: held")
    assert "\n" not in held["reason"]
    assert "Held (1)" in plan.preview_markdown()
    w.apply(plan)
    assert "familyName" not in w.links["1", "c1"]
    assert not w.plan().held.empty  # still held next run, until someone decides


@pytest.mark.parametrize(("winner", "value"), [("webcrm", "Hansen"), ("crmoffice", "Berg")])
def test_initial_winner_settles_differing_values(winner: str, value: str) -> None:
    """`initial_winner` names the side whose value both sides get; the rule says so."""
    w = _world(_pair(familyName={"initial_winner": winner}), "Hansen", "Berg")
    plan = w.plan()
    assert plan.conflicts[["field", "winner", "rule", "shadow_value"]].values.tolist() == [
        ["familyName", winner, "initial_winner", ""]
    ]
    direction: Direction = "to_crmoffice" if winner == "webcrm" else "to_webcrm"
    assert plan.updates[direction][["changed", "familyName"]].values.tolist() == [
        [("familyName",), value]
    ]
    assert plan.held.empty
    w.apply(plan)
    assert w.links["1", "c1"]["familyName"] == value
    assert w.plan().is_empty


@pytest.mark.parametrize(("web", "crm"), [("Hansen", ""), ("", "Hansen")])
def test_empty_side_takes_the_other_value(web: str, crm: str) -> None:
    """One side empty: it takes the non-empty value, whatever `initial_winner` says."""
    w = _world(
        _pair(familyName={"initial_winner": "crmoffice" if crm == "" else "webcrm"}), web, crm
    )
    plan = w.plan()
    direction: Direction = "to_crmoffice" if web else "to_webcrm"
    assert plan.updates[direction][["changed", "familyName"]].values.tolist() == [
        [("familyName",), "Hansen"]
    ]
    assert plan.conflicts.empty and plan.held.empty
    w.apply(plan)
    assert w.plan().is_empty and w.disagreements() == []


@pytest.mark.parametrize("value", ["Hansen", ""])
def test_equal_values_only_record_the_shadow(value: str) -> None:
    """Equal values (both empty included) write nothing; the shadow learns the field once."""
    w = _world(_pair(), value, value)
    plan = w.plan()
    assert plan.counts()["shadow_moves"] == 1 and not plan.updates["to_crmoffice"].size
    assert plan.links["familyName"].tolist() == [value]
    w.apply(plan)
    assert w.links["1", "c1"]["familyName"] == value
    assert w.plan().is_empty


def test_a_record_not_read_leaves_the_new_field_alone() -> None:
    """Incremental run with one side absent: the new field is neither written nor recorded."""
    w = _world(_pair(), "Hansen", "")
    web_only = w.side_frame("webcrm")
    plan = plan_pair_sync(
        w.pair,
        web_only,
        w.side_frame("crmoffice").iloc[0:0],
        w.links_frame(),
        w.intents_frame(),
        complete=False,
        now=w.clock,
    )
    assert plan.is_empty and plan.held.empty


def test_held_field_stays_unset_when_another_field_moves() -> None:
    """A shadow move of another field on the same link leaves the held field out (NA)."""
    w = _world(_pair(), "Hansen", "Berg")
    w.put("webcrm", "1", givenName="Anna")
    w.put("crmoffice", "c1", givenName="Anna")
    plan = w.plan()
    [move] = plan.links.to_dict("records")
    assert move["action"] == "shadow_move" and move["givenName"] == "Anna"
    assert pd.isna(move["familyName"])
    w.apply(plan)
    assert w.links["1", "c1"] == {
        "givenName": "Anna",
        "directPhone": "",
        "mobilePhone": "",
    }
