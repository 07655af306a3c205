"""Extract assets: one per system entity, shared by every pair that reads it."""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import dagster as dg

from sync_pipeline.core import FieldMap, Side
from sync_pipeline.dagster_defs.partitions import modification_date, partition_window, run_mode
from sync_pipeline.dagster_defs.resources import SyncPolicy
from sync_pipeline.store import LinkStore
from sync_pipeline.sync.extract import Snapshot, extract_crmoffice, extract_webcrm
from sync_pipeline.sync.pair_steps import pair_basis
from sync_pipeline.sync.window import ReadWindow, read_window

SINGLE_RUN = dg.BackfillPolicy.single_run()


def cursor_key(pair: str, system: str, entity: str) -> tuple[str, str]:
    """Cursors are kept per pair and side: a shared entity is read from the oldest of them."""
    return pair, f"{system}/{entity}"


def entity_columns(field_map: FieldMap, system: Side, entity: str) -> list[str]:
    """Id, modification time and every property any pair maps on this entity."""
    spec = field_map.entities[system][entity]
    columns = [spec.id, spec.updated_at]
    for pair in field_map.pairs.values():
        if pair.entity(system) == entity:
            columns += [p for p in (f.prop(system) for f in pair.fields) if p not in columns]
    return columns


def oldest_cursor(
    store: LinkStore, field_map: FieldMap, system: Side, entity: str
) -> datetime | None:
    """The cursor of the pair that is furthest behind; None (full read) if any has none yet."""
    values = []
    for pair in field_map.pairs.values():
        if pair.entity(system) == entity:
            values.append(store.get_cursor(*cursor_key(pair.name, system, entity)))
    if not values or any(v is None for v in values):
        return None
    return min(v for v in values if v is not None)


def _window(
    context: dg.AssetExecutionContext,
    store: LinkStore,
    field_map: FieldMap,
    system: Side,
    entity: str,
    policy: SyncPolicy,
) -> ReadWindow:
    mode = run_mode(context)
    cursor = oldest_cursor(store, field_map, system, entity) if mode == "incremental" else None
    return read_window(
        mode,
        cursor,
        window=partition_window(context),
        overlap=timedelta(seconds=policy.overlap_seconds),
    )


def _metadata(
    snapshot: Snapshot, stats_before: dict[str, int], stats_after: dict[str, int]
) -> dict[str, Any]:
    return {
        "dagster/row_count": len(snapshot.records),
        "window": snapshot.window.describe(),
        "complete": snapshot.complete,
        "high_water": snapshot.high_water.isoformat() if snapshot.high_water else "none",
        "requests": stats_after["requests"] - stats_before["requests"],
        "throttled_429s": stats_after["throttled_429s"] - stats_before["throttled_429s"],
    }


READERS: dict[str, Callable[..., Snapshot]] = {
    "webcrm": extract_webcrm,
    "crmoffice": extract_crmoffice,
}
SYSTEM_NAMES = {"webcrm": "WebCRM", "crmoffice": "CRMOffice"}


def extract_asset(field_map: FieldMap, system: Side, entity: str) -> dg.AssetsDefinition:
    """`<system>/<entity>`: a full list, or the records modified in the run's read window
    (WebCRM `/Queries` on the modification time, CRMOffice `updatedSince`)."""
    spec = field_map.entities[system][entity]
    columns = entity_columns(field_map, system, entity)
    label = f"{SYSTEM_NAMES[system]} {entity}"

    @dg.asset(
        key=dg.AssetKey([system, entity.lower()]),
        group_name="sources",
        partitions_def=modification_date,
        backfill_policy=SINGLE_RUN,
        kinds={system},
        required_resource_keys={system, "link_store", "sync_policy"},
        description=f"Raw {label} read by this run (the properties the field map uses).",
    )
    def extract(context: dg.AssetExecutionContext) -> dg.Output[Snapshot]:
        client = getattr(context.resources, system).client()
        store = context.resources.link_store.store()
        window = _window(context, store, field_map, system, entity, context.resources.sync_policy)
        context.log.info(f"{label}: {window.describe()}")
        before = client.stats.as_dict()
        bases = {
            pair.name: pair_basis(store, pair.name)
            for pair in field_map.pairs.values()
            if pair.entity(system) == entity
        }
        snapshot = replace(
            READERS[system](client, entity, columns, spec.updated_at, window), bases=bases
        )
        return dg.Output(snapshot, metadata=_metadata(snapshot, before, client.stats.as_dict()))

    return extract


def extract_assets(field_map: FieldMap) -> list[dg.AssetsDefinition]:
    """Every system entity some pair uses."""
    webcrm = sorted({p.webcrm_entity for p in field_map.pairs.values()})
    crmoffice = sorted({p.crmoffice_entity for p in field_map.pairs.values()})
    return [extract_asset(field_map, "webcrm", e) for e in webcrm] + [
        extract_asset(field_map, "crmoffice", e) for e in crmoffice
    ]
