"""Per pair: validated rows, the plan per direction, and the sinks (one asset group per pair)."""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.

from datetime import UTC, datetime
from typing import Any

import dagster as dg

from sync_pipeline.core import ConflictPolicy, FieldMap, PairSpec, mass_change_verdict
from sync_pipeline.dagster_defs.extract_assets import SINGLE_RUN
from sync_pipeline.dagster_defs.io_manager import LatestValueIOManager
from sync_pipeline.dagster_defs.partitions import modification_date
from sync_pipeline.dagster_defs.resources import (
    SyncPolicy,
)
from sync_pipeline.dagster_defs.sink_assets import sink_assets
from sync_pipeline.sync.extract import Snapshot
from sync_pipeline.sync.pair_steps import (
    split_plan,
)
from sync_pipeline.sync.planning import LinkPlan, SideRows, plan_pair, side_rows


def _key(pair: PairSpec, name: str) -> dg.AssetKey:
    return dg.AssetKey([pair.name, name])


def _source_key(system: str, entity: str) -> dg.AssetKey:
    return dg.AssetKey([system, entity.lower()])


def rows_asset(pair: PairSpec, field_map: FieldMap, side: str) -> dg.AssetsDefinition:
    """`<pair>/<side>_rows`: mapped and pandera-validated; bad rows quarantined (blocking check)."""
    entity = pair.webcrm_entity if side == "webcrm" else pair.crmoffice_entity
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
    def rows(context: dg.AssetExecutionContext, snapshot: Snapshot, sync_policy: SyncPolicy) -> Any:
        value = side_rows(snapshot, pair, side, field_map)
        quarantined = value.frame.quarantined
        yield dg.Output(
            value,
            metadata={
                "dagster/row_count": len(value.frame.valid),
                "quarantined": len(quarantined),
                "bad_share": round(value.bad_share, 4),
            },
        )
        over = value.bad_share > sync_policy.max_bad_share
        yield dg.AssetCheckResult(
            check_name="valid_rows",
            passed=quarantined.empty,
            severity=dg.AssetCheckSeverity.ERROR if over else dg.AssetCheckSeverity.WARN,
            description=(
                f"{len(quarantined)} of {len(quarantined) + len(value.frame.valid)} rows "
                f"quarantined ({value.bad_share:.1%}; the sink stops above "
                f"{sync_policy.max_bad_share:.0%})"
            ),
            metadata={
                "quarantined": len(quarantined),
                "bad_share": round(value.bad_share, 4),
                "sample": dg.MetadataValue.md(
                    quarantined.head(10)[["record_id", "reason"]].to_markdown(index=False)
                    if not quarantined.empty
                    else "none"
                ),
            },
        )

    return rows


def _sharing_plans(pair: PairSpec, field_map: FieldMap) -> list[dg.AssetKey]:
    """Contacts are shared by two pairs: a pair that creates WebCRM records from a shared
    CRMOffice entity plans after the other pairs on it, and leaves alone the records their
    plans link or hold (a user's contact never spawns a person)."""
    if "to_webcrm" not in pair.creates:
        return []
    return [
        _key(other, "plan_links")
        for other in field_map.pairs.values()
        if other.name != pair.name and other.crmoffice_entity == pair.crmoffice_entity
    ]


def _claimed(io_manager: LatestValueIOManager, keys: list[dg.AssetKey]) -> set[str]:
    """CRMOffice ids the other pairs' latest plans claim (this run's, when they ran in it)."""
    plans = [io_manager.latest(key) for key in keys]
    return {i for p in plans if isinstance(p, LinkPlan) for i in p.plan.claimed_ids("crmoffice")}


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

    @dg.multi_asset(
        name=f"{pair.name}__plan",
        outs=outs,
        ins=ins,
        check_specs=[breaker],
        deps=_sharing_plans(pair, field_map),
        required_resource_keys={"link_store", "sync_policy", "io_manager"},
        partitions_def=modification_date,
        backfill_policy=SINGLE_RUN,
    )
    def plan(
        context: dg.AssetExecutionContext, webcrm_rows: SideRows, crmoffice_rows: SideRows
    ) -> Any:
        store = context.resources.link_store.store()
        sync_policy: SyncPolicy = context.resources.sync_policy
        policy = ConflictPolicy(tie_winner=sync_policy.tie_winner)  # type: ignore[arg-type]
        claimed = _claimed(context.resources.io_manager, _sharing_plans(pair, field_map))
        full = plan_pair(
            pair,
            webcrm_rows,
            crmoffice_rows,
            store,
            policy=policy,
            now=datetime.now(UTC),
            claimed_elsewhere=claimed,
        )
        to_crm, to_web, planned = split_plan(pair, full, store, webcrm_rows, crmoffice_rows)
        counts = full.counts()
        preview = dg.MetadataValue.md(full.preview_markdown())
        yield dg.Output(
            to_crm,
            output_name="plan_to_crmoffice",
            metadata={
                "creates": counts["creates_to_crmoffice"],
                "updates": counts["updates_to_crmoffice"],
                "dagster/row_count": len(to_crm.creates) + len(to_crm.updates),
                "preview": preview,
            },
        )
        yield dg.Output(
            to_web,
            output_name="plan_to_webcrm",
            metadata={
                "creates": counts["creates_to_webcrm"],
                "updates": counts["updates_to_webcrm"],
                "dagster/row_count": len(to_web.creates) + len(to_web.updates),
                "preview": preview,
            },
        )
        yield dg.Output(
            planned,
            output_name="plan_links",
            metadata={
                **{k: int(v) for k, v in counts.items()},
                "dagster/row_count": len(full.links),
                "preview": preview,
            },
        )
        verdict = mass_change_verdict(
            full,
            store.count_links(pair.name),
            max_share=sync_policy.max_update_share,
            min_updates=sync_policy.min_updates_for_breaker,
        )
        yield dg.AssetCheckResult(
            check_name="mass_change",
            asset_key=_key(pair, "plan_links"),
            passed=verdict.passed,
            description=verdict.message,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"share": round(verdict.share, 4)},
        )

    return plan


def pair_assets(pair: PairSpec, field_map: FieldMap) -> list[dg.AssetsDefinition]:
    """Everything of one pair, in its own group."""
    return [
        rows_asset(pair, field_map, "webcrm"),
        rows_asset(pair, field_map, "crmoffice"),
        plan_asset(pair, field_map),
        *sink_assets(pair, field_map),
    ]
