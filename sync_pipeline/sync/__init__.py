"""The use cases of a sync, with no Dagster import: read an entity, plan a pair, apply it.

This package's public surface is the façade the Dagster adapters (and the CLI) call:

    read_entity  -> Snapshot          (per system entity; the pairs' store state read first)
    side_rows    -> SideRows          (per pair and side: mapped, validated, quarantined)
    plan_pair    -> PlannedPair       (per pair: the plan, cut per sink, with its PairRun)
    apply_links_step, apply_direction -> ApplyReport   (per pair: the sinks, in WRITE_ORDER)
    sync_pair    -> PairSyncReport    (all of the above for one pair in one call: backfills,
                                       and targeted runs by id: `PairSyncRequest.ids`)
    scan_entity  -> EntityScan        (a change probe of one entity: near-real-time sensors)
"""

from __future__ import annotations

from sync_pipeline.sync.apply import apply_links_step
from sync_pipeline.sync.apply_direction import WRITE_ORDER, apply_direction
from sync_pipeline.sync.changes import (
    EntityScan,
    first_mark,
    probe_interval_seconds,
    scan_entity,
    scan_ids,
    synced_entities,
)
from sync_pipeline.sync.extract import Snapshot, read_entity, read_warnings
from sync_pipeline.sync.hook_events import HookRead, read_hook_events
from sync_pipeline.sync.missed import missed_by_incremental
from sync_pipeline.sync.pair_sync import (
    Clients,
    PairSyncReport,
    PairSyncRequest,
    Safeguards,
    SyncBlockedError,
    sync_pair,
)
from sync_pipeline.sync.planning import plan_pair, sharing_pairs, side_rows
from sync_pipeline.sync.plans import DirectionPlan, LinkPlan, PlannedPair, SideRows
from sync_pipeline.sync.run_guard import PairRun, StalePlanError
from sync_pipeline.sync.sink import ApplyReport
from sync_pipeline.sync.targeted import MAX_TARGETED_IDS
from sync_pipeline.sync.window import MODES, Mode

__all__ = [
    "MAX_TARGETED_IDS",
    "MODES",
    "WRITE_ORDER",
    "ApplyReport",
    "Clients",
    "DirectionPlan",
    "EntityScan",
    "HookRead",
    "LinkPlan",
    "Mode",
    "PairRun",
    "PairSyncReport",
    "PairSyncRequest",
    "PlannedPair",
    "Safeguards",
    "SideRows",
    "Snapshot",
    "StalePlanError",
    "SyncBlockedError",
    "apply_direction",
    "apply_links_step",
    "first_mark",
    "missed_by_incremental",
    "plan_pair",
    "probe_interval_seconds",
    "read_entity",
    "read_hook_events",
    "read_warnings",
    "scan_entity",
    "scan_ids",
    "sharing_pairs",
    "side_rows",
    "sync_pair",
    "synced_entities",
]
