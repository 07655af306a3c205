"""Jobs and schedules: incremental every 15 minutes, a full resync, and dry runs."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from sync_pipeline.core import SIDES, FieldMap
from sync_pipeline.dagster_defs.keys import plan_keys, source_key
from sync_pipeline.dagster_defs.partitions import MODE_TAG


def pair_selection(
    field_map: FieldMap, pairs: Sequence[str], *, dry_run: bool
) -> dg.AssetSelection:
    """The pairs' groups (only up to their plans for a dry run) and the sources they read."""
    selected = [field_map.pairs[name] for name in pairs]
    if dry_run:
        keys = [key for p in selected for key in plan_keys(p)]
        groups: dg.AssetSelection = dg.AssetSelection.assets(*keys)
    else:
        groups = dg.AssetSelection.groups(*(p.name for p in selected))
    sources = dg.AssetSelection.assets(
        *{source_key(side, p.entity(side)) for p in selected for side in SIDES}
    )
    return groups | sources


def sync_jobs(field_map: FieldMap) -> list[dg.UnresolvedAssetJobDefinition]:
    """`incremental_sync`, `full_resync`, `dry_run` over every pair, and `sync_window` for
    backfills (no mode tag: the partitions picked in the UI are the window)."""
    every_pair = pair_selection(field_map, list(field_map.pairs), dry_run=False)
    plans_only = pair_selection(field_map, list(field_map.pairs), dry_run=True)
    return [
        dg.define_asset_job(
            "incremental_sync",
            selection=every_pair,
            tags={MODE_TAG: "incremental"},
            description="Changes since each pair's cursor (with an overlap), both ways.",
        ),
        dg.define_asset_job(
            "full_resync",
            selection=every_pair,
            tags={MODE_TAG: "full"},
            description="Reads everything: finds drift and marks orphaned links. "
            "The partition picked is ignored.",
        ),
        dg.define_asset_job(
            "dry_run",
            selection=plans_only,
            tags={MODE_TAG: "incremental"},
            description="Plans every pair without writing anything: read the plan assets.",
        ),
        dg.define_asset_job(
            "sync_window",
            selection=every_pair,
            description="Re-syncs exactly the records modified in the picked partitions "
            "(a backfill over a date range).",
        ),
    ]


def _today_partition(context: dg.ScheduleEvaluationContext) -> str:
    """The partition of the tick's day; the incremental read itself follows the cursor."""
    return context.scheduled_execution_time.strftime("%Y-%m-%d")


@dg.schedule(
    cron_schedule="*/15 * * * *",
    job_name="incremental_sync",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Incremental two-way sync every 15 minutes.",
)
def incremental_every_15_minutes(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """One incremental run per tick."""
    return dg.RunRequest(partition_key=_today_partition(context), tags={MODE_TAG: "incremental"})


@dg.schedule(
    cron_schedule="0 3 * * *",
    job_name="full_resync",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Nightly full resync: drift and orphan detection.",
)
def nightly_full_resync(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """One full run per night."""
    return dg.RunRequest(partition_key=_today_partition(context), tags={MODE_TAG: "full"})


SCHEDULES = [incremental_every_15_minutes, nightly_full_resync]
