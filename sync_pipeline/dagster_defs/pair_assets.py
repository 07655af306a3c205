"""Per pair: the validated rows of each side and the plan (one asset group per pair)."""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.

from datetime import UTC, datetime
from typing import Any

import dagster as dg

from sync_pipeline import sync
from sync_pipeline.core import DIRECTIONS, FieldMap, PairPlan, PairSpec, Side
from sync_pipeline.dagster_defs.backfill_assets import backfill_asset
from sync_pipeline.dagster_defs.checks import (
    BREAKER_CHECK,
    GIVEN_UP_CHECK,
    HOLDS_CHECK,
    MISSED_CHECK,
    ROWS_CHECK,
    breaker_check,
    given_up_check,
    holds_check,
    missed_check,
    rows_check,
)
from sync_pipeline.dagster_defs.keys import plan_key, rows_key, source_key
from sync_pipeline.dagster_defs.resources import (
    CrmofficeResource,
    LinkStoreResource,
    SyncPolicy,
    WebcrmResource,
)
from sync_pipeline.dagster_defs.sink_assets import sink_assets
from sync_pipeline.dagster_defs.targeted_assets import targeted_asset

SHARED_PLANS = "same_run_values"
_PLAN_DESCRIPTIONS = {
    "to_crmoffice": "The plan's creates and updates to write to CRMOffice: each row a record, "
    "the fields to write and the agreed values. A dry run stops here.",
    "to_webcrm": "The plan's creates and updates to write to WebCRM: each row a record, the "
    "fields to write and the agreed values. A dry run stops here.",
    "links": "The plan's link-only actions (records matched or adopted, shadows that move "
    "because both sides agree, orphans) and what is held back. The metadata holds the "
    "plan's counts and sample rows of every section.",
}


def rows_asset(pair: PairSpec, field_map: FieldMap, side: Side) -> dg.AssetsDefinition:
    """`<pair>/<side>_rows`: mapped and pandera-validated; bad rows quarantined (blocking check)."""
    entity = pair.entity(side)
    key = rows_key(pair, side)
    check = dg.AssetCheckSpec(
        ROWS_CHECK,
        asset=key,
        blocking=True,
        description="Rows that fail the field map's schema are quarantined. Warns on any; "
        "stops the pair's sinks when they pass the bad-row share (default 10 % of the rows "
        "read or of the pair's links, whichever is more).",
    )

    @dg.asset(
        key=key,
        group_name=pair.name,
        check_specs=[check],
        kinds={"pandas", "pandera"},
        ins={"snapshot": dg.AssetIn(source_key(side, entity))},
        description=f"{entity} read by this run, mapped to {pair.name}'s fields, normalised "
        "and validated (pandera); rows that fail are quarantined with their reason.",
    )
    def rows(
        context: dg.AssetExecutionContext,
        snapshot: Any,
        link_store: LinkStoreResource,
        sync_policy: SyncPolicy,
    ) -> Any:
        value = sync.side_rows(snapshot, pair, side, field_map, link_store.store())
        metadata = {
            "dagster/row_count": len(value.frame.valid),
            "quarantined": len(value.frame.quarantined),
        }
        yield dg.Output(value, metadata=metadata)
        yield rows_check(value, sync_policy)

    return rows


def _plan_table(plan: PairPlan) -> dg.MetadataValue:
    """The counts as a table: one row per action (and direction, where it has one)."""
    counts = plan.counts()
    rows: list[tuple[str, str, int]] = [
        (kind, d, counts[f"{kind}_{d}"]) for kind in ("creates", "updates") for d in DIRECTIONS
    ]
    rows += [
        (name, "both", counts[name])
        for name in ("conflicts", "matches", "adopts", "shadow_moves", "orphans", "held")
    ]
    records = [dg.TableRecord({"action": a, "direction": d, "count": n}) for a, d, n in rows]
    columns = [
        dg.TableColumn("action", "string"),
        dg.TableColumn("direction", "string"),
        dg.TableColumn("count", "int"),
    ]
    return dg.MetadataValue.table(records, dg.TableSchema(columns))


def _plan_outputs(planned: sync.PlannedPair) -> list[dg.Output[Any]]:
    """The three plan assets with their counts, the plan table and sample rows."""
    counts = planned.plan.counts()
    shared: dict[str, Any] = {
        "plan": _plan_table(planned.plan),
        "preview": dg.MetadataValue.md(planned.plan.preview_markdown()),
    }
    outputs: list[dg.Output[Any]] = [
        dg.Output(
            plan,
            output_name=f"plan_{plan.direction}",
            metadata={
                "creates": counts[f"creates_{plan.direction}"],
                "updates": counts[f"updates_{plan.direction}"],
                "dagster/row_count": len(plan.creates) + len(plan.updates),
                **shared,
            },
        )
        for plan in (planned.to_crmoffice, planned.to_webcrm)
    ]
    check = planned.orphan_check
    metadata = {
        **counts,
        "orphan_candidates": check.candidates,
        "orphans_found_alive": len(check.found),
        "reactivated": len(planned.links.reactivated),
        "dagster/row_count": len(planned.plan.links),
        **shared,
    }
    return [*outputs, dg.Output(planned.links, output_name="plan_links", metadata=metadata)]


def plan_asset(pair: PairSpec, field_map: FieldMap) -> dg.AssetsDefinition:
    """`<pair>/plan_*`: the three-way diff per direction plus link-only actions (the dry run)."""
    outs = {
        f"plan_{name}": dg.AssetOut(
            key=plan_key(pair, name),
            group_name=pair.name,
            kinds={"pandas"},
            description=_PLAN_DESCRIPTIONS[name],
        )
        for name in ("to_crmoffice", "to_webcrm", "links")
    }
    breaker = dg.AssetCheckSpec(
        BREAKER_CHECK,
        asset=plan_key(pair, "links"),
        blocking=True,
        description="Stops the pair's sinks when the run would update or orphan more than the "
        "allowed share of its linked records (default 20 %, and at least 25 of them); an "
        "initial load is never a mass change.",
    )
    given_up = dg.AssetCheckSpec(
        GIVEN_UP_CHECK,
        asset=plan_key(pair, "links"),
        description="Warns while records' writes were given up on (refused on every try up "
        "to the cap); they wait in quarantine until someone edits them.",
    )
    holds = dg.AssetCheckSpec(
        HOLDS_CHECK,
        asset=plan_key(pair, "links"),
        description="Warns while records are held for an operator (ambiguous matches...): "
        "`sync-pipeline holds list` shows them, `holds resolve` settles them.",
    )
    missed = dg.AssetCheckSpec(
        MISSED_CHECK,
        asset=plan_key(pair, "links"),
        description="On a full run after incremental ones: how many changes it writes that "
        "were made before the incremental cursors (the incremental runs missed them; 0 "
        "expected). Warns on any.",
    )
    sharing = sync.sharing_pairs(pair, field_map)
    ins = {f"{side}_rows": dg.AssetIn(rows_key(pair, side)) for side in ("webcrm", "crmoffice")}
    ins |= {
        f"{other.name}_plan": dg.AssetIn(plan_key(other, "links"), input_manager_key=SHARED_PLANS)
        for other in sharing
    }

    @dg.multi_asset(
        name=f"{pair.name}__plan",
        outs=outs,
        ins=ins,
        check_specs=[breaker, given_up, holds, missed],
        description=f"Three-way diff of {pair.name} against the link store's shadows.",
    )
    def plan(
        context: dg.AssetExecutionContext,
        link_store: LinkStoreResource,
        sync_policy: SyncPolicy,
        webcrm: WebcrmResource,
        crmoffice: CrmofficeResource,
        **rows_and_plans: Any,
    ) -> Any:
        claimed = {
            record_id
            for other in sharing
            if (value := rows_and_plans[f"{other.name}_plan"]) is not None
            for record_id in value.plan.claimed_ids("crmoffice")
        }
        planned = sync.plan_pair(
            pair,
            field_map,
            rows_and_plans["webcrm_rows"],
            rows_and_plans["crmoffice_rows"],
            link_store.store(),
            run_id=context.run.run_id,
            now=datetime.now(UTC),
            claimed_elsewhere=claimed,
            lookups={"webcrm": webcrm.client(), "crmoffice": crmoffice.client()},
        )
        if planned.orphan_check.found:
            found = ", ".join(planned.orphan_check.found[:20])
            context.log.warning(f"{pair.name}: missing from the full read but found by id: {found}")
        sides: dict[Side, sync.SideRows] = {
            "webcrm": rows_and_plans["webcrm_rows"],
            "crmoffice": rows_and_plans["crmoffice_rows"],
        }
        yield from _plan_outputs(planned)
        yield breaker_check(pair, planned.plan, planned.linked, sync_policy)
        yield given_up_check(pair, planned)
        yield holds_check(pair, planned)
        yield missed_check(pair, sync.missed_by_incremental(planned, sides))

    return plan


def pair_assets(pair: PairSpec, field_map: FieldMap) -> list[dg.AssetsDefinition]:
    """Everything of one pair, in its own group."""
    return [
        rows_asset(pair, field_map, "webcrm"),
        rows_asset(pair, field_map, "crmoffice"),
        plan_asset(pair, field_map),
        *sink_assets(pair, field_map),
        backfill_asset(pair, field_map, SHARED_PLANS),
        targeted_asset(pair, field_map, SHARED_PLANS),
    ]
