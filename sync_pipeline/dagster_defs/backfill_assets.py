"""Per pair, `<pair>/backfill`: the pair re-synced over the days picked in the backfill dialog.

The only partitioned assets (daily, on record modification date, one run per range): their
partition status says exactly which days were re-synced. One step runs the pair's whole chain
(`sync.sync_pair`) with the same guards as the graph; the counts are in its metadata.
"""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.
from collections.abc import Callable
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


StepBody = Callable[[dg.AssetExecutionContext, dict[str, Any]], dg.Output[Any]]


def pair_step_asset(
    pair: PairSpec,
    field_map: FieldMap,
    name: str,
    shared_plans: str,
    body: StepBody,
    *,
    description: str,
    partitions_def: dg.PartitionsDefinition | None = None,
    backfill_policy: dg.BackfillPolicy | None = None,
) -> dg.AssetsDefinition:
    """A one-step pair asset (`<pair>/backfill`, `<pair>/targeted`): key `<pair>/<name>`, the
    pair's group and pool, and an input from the same asset of each pair sharing its contacts
    (read through `shared_plans`: present only when that asset ran in the same run), so it runs
    after them. `body(context, others)` gets those inputs by name."""

    @dg.asset(
        key=pair_key(pair, name),
        group_name=pair.name,
        pool=f"sync_{pair.name}",
        partitions_def=partitions_def,
        backfill_policy=backfill_policy,
        kinds={"webcrm", "crmoffice"},
        ins={
            f"{o.name}_{name}": dg.AssetIn(pair_key(o, name), input_manager_key=shared_plans)
            for o in sync.sharing_pairs(pair, field_map)
        },
        required_resource_keys={"webcrm", "crmoffice", "link_store", "sync_policy"},
        description=description,
    )
    def step(context: dg.AssetExecutionContext, **others: Any) -> dg.Output[Any]:
        return body(context, others)

    return step


def backfill_asset(pair: PairSpec, field_map: FieldMap, shared_plans: str) -> dg.AssetsDefinition:
    """`<pair>/backfill`, after the backfills of the pairs sharing its contacts (if selected)."""

    def backfill(context: dg.AssetExecutionContext, others: dict[str, Any]) -> dg.Output[Any]:
        return run_pair_step(context, pair, field_map, others, partition_window(context))

    return pair_step_asset(
        pair,
        field_map,
        BACKFILL,
        shared_plans,
        backfill,
        partitions_def=modification_date,
        backfill_policy=SINGLE_RUN,
        description=f"Re-syncs {pair.name} for the records modified on the picked days, both "
        "ways, in one step with the same guards as the sync graph (launch a backfill over "
        "a date range; the partitions filled are the days re-synced).",
    )
