"""Extract assets: one per system entity, shared by every pair that reads it."""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.

from typing import Any

import dagster as dg

from sync_pipeline import sync
from sync_pipeline.core import FieldMap, Side
from sync_pipeline.dagster_defs.keys import source_key
from sync_pipeline.dagster_defs.partitions import run_mode, tagged_window

SYSTEM_NAMES = {"webcrm": "WebCRM", "crmoffice": "CRMOffice"}


def _metadata(snapshot: sync.Snapshot, before: dict[str, int], after: dict[str, int]) -> Any:
    return {
        "dagster/row_count": len(snapshot.records),
        "window": snapshot.window.describe(),
        "complete": snapshot.complete,
        "read_problem": snapshot.read_problem or "none",
        "high_water": snapshot.high_water.isoformat() if snapshot.high_water else "none",
        "cursor": snapshot.cursor.isoformat() if snapshot.cursor else "none",
        "source_now": snapshot.source_now.isoformat() if snapshot.source_now else "none",
        "future_records": len(snapshot.future_ids),
        "clock_offset_seconds": (
            round(snapshot.clock_offset.total_seconds(), 1) if snapshot.clock_offset else 0.0
        ),
        "requests": after["requests"] - before["requests"],
        "throttled_429s": after["throttled_429s"] - before["throttled_429s"],
    }


def extract_asset(field_map: FieldMap, system: Side, entity: str) -> dg.AssetsDefinition:
    """`<system>/<entity>`: the records this run reads (see `sync.read_entity`)."""
    label = f"{SYSTEM_NAMES[system]} {entity}"
    how = "`/Queries` on" if system == "webcrm" else "`updatedSince` on"

    @dg.asset(
        key=source_key(system, entity),
        group_name="sources",
        kinds={system},
        required_resource_keys={system, "link_store", "sync_policy"},
        description=f"{label} as read by this run: every record on a full run, else the "
        f"records changed since the pairs' cursor or in the backfilled days ({how} the "
        "modification time). Only the properties the field map uses are kept.",
    )
    def extract(context: dg.AssetExecutionContext) -> dg.Output[sync.Snapshot]:
        client = getattr(context.resources, system).client()
        before = client.stats.as_dict()
        snapshot = sync.read_entity(
            client,
            context.resources.link_store.store(),
            field_map,
            system,
            entity,
            mode=run_mode(context),
            partitions=tagged_window(context),
            overlap=context.resources.sync_policy.overlap(),
        )
        context.log.info(f"{label}: {snapshot.window.describe()}")
        for line in sync.read_warnings(snapshot):
            context.log.warning(f"{label}: {line}")
        return dg.Output(snapshot, metadata=_metadata(snapshot, before, client.stats.as_dict()))

    return extract


def extract_assets(field_map: FieldMap) -> list[dg.AssetsDefinition]:
    """Every system entity some pair uses."""
    webcrm = sorted({p.webcrm_entity for p in field_map.pairs.values()})
    crmoffice = sorted({p.crmoffice_entity for p in field_map.pairs.values()})
    return [extract_asset(field_map, "webcrm", e) for e in webcrm] + [
        extract_asset(field_map, "crmoffice", e) for e in crmoffice
    ]
