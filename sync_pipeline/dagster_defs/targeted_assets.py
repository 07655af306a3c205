"""Per pair, `<pair>/targeted`: the records a change sensor named, synced in one step.

A targeted run (job `targeted_sync`, requested by the `*_changes` sensors) carries its ids in
the run tag `sync/ids`, compact JSON per pair and side:
`{"persons_contacts":{"webcrm":["12","13"]},"users_contacts":{"crmoffice":["c-9"]}}`. Each
selected pair reads those records by id and plans them against their links only
(`sync.PairSyncRequest.ids`), through `sync.sync_pair` with the same guards as every run. One
step per pair instead of the sync graph's twenty-odd keeps a small run's fixed cost down.
"""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.
import json
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from sync_pipeline.core import SIDES, FieldMap, PairSpec, Side
from sync_pipeline.dagster_defs.backfill_assets import pair_step_asset, run_pair_step
from sync_pipeline.dagster_defs.keys import pair_key

TARGETED = "targeted"
IDS_TAG = "sync/ids"
TRIGGER_TAG = "sync/trigger"
TargetedIds = Mapping[str, Mapping[Side, Sequence[str]]]


def ids_tag(ids: TargetedIds) -> str:
    """The `sync/ids` value: per pair and side, the ids (sorted, no spaces)."""
    shaped = {
        pair: {side: sorted(set(map(str, found))) for side, found in sides.items() if found}
        for pair, sides in sorted(ids.items())
    }
    return json.dumps(shaped, separators=(",", ":"), sort_keys=True)


def tagged_ids(tags: Mapping[str, str], pair: str) -> dict[Side, tuple[str, ...]]:
    """The ids `tags` name for `pair` per side (empty when none); `dg.Failure` when the tag
    is not the JSON `ids_tag` writes."""
    try:
        found = json.loads(tags.get(IDS_TAG, "{}")).get(pair, {})
        return {side: tuple(str(i) for i in found.get(side, [])) for side in SIDES}
    except (ValueError, AttributeError, TypeError) as error:
        raise dg.Failure(f"run tag {IDS_TAG} is not per-pair JSON ids: {error}") from error


def targeted_asset(pair: PairSpec, field_map: FieldMap, shared_plans: str) -> dg.AssetsDefinition:
    """`<pair>/targeted`, after those of the pairs sharing its contacts (when selected)."""

    def targeted(context: dg.AssetExecutionContext, others: dict[str, Any]) -> dg.Output[Any]:
        ids = tagged_ids(context.run.tags, pair.name)
        context.log.info(f"{pair.name}: " + ", ".join(f"{s} {len(i)} ids" for s, i in ids.items()))
        return run_pair_step(context, pair, field_map, others, None, ids=ids)

    return pair_step_asset(
        pair,
        field_map,
        TARGETED,
        shared_plans,
        targeted,
        description=f"Syncs the {pair.name} records a change sensor named (run tag "
        f"`{IDS_TAG}`), both ways, in one step: read by id, planned against their links only, "
        "with the same guards as the sync graph. Moves no cursor; orphans a link only when "
        "its record's GET by id answers 404 (confirmed by a second GET).",
    )


def targeted_keys(field_map: FieldMap, pairs: Sequence[str]) -> list[dg.AssetKey]:
    """The targeted assets of `pairs`."""
    return [pair_key(field_map.pairs[name], TARGETED) for name in pairs]


def targeted_job(
    field_map: FieldMap, tags: Mapping[str, str] | None = None
) -> "dg.UnresolvedAssetJobDefinition":
    """`targeted_sync`: every pair's targeted asset (a sensor's run selects the pairs)."""
    return dg.define_asset_job(
        "targeted_sync",
        selection=dg.AssetSelection.assets(*targeted_keys(field_map, list(field_map.pairs))),
        tags=dict(tags or {}),
        description=f"Syncs the records a change sensor named (run tag `{IDS_TAG}`), "
        "one step per pair.",
    )
