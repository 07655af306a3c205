"""The mass-change breaker: stop the sink when a run would update or orphan too many linked
records (a mass orphaning is as suspect as a mass update: a wrong tenant, a read gone wrong)."""

from __future__ import annotations

import pandas as pd

from sync_pipeline.core.pairplan import PairPlan
from sync_pipeline.core.types import DIRECTIONS, Verdict

DEFAULT_MAX_SHARE = 0.2
# A share means little on a handful of links (1 edit of 3 links is 33%): below this many
# updates the breaker never trips.
DEFAULT_MIN_UPDATES = 25


def updated_link_count(plan: PairPlan) -> int:
    """Existing links the plan updates, each counted once whatever the direction(s); links
    the plan itself creates (match/adopt) are not pre-existing and do not count."""
    keys = ["webcrm_id", "crmoffice_id"]
    updated = pd.concat([plan.updates[d][keys] for d in DIRECTIONS], ignore_index=True)
    new = plan.links.loc[plan.links["action"].isin(["match", "adopt"]), keys]
    updated = updated.drop_duplicates()
    if len(new):
        merged = updated.merge(new.drop_duplicates(), on=keys, how="left", indicator=True)
        updated = merged[merged["_merge"] == "left_only"]
    return len(updated)


def mass_change_verdict(
    plan: PairPlan,
    linked_count: int,
    max_share: float = DEFAULT_MAX_SHARE,
    min_updates: int = DEFAULT_MIN_UPDATES,
) -> Verdict:
    """Fails when the share of linked records updated or orphaned passes `max_share` and the
    run changes at least `min_updates` of them; an initial load (nothing linked yet) always
    passes."""
    updated = updated_link_count(plan)
    orphaned = len(plan.orphans)
    changed = updated + orphaned
    if linked_count <= 0:
        return Verdict(True, 0.0, f"initial load: nothing linked yet, {updated} updates")
    share = changed / linked_count
    passed = share <= max_share or changed < min_updates
    verdict = "within" if passed else "over"
    orphans = f", {orphaned} orphaned" if orphaned else ""
    message = (
        f"{plan.pair}: {updated} of {linked_count} linked records would be updated{orphans} "
        f"({share:.1%}), {verdict} the {max_share:.0%} mass-change limit"
    )
    return Verdict(passed, share, message)
