"""Issue 9 kind 6: clock skew must not decide a conflict (core part: the tie window)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sync_pipeline_tests.core.maps import sandbox_field_map
from sync_pipeline_tests.core.world import World


@pytest.fixture
def world() -> World:
    """One person linked to one contact, both 'Anne'."""
    w = World(sandbox_field_map().pairs["persons_contacts"])
    w.put("webcrm", "1", givenName="Anne", familyName="Hansen")
    w.put("crmoffice", "c1", givenName="Anne", familyName="Hansen")
    w.link("1", "c1")
    return w


@pytest.mark.parametrize(
    ("crm_later_seconds", "winner", "rule"),
    [(5.0, "crmoffice", "newest"), (1.5, "webcrm", "clock_tie"), (0.0, "webcrm", "tie")],
)
def test_edits_closer_than_the_clock_uncertainty_are_a_flagged_tie(
    world: World, crm_later_seconds: float, winner: str, rule: str
) -> None:
    """With clocks known to ±2 s, edits 1.5 s apart are a tie (the policy's side, WebCRM, wins,
    ruled `clock_tie`); 5 s apart the newer wins; equal times are a plain tie."""
    world.put("webcrm", "1", givenName="Anna")
    world.put("crmoffice", "c1", givenName="Annie")
    at = world.webcrm["1"].updated_at + timedelta(seconds=crm_later_seconds)
    world.crmoffice["c1"].updated_at = at
    plan = world.plan(tie_within_seconds=2.0)
    assert plan.conflicts[["winner", "rule"]].values.tolist() == [[winner, rule]]
