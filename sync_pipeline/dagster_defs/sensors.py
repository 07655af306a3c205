"""Near-real-time change detection: one polling sensor per system (issue 12, DESIGN.md section 3).

`webcrm_changes` and `crmoffice_changes` probe each entity a pair syncs with one request per
tick (`sync.scan_entity`), on that system's clock from the high-water marks in the sensor cursor
(JSON `{"<entity>": "<ISO 8601 UTC>"}`; a new cursor starts at the pairs' stored cursors, so
nothing since the last run is missed: `sync.first_mark`). A changed record that is not an echo
of our own write asks for one `targeted_sync` run of the pairs it touches, tagged `sync/ids`
(see `targeted_assets`) and keyed by the change set (`run_key`, so Dagster starts it once);
more than `sync.MAX_TARGETED_IDS` ids, or a probe page that came back full, ask for an
`incremental_sync` of those pairs instead. An entity whose pairs have a run queued or in flight
is not probed that tick (its mark stays): what that run writes is compared once it has stored
its shadows, so our own writes never look like edits.

The tick interval (`minimum_interval_seconds`) is `SYNC_POLL_SECONDS`, or longer when one
probe per entity per tick would pass `SYNC_PROBE_BUDGET_SHARE` of the system's rate limit
(`sync.probe_interval_seconds`). Sensors start STOPPED unless `SYNC_SENSORS=running` (`make
dev` sets it); `make prod` starts them through GraphQL. (Dagster docs, "Sensors": default
status, cursors, run keys.)
"""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.
import json
from collections.abc import Mapping, Sequence
from datetime import datetime

import dagster as dg

from sync_pipeline import sync
from sync_pipeline.core import SIDES, FieldMap, Side
from sync_pipeline.dagster_defs.keys import graph_keys, source_key
from sync_pipeline.dagster_defs.partitions import MODE_TAG
from sync_pipeline.dagster_defs.targeted_assets import (
    IDS_TAG,
    TRIGGER_TAG,
    ids_tag,
    targeted_keys,
)

SENSOR_NAMES: dict[Side, str] = {"webcrm": "webcrm_changes", "crmoffice": "crmoffice_changes"}
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def busy_pairs(instance: dg.DagsterInstance, field_map: FieldMap) -> set[str]:
    """Pairs some queued or running run may write to (a run of a whole job: every pair)."""
    busy: set[str] = set()
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=IN_FLIGHT)):
        if not run.asset_selection:
            return set(field_map.pairs)
        busy |= {key.path[0] for key in run.asset_selection} & set(field_map.pairs)
    return busy


def _requests(
    field_map: FieldMap,
    system: Side,
    scans: Sequence[sync.EntityScan],
    tags: Mapping[str, str],
) -> list[dg.RunRequest]:
    """One targeted run for every changed id, or an incremental run of the pairs with too
    many changes (a full probe page, or more than `MAX_TARGETED_IDS`)."""
    ids: dict[str, dict[Side, tuple[str, ...]]] = {}
    overflow: set[str] = set()
    for scan in scans:
        for pair, changed in scan.changed.items():
            if scan.complete:
                ids.setdefault(pair, {})[system] = changed
            else:
                overflow.add(pair)
        if not scan.complete:
            overflow |= {c.pair for c in scan.changes}
    if sum(len(found) for sides in ids.values() for found in sides.values()) > (
        sync.MAX_TARGETED_IDS
    ):
        overflow |= set(ids)
    ids = {pair: sides for pair, sides in ids.items() if pair not in overflow}
    trigger = {**tags, TRIGGER_TAG: SENSOR_NAMES[system]}
    requests = []
    if ids:
        key = "/".join(scan.fingerprint for scan in scans if scan.changed)
        requests.append(
            dg.RunRequest(
                run_key=f"{system}:{key}",
                job_name="targeted_sync",
                asset_selection=targeted_keys(field_map, sorted(ids)),
                tags={**trigger, IDS_TAG: ids_tag(ids)},
            )
        )
    if overflow:
        requests.append(
            dg.RunRequest(
                job_name="incremental_sync",
                asset_selection=_graph_of(field_map, sorted(overflow)),
                tags={**trigger, MODE_TAG: "incremental"},
            )
        )
    return requests


def _graph_of(field_map: FieldMap, pairs: Sequence[str]) -> list[dg.AssetKey]:
    """The sync graphs of `pairs` with the sources they read (as `jobs.pair_selection`)."""
    specs = [field_map.pairs[name] for name in pairs]
    sources = {source_key(side, p.entity(side)) for p in specs for side in SIDES}
    return [key for p in specs for key in graph_keys(p)] + sorted(sources)


def change_sensor(
    field_map: FieldMap,
    system: Side,
    interval_seconds: int,
    jobs: Sequence["dg.UnresolvedAssetJobDefinition"],
    tags: Mapping[str, str] | None = None,
    *,
    running: bool = False,
) -> dg.SensorDefinition:
    """`<system>_changes`: probes every entity of `system` a pair syncs, each tick (see module)."""
    entities = sync.synced_entities(field_map, system)
    tags = dict(tags or {})

    @dg.sensor(
        name=SENSOR_NAMES[system],
        minimum_interval_seconds=interval_seconds,
        default_status=(
            dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED
        ),
        jobs=list(jobs),
        required_resource_keys={system, "link_store"},
        description=f"Polls {', '.join(entities)} for changes every {interval_seconds} s "
        f"(one request each) and syncs the changed records that are not our own writes.",
    )
    def changes(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        marks: dict[str, str] = json.loads(context.cursor or "{}")
        busy = busy_pairs(context.instance, field_map)
        client = getattr(context.resources, system).probe_client()
        store = context.resources.link_store.store()
        scans, waiting = [], []
        for entity in entities:
            if entity not in marks:  # pinned now, even when busy: nothing after it is missed
                marks[entity] = sync.first_mark(store, field_map, system, entity).isoformat()
            pairs = {p.name for p in field_map.pairs.values() if p.entity(system) == entity}
            if pairs & busy:
                waiting.append(entity)
                continue
            since = datetime.fromisoformat(marks[entity])
            scan = sync.scan_entity(client, store, field_map, system, entity, since)
            mark = scan.high_water if scan.complete else scan.source_now
            marks[entity] = (mark or since).isoformat()
            scans.append(scan)
        requests = _requests(field_map, system, scans, tags)
        skip = None
        if not requests:
            skip = (
                f"no changes to sync; waiting on runs: {', '.join(waiting)}"
                if waiting
                else ("no changes to sync")
            )
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(marks), skip_reason=skip)

    return changes
