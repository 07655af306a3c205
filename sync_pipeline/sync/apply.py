"""Applying a pair's plan, step one: quarantine bookkeeping and the link-only actions (no API
request). The writes of each direction follow in `apply_direction.py`.

Every write is followed by its store update as soon as it succeeds (per record for CRMOffice,
per bulk chunk for WebCRM), so a crash loses at most the in-flight requests — and those are
covered by the create intents recorded before them. A create whose outcome is unknown (the
connection dropped) keeps its intent open: the next plan adopts the record if it was made.
Failures are keyed by the source record of the direction (WebCRM id for `to_crmoffice`,
CRMOffice id for `to_webcrm`), as the store settles them. A conflict is written to the link's
history by the write that resolves it.
"""

from __future__ import annotations

import pandas as pd

from sync_pipeline.core import PairPlan, PairSpec
from sync_pipeline.store import Fence, LinkStore, LinkWrite, ShadowWrite
from sync_pipeline.sync.crashpoints import crash_point
from sync_pipeline.sync.plans import LinkPlan, SideRows
from sync_pipeline.sync.sink import ApplyReport, values_of


def apply_links_step(
    pair: PairSpec,
    planned: LinkPlan,
    webcrm: SideRows,
    crmoffice: SideRows,
    store: LinkStore,
    run_id: str,
) -> ApplyReport:
    """Quarantine bookkeeping, orphaned links seen again made active, the link-only actions,
    then the holds (kept until an operator resolves them; those of records linked now are
    settled), under the pair lock.

    Raises `StalePlanError` / `PairLockedError` (see `PairRun.writing`) before any write, and
    `LeaseLostError` at the first write after another run took the pair over.
    """
    with planned.run.writing(store, run_id) as lock:
        fence = lock.fence
        sides = {
            str(rows.side): (rows.frame.quarantined, list(rows.frame.valid["id"]))
            for rows in (webcrm, crmoffice)
        }
        store.settle_quarantine(pair.name, sides, run_id, fence=fence)
        if planned.reactivated:
            store.reactivate_links(pair.name, planned.reactivated, run_id, fence=fence)
        report = apply_links(pair, planned.plan, store, run_id, fence)
        if planned.holds or planned.settled:
            store.save_holds(pair.name, planned.holds, planned.settled, run_id, fence=fence)
        return report


def apply_links(
    pair: PairSpec, plan: PairPlan, store: LinkStore, run_id: str, fence: Fence | None = None
) -> ApplyReport:
    """Matches, adoptions, shadow moves, orphans and dead intents: no API request; each store
    write fenced by `fence` (the pair lease) when given."""
    report = ApplyReport(pair.name, "links")
    names = list(pair.field_names)
    new = plan.links[plan.links["action"].isin(["match", "adopt"])]
    writes = [
        LinkWrite(
            str(r["webcrm_id"]),
            str(r["crmoffice_id"]),
            values_of(r, names),
            r["action"],
            None,
            None if pd.isna(r["intent_id"]) else int(r["intent_id"]),
        )
        for r in new.to_dict("records")
    ]
    if writes:
        for outcome in store.add_links(
            pair.name, pair.crmoffice_entity, writes, run_id, fence=fence
        ):
            if outcome.ok:
                report.linked += 1
            else:
                report.fail(outcome.webcrm_id, outcome.reason)
    moves = plan.links[plan.links["action"] == "shadow_move"]
    shadow_writes = [
        ShadowWrite(str(r["webcrm_id"]), values_of(r, names), "shadow_move")
        for r in moves.to_dict("records")
    ]
    if shadow_writes:
        store.update_shadows(pair.name, shadow_writes, run_id, fence=fence)
    if not plan.orphans.empty:
        rows = [
            (str(r["webcrm_id"]), str(r["crmoffice_id"]), str(r["missing_side"]))
            for r in plan.orphans.to_dict("records")
        ]
        report.orphaned = store.mark_orphaned(pair.name, rows, run_id, fence=fence)
    if len(plan.intents_not_applied):
        dead = [int(i) for i in plan.intents_not_applied["intent_id"]]
        store.close_intents(dead, "not_applied", fence=fence)
    crash_point("after_links")
    return report
