"""Jobs and schedules: incremental every 15 minutes, a full resync, and dry runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dagster as dg

from sync_pipeline.core import SIDES, FieldMap
from sync_pipeline.dagster_defs.backfill_assets import BACKFILL
from sync_pipeline.dagster_defs.keys import graph_keys, pair_key, plan_keys, source_key
from sync_pipeline.dagster_defs.partitions import MODE_TAG


def pair_selection(
    field_map: FieldMap, pairs: Sequence[str], *, dry_run: bool = False, backfill: bool = False
) -> dg.AssetSelection:
    """The pairs' sync graphs (only up to their plans for a dry run) with the sources they
    read, or, for a `backfill`, the pairs' backfill assets."""
    selected = [field_map.pairs[name] for name in pairs]
    if backfill:
        return dg.AssetSelection.assets(*(pair_key(p, BACKFILL) for p in selected))
    if dry_run:
        keys = [key for p in selected for key in plan_keys(p)]
    else:
        keys = [key for p in selected for key in graph_keys(p)]
    sources = {source_key(side, p.entity(side)) for p in selected for side in SIDES}
    return dg.AssetSelection.assets(*keys, *sources)


def sync_jobs(
    field_map: FieldMap, tags: Mapping[str, str] | None = None
) -> list[dg.UnresolvedAssetJobDefinition]:
    """`incremental_sync`, `full_resync`, `dry_run` over every pair's sync graph, and
    `sync_window` over the backfill assets (the partitions picked are the window).

    `tags` go on every run of these jobs: the API-token keys the run queue limits runs by
    (`deployment.token_tags`)."""
    pairs = list(field_map.pairs)
    every_pair = pair_selection(field_map, pairs)
    tags = dict(tags or {})
    return [
        dg.define_asset_job(
            "incremental_sync",
            selection=every_pair,
            tags={**tags, MODE_TAG: "incremental"},
            description="Changes since each pair's cursor (with an overlap), both ways.",
        ),
        dg.define_asset_job(
            "full_resync",
            selection=every_pair,
            tags={**tags, MODE_TAG: "full"},
            description="Reads everything: finds drift and marks orphaned links.",
        ),
        dg.define_asset_job(
            "dry_run",
            selection=pair_selection(field_map, pairs, dry_run=True),
            tags={**tags, MODE_TAG: "incremental"},
            description="Plans every pair without writing anything: read the plan assets.",
        ),
        dg.define_asset_job(
            "sync_window",
            selection=pair_selection(field_map, pairs, backfill=True),
            tags=tags,
            description="Re-syncs exactly the records modified in the picked days "
            "(a backfill over a date range; one run per range).",
        ),
    ]


def sync_schedules(
    tags: Mapping[str, str] | None = None, incremental_cron: str = "*/15 * * * *"
) -> list[dg.ScheduleDefinition]:
    """The incremental schedule (`incremental_cron`, every 15 minutes by default) and the
    nightly full resync, both off until started; their runs carry `tags` too."""
    tags = dict(tags or {})

    @dg.schedule(
        cron_schedule=incremental_cron,
        name="incremental_every_15_minutes",
        job_name="incremental_sync",
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"Incremental two-way sync ({incremental_cron}).",
    )
    def incremental(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        """One incremental run per tick."""
        return dg.RunRequest(tags={**tags, MODE_TAG: "incremental"})

    @dg.schedule(
        cron_schedule="0 3 * * *",
        name="nightly_full_resync",
        job_name="full_resync",
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Nightly full resync: drift and orphan detection.",
    )
    def nightly(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        """One full run per night."""
        return dg.RunRequest(tags={**tags, MODE_TAG: "full"})

    return [incremental, nightly]
