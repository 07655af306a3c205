"""Per pair, `<pair>/backfill`: the pair re-synced over the days picked in the backfill dialog.

The only partitioned assets (daily, on record modification date, one run per range): their
partition status says exactly which days were re-synced. One step runs the pair's whole chain
(`sync.sync_pair`) with the same guards as the graph; the counts are in its metadata.
"""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.
from typing import Any

import dagster as dg

from sync_pipeline import sync
from sync_pipeline.core import FieldMap, PairSpec
from sync_pipeline.dagster_defs.keys import pair_key
from sync_pipeline.dagster_defs.partitions import SINGLE_RUN, modification_date, partition_window
from sync_pipeline.dagster_defs.resources import SyncPolicy

BACKFILL = "backfill"


def request_of(
    policy: SyncPolicy, window: Any, claimed: set[str], ids: Any = None
) -> sync.PairSyncRequest:
    """A window run of the pair (a backfill), or with `ids` per side a targeted run, under the
    deployment's `SyncPolicy`."""
    return sync.PairSyncRequest(
        mode="window",
        window=window,
        ids=ids,
        safeguards=sync.Safeguards(
            policy.max_bad_share,
            policy.max_update_share,
            policy.min_updates_for_breaker,
            policy.max_failure_attempts,
        ),
        claimed_elsewhere=frozenset(claimed),
    )


def run_pair_step(
    context: dg.AssetExecutionContext,
    pair: PairSpec,
    field_map: FieldMap,
    others: dict[str, Any],
    window: Any,
    ids: Any = None,
) -> dg.Output[Any]:
    """The body of a one-step pair asset (`backfill`, `targeted`): the whole pair through
    `sync.sync_pair`, leaving the CRMOffice records the other pairs' reports (`others`, the
    asset's inputs; None when not in the run) claimed; the report as output, its counts as
    metadata."""
    resources = context.resources
    claimed = {
        record_id
        for other in others.values()
        if other is not None and other.planned is not None
        for record_id in other.planned.plan.claimed_ids("crmoffice")
    }
    report = sync.sync_pair(
        pair,
        field_map,
        sync.Clients(resources.webcrm.client(), resources.crmoffice.client()),
        resources.link_store.store(),
        context.run.run_id,
        request_of(resources.sync_policy, window, claimed, ids=ids),
        log=context.log.info,
    )
    return dg.Output(report, metadata=metadata_of(report))


def metadata_of(report: sync.PairSyncReport) -> dict[str, Any]:
    """Counts per sink step, quarantined rows and the plan's preview."""
    counts: dict[str, Any] = {"quarantined": report.quarantined}
    for name, applied in report.applied.items():
        counts |= {f"{key}_{name}": value for key, value in applied.counts().items() if value}
    if report.planned is not None:
        counts["preview"] = dg.MetadataValue.md(report.planned.plan.preview_markdown())
    return counts


def backfill_asset(pair: PairSpec, field_map: FieldMap, shared_plans: str) -> dg.AssetsDefinition:
    """`<pair>/backfill`, after the backfills of the pairs sharing its contacts (if selected)."""
    sharing = sync.sharing_pairs(pair, field_map)

    @dg.asset(
        key=pair_key(pair, BACKFILL),
        group_name=pair.name,
        pool=f"sync_{pair.name}",
        partitions_def=modification_date,
        backfill_policy=SINGLE_RUN,
        kinds={"webcrm", "crmoffice"},
        ins={
            f"{o.name}_backfill": dg.AssetIn(pair_key(o, BACKFILL), input_manager_key=shared_plans)
            for o in sharing
        },
        required_resource_keys={"webcrm", "crmoffice", "link_store", "sync_policy"},
        description=f"Re-syncs {pair.name} for the records modified on the picked days, both "
        "ways, in one step with the same guards as the sync graph (launch a backfill over "
        "a date range; the partitions filled are the days re-synced).",
    )
    def backfill(context: dg.AssetExecutionContext, **others: Any) -> dg.Output[Any]:
        return run_pair_step(context, pair, field_map, others, partition_window(context))

    return backfill
