"""Per pair: validated rows, the plan per direction, and the sinks (one asset group per pair)."""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.

from datetime import UTC, datetime
from typing import Any

import dagster as dg

from sync_pipeline.core import (
    FieldMap,
    PairPlan,
    PairSpec,
    Side,
    mass_change_verdict,
)
from sync_pipeline.dagster_defs.extract_assets import SINGLE_RUN
from sync_pipeline.dagster_defs.io_manager import RunValuesIOManager
from sync_pipeline.dagster_defs.partitions import modification_date
from sync_pipeline.dagster_defs.resources import LinkStoreResource, SyncPolicy
from sync_pipeline.dagster_defs.sink_assets import sink_assets
from sync_pipeline.sync.extract import Snapshot
from sync_pipeline.sync.pair_steps import split_plan
from sync_pipeline.sync.planning import DirectionPlan, LinkPlan, SideRows, plan_pair, side_rows


def _key(pair: PairSpec, name: str) -> dg.AssetKey:
    return dg.AssetKey([pair.name, name])


def _source_key(system: str, entity: str) -> dg.AssetKey:
    return dg.AssetKey([system, entity.lower()])


def _rows_check(rows: SideRows, linked: int, max_bad_share: float) -> dg.AssetCheckResult:
    """WARN on any quarantined row; ERROR (the pair's sinks stop) above the threshold.

    The share is taken over the rows read or, when more, the pair's linked records: one bad
    row in a small incremental window must not stop a pair of thousands of links.
    """
    quarantined = rows.frame.quarantined
    read = len(quarantined) + len(rows.frame.valid)
    share = len(quarantined) / max(read, linked, 1)
    sample = quarantined.head(10)[["record_id", "reason"]].to_markdown(index=False)
    return dg.AssetCheckResult(
        check_name="valid_rows",
        passed=quarantined.empty,
        severity=dg.AssetCheckSeverity.ERROR
        if share > max_bad_share
        else dg.AssetCheckSeverity.WARN,
        description=(
            f"{len(quarantined)} of {read} rows read quarantined ({share:.1%} of "
            f"max(rows read, {linked} linked); the sink stops above {max_bad_share:.0%})"
        ),
        metadata={
            "quarantined": len(quarantined),
            "bad_share": round(share, 4),
            "sample": dg.MetadataValue.md(sample if not quarantined.empty else "none"),
        },
    )


def rows_asset(pair: PairSpec, field_map: FieldMap, side: Side) -> dg.AssetsDefinition:
    """`<pair>/<side>_rows`: mapped and pandera-validated; bad rows quarantined (blocking check)."""
    entity = pair.entity(side)
    key = _key(pair, f"{side}_rows")
    check = dg.AssetCheckSpec(
        "valid_rows",
        asset=key,
        blocking=True,
        description="Share of quarantined rows stays under the threshold.",
    )

    @dg.asset(
        key=key,
        group_name=pair.name,
        check_specs=[check],
        kinds={"pandas", "pandera"},
        ins={"snapshot": dg.AssetIn(_source_key(side, entity))},
        partitions_def=modification_date,
        backfill_policy=SINGLE_RUN,
        description=f"{entity} mapped to {pair.name}'s fields and validated; bad rows quarantined.",
    )
    def rows(
        context: dg.AssetExecutionContext,
        snapshot: Snapshot,
        link_store: LinkStoreResource,
        sync_policy: SyncPolicy,
    ) -> Any:
        value = side_rows(snapshot, pair, side, field_map)
        metadata = {
            "dagster/row_count": len(value.frame.valid),
            "quarantined": len(value.frame.quarantined),
        }
        yield dg.Output(value, metadata=metadata)
        linked = link_store.store().count_links(pair.name)
        yield _rows_check(value, linked, sync_policy.max_bad_share)

    return rows


def _sharing_plans(pair: PairSpec, field_map: FieldMap) -> list[PairSpec]:
    """Contacts are shared by two pairs: a pair that creates WebCRM records from a shared
    CRMOffice entity plans after the other pairs on it, and leaves alone the records they
    link, hold or may have created (a user's contact never spawns a person)."""
    if "to_webcrm" not in pair.creates:
        return []
    return [
        other
        for other in field_map.pairs.values()
        if other.name != pair.name and other.crmoffice_entity == pair.crmoffice_entity
    ]


def _claimed(context: dg.AssetExecutionContext, others: list[PairSpec]) -> set[str]:
    """CRMOffice ids the other pairs' plans of this same run claim (none if they did not run)."""
    io_manager: RunValuesIOManager = context.resources.io_manager
    plans = [io_manager.value(context.run.run_id, _key(o, "plan_links")) for o in others]
    return {i for p in plans if isinstance(p, LinkPlan) for i in p.plan.claimed_ids("crmoffice")}


def _plan_outputs(
    full: PairPlan, to_crm: DirectionPlan, to_web: DirectionPlan, planned: LinkPlan
) -> list[dg.Output[Any]]:
    """The three plan assets with their counts and a markdown preview of sample rows."""
    counts = full.counts()
    preview = dg.MetadataValue.md(full.preview_markdown())
    outputs = [
        dg.Output(
            plan,
            output_name=f"plan_{plan.direction}",
            metadata={
                "creates": counts[f"creates_{plan.direction}"],
                "updates": counts[f"updates_{plan.direction}"],
                "dagster/row_count": len(plan.creates) + len(plan.updates),
                "preview": preview,
            },
        )
        for plan in (to_crm, to_web)
    ]
    links_metadata: dict[str, Any] = {
        **counts,
        "dagster/row_count": len(full.links),
        "preview": preview,
    }
    return [*outputs, dg.Output(planned, output_name="plan_links", metadata=links_metadata)]


def _breaker(
    pair: PairSpec, full: PairPlan, linked: int, policy: SyncPolicy
) -> dg.AssetCheckResult:
    verdict = mass_change_verdict(
        full, linked, max_share=policy.max_update_share, min_updates=policy.min_updates_for_breaker
    )
    return dg.AssetCheckResult(
        check_name="mass_change",
        asset_key=_key(pair, "plan_links"),
        passed=verdict.passed,
        description=verdict.message,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"share": round(verdict.share, 4)},
    )


def plan_asset(pair: PairSpec, field_map: FieldMap) -> dg.AssetsDefinition:
    """`<pair>/plan_*`: the three-way diff per direction plus link-only actions (the dry run)."""
    outs = {
        name: dg.AssetOut(key=_key(pair, name), group_name=pair.name, kinds={"pandas"})
        for name in ("plan_to_crmoffice", "plan_to_webcrm", "plan_links")
    }
    breaker = dg.AssetCheckSpec(
        "mass_change",
        asset=_key(pair, "plan_links"),
        blocking=True,
        description="Stops the sinks if a run would update too many links.",
    )
    ins = {
        "webcrm_rows": dg.AssetIn(_key(pair, "webcrm_rows")),
        "crmoffice_rows": dg.AssetIn(_key(pair, "crmoffice_rows")),
    }
    sharing = _sharing_plans(pair, field_map)

    @dg.multi_asset(
        name=f"{pair.name}__plan",
        outs=outs,
        ins=ins,
        check_specs=[breaker],
        deps=[_key(other, "plan_links") for other in sharing],
        required_resource_keys={"link_store", "sync_policy", "io_manager"},
        partitions_def=modification_date,
        backfill_policy=SINGLE_RUN,
    )
    def plan(
        context: dg.AssetExecutionContext, webcrm_rows: SideRows, crmoffice_rows: SideRows
    ) -> Any:
        store = context.resources.link_store.store()
        policy: SyncPolicy = context.resources.sync_policy
        full = plan_pair(
            pair,
            webcrm_rows,
            crmoffice_rows,
            store,
            now=datetime.now(UTC),
            sharing=sharing,
            claimed_elsewhere=_claimed(context, sharing),
        )
        run_id = context.run.run_id
        yield from _plan_outputs(full, *split_plan(pair, full, webcrm_rows, crmoffice_rows, run_id))
        yield _breaker(pair, full, store.count_links(pair.name), policy)

    return plan


def pair_assets(pair: PairSpec, field_map: FieldMap) -> list[dg.AssetsDefinition]:
    """Everything of one pair, in its own group."""
    return [
        rows_asset(pair, field_map, "webcrm"),
        rows_asset(pair, field_map, "crmoffice"),
        plan_asset(pair, field_map),
        *sink_assets(pair, field_map),
    ]
