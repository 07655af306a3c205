"""Standing holds in the plan: held records are never created or auto-linked, yet weigh as
candidates; an operator's answers are acted on (issue 9, kind 7)."""

from __future__ import annotations

import pandas as pd

from sync_pipeline.core import PairPlan, StandingHolds
from sync_pipeline.core.frames import str_frame
from sync_pipeline_tests.core.test_plan_links import PERSONS
from sync_pipeline_tests.core.world import World

OLE = {"givenName": "Ole", "familyName": "Hansen", "mobilePhone": "+4527272727"}


def _held(*records: tuple[str, str]) -> StandingHolds:
    sides, ids = zip(*records, strict=True)
    frame = str_frame(
        {
            "side": list(sides),
            "id": list(ids),
            "reason": ["ambiguous match"] * len(ids),
            "kind": ["ambiguous_match"] * len(ids),
        }
    )
    return StandingHolds(held=frame)


def _nothing_done(plan: PairPlan) -> bool:
    counts = plan.counts()
    return counts["creates_to_crmoffice"] == counts["creates_to_webcrm"] == counts["matches"] == 0


def test_a_held_record_alone_in_a_window_is_neither_created_nor_matched() -> None:
    """A held person whose twin and contact are not in the frames is still not created."""
    w = World(PERSONS)
    w.put("webcrm", "1", **OLE)
    plan = w.plan(
        complete=False, standing=_held(("webcrm", "1"), ("webcrm", "2"), ("crmoffice", "c1"))
    )
    assert _nothing_done(plan)
    assert ("webcrm", "1") in set(zip(plan.held["side"], plan.held["id"], strict=True))


def test_a_record_sharing_a_held_records_key_is_held_too() -> None:
    """A new contact whose key equals a held person's is held, not linked to it."""
    w = World(PERSONS)
    w.put("webcrm", "1", **OLE)
    w.put("crmoffice", "c9", **OLE)
    plan = w.plan(complete=False, standing=_held(("webcrm", "1")))
    assert _nothing_done(plan)
    reasons = dict(zip(plan.held["id"], plan.held["reason"], strict=True))
    assert "held webcrm record 1" in str(reasons["c9"])


def test_operator_answers_link_create_and_ignore() -> None:
    """An approved link is made (as a match), an approved create is created, an ignored
    record is neither created nor a candidate."""
    w = World(PERSONS)
    for record_id in ("1", "2", "3"):
        w.put("webcrm", record_id, **OLE)
    w.put("crmoffice", "c1", **OLE)
    standing = StandingHolds(
        held=_held(("webcrm", "9")).held.iloc[0:0],
        links=pd.DataFrame({"webcrm_id": ["1"], "crmoffice_id": ["c1"]}, dtype="str"),
        creates={"webcrm": frozenset({"2"}), "crmoffice": frozenset()},
        ignored={"webcrm": frozenset({"3"}), "crmoffice": frozenset()},
    )
    plan = w.plan(standing=standing)
    matched = plan.links[plan.links["action"] == "match"]
    assert matched[["webcrm_id", "crmoffice_id"]].values.tolist() == [["1", "c1"]]
    assert plan.creates["to_crmoffice"]["source_id"].tolist() == ["2"]
    assert plan.held.empty
