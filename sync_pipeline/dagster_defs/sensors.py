"""Near-real-time change detection: one polling sensor per system (issue 12, DESIGN.md section 3).

`webcrm_changes` and `crmoffice_changes` probe each entity a pair syncs with one request per
tick (`sync.scan_entity`), on that system's clock from the high-water marks in the sensor cursor
(JSON `{"<entity>": "<ISO 8601 UTC>"}`; a new cursor starts at the pairs' stored cursors, so
nothing since the last run is missed: `sync.first_mark`). A changed record that is not an echo
of our own write asks for one `targeted_sync` run of the pairs it touches, tagged `sync/ids`
(see `targeted_assets`) and keyed by the change set (`run_key`, so Dagster starts it once);
more than `sync.MAX_TARGETED_IDS` changed ids, or a probe page that came back full, ask for an
`incremental_sync` of those pairs instead. A deletion the sensor knows of (hooks mode: a Delete
event, or a GET by id answering 404/410, of a linked record: `EntityScan.deleted`) never falls
back: an incremental run reads by modification time and orphans nothing, so deletions always go
to targeted runs, split into runs of at most `sync.MAX_TARGETED_IDS` ids (with the changed ids
when those fit), each keyed by the change set and its own ids, so a re-evaluated tick starts
none twice. An entity whose pairs have a run queued or in flight is not probed that tick (its
mark stays): what that run writes is compared once it has stored its shadows, so our own writes
never look like edits.

Hooks mode (`SYNC_WEBCRM_HOOKS=on`, `webcrm_changes` only; CRMOffice has no hooks): the
hooked entities are not probed each tick. The sensor reads the hook events `sync-pipeline hooks
serve` stored, by the event cursor kept in its JSON cursor (`"hooks/after": "<event id>"`, a new
cursor starting past every event stored so far), and turns them into the same run requests
(`sync.read_hook_events`: Create/Update read by id and compared with the shadows, Delete of a
linked record asking for a targeted run that orphans the link once a GET by id confirms the
record gone). A safety probe of each hooked entity still runs every `SYNC_HOOKS_SAFETY_SECONDS`
(default 300; `"hooks/probed/<entity>"` in the cursor), so an edit whose hook was lost is found
within that time. The mode shows in the sensor's description, and every tick logs (and, with
nothing to run, puts in its skip reason) a `hooks mode: …` line: events read, safety probes run.

The tick interval (`minimum_interval_seconds`) is `SYNC_POLL_SECONDS`, or longer when one
probe per entity per tick would pass `SYNC_PROBE_BUDGET_SHARE` of the system's rate limit
(`sync.probe_interval_seconds`). Sensors start STOPPED unless `SYNC_SENSORS=running` (`make
dev` sets it); `make prod` starts them through GraphQL. (Dagster docs, "Sensors": default
status, cursors, run keys.)
"""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.
import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from sync_pipeline import sync
from sync_pipeline.core import SIDES, FieldMap, Side
from sync_pipeline.core.hook_payload import HOOK_ENTITIES
from sync_pipeline.dagster_defs.keys import graph_keys, source_key
from sync_pipeline.dagster_defs.partitions import MODE_TAG
from sync_pipeline.dagster_defs.targeted_assets import (
    IDS_TAG,
    TRIGGER_TAG,
    ids_tag,
    targeted_keys,
)

# Hooks mode's keys in the sensor cursor, next to the entities' marks: the event cursor
# (`LinkStore.events_after`) and, per hooked entity, when its last safety probe ran (our clock).
AFTER, PROBED = "hooks/after", "hooks/probed/"
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
    """Targeted runs of at most `MAX_TARGETED_IDS` ids each for every deleted id and for the
    changed ids when they fit in one run, and one incremental run of the pairs with too many
    changes (a full probe page, or more than `MAX_TARGETED_IDS` changed ids in all)."""
    changed: set[tuple[str, str]] = set()
    deleted = {(pair, i) for scan in scans for pair, ids in scan.deleted.items() for i in ids}
    overflow: set[str] = set()
    for scan in scans:
        if scan.complete:
            changed |= {(pair, i) for pair, ids in scan.changed.items() for i in ids}
        else:
            overflow |= {c.pair for c in scan.changes}  # more may lie past the full page
    changed = {(pair, i) for pair, i in changed - deleted if pair not in overflow}
    if len(changed) > sync.MAX_TARGETED_IDS:
        overflow |= {pair for pair, _ in changed}
        changed = set()
    trigger = {**tags, TRIGGER_TAG: SENSOR_NAMES[system]}
    key = f"{system}:" + "/".join(s.fingerprint for s in scans if s.changed or s.deleted)
    targeted = sorted(changed | deleted)
    size = sync.MAX_TARGETED_IDS
    chunks = [targeted[n : n + size] for n in range(0, len(targeted), size)]
    requests = [
        dg.RunRequest(
            run_key=key if len(chunks) == 1 else f"{key}:{_digest(chunk)}",
            job_name="targeted_sync",
            asset_selection=targeted_keys(field_map, sorted({pair for pair, _ in chunk})),
            tags={**trigger, IDS_TAG: _ids_tag(system, chunk)},
        )
        for chunk in chunks
    ]
    if overflow:
        requests.append(
            dg.RunRequest(
                job_name="incremental_sync",
                asset_selection=_graph_of(field_map, sorted(overflow)),
                tags={**trigger, MODE_TAG: "incremental"},
            )
        )
    return requests


def _ids_tag(system: Side, chunk: Sequence[tuple[str, str]]) -> str:
    """The `sync/ids` tag of (pair, id) pairs, all ids on `system`'s side."""
    ids: dict[str, dict[Side, list[str]]] = {}
    for pair, record_id in chunk:
        ids.setdefault(pair, {}).setdefault(system, []).append(record_id)
    return ids_tag(ids)


def _digest(chunk: Sequence[tuple[str, str]]) -> str:
    """A short name of one run's (pair, id) pairs, for its run key."""
    return hashlib.sha256(json.dumps(sorted(chunk)).encode()).hexdigest()[:12]


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
    hooks_safety_seconds: float | None = None,
) -> dg.SensorDefinition:
    """`<system>_changes`: probes every entity of `system` a pair syncs, each tick (see module);
    with `hooks_safety_seconds` (WebCRM only: `SYNC_WEBCRM_HOOKS=on`), hooks mode: the hooked
    entities are read from hook events and probed once per that many seconds only."""
    entities = sync.synced_entities(field_map, system)
    hooked = [e for e in entities if e in HOOK_ENTITIES] if hooks_safety_seconds else []
    safety = timedelta(seconds=hooks_safety_seconds or 0)
    tags = dict(tags or {})
    mode = (
        f"Hooks mode: reads the WebCRM hook events stored by `sync-pipeline hooks serve` for "
        f"{', '.join(hooked)} each {interval_seconds} s and probes them once per "
        f"{safety.total_seconds():g} s (a lost hook); "
        if hooked
        else f"Polls {', '.join(entities)} for changes every {interval_seconds} s "
        f"(one request each); "
    )

    @dg.sensor(
        name=SENSOR_NAMES[system],
        minimum_interval_seconds=interval_seconds,
        default_status=(
            dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED
        ),
        jobs=list(jobs),
        required_resource_keys={system, "link_store"},
        description=f"{mode}syncs the changed records that are not our own writes.",
    )
    def changes(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        marks: dict[str, str] = json.loads(context.cursor or "{}")
        busy = busy_pairs(context.instance, field_map)
        client = getattr(context.resources, system).probe_client()
        store = context.resources.link_store.store()
        scans, waiting, probed, now = [], [], [], datetime.now(UTC)
        for entity in entities:
            if entity not in marks:  # pinned now, even when busy: nothing after it is missed
                marks[entity] = sync.first_mark(store, field_map, system, entity).isoformat()
            if entity in hooked and not _safety_due(marks, entity, now, safety):
                continue
            if _pairs_of(field_map, system, entity) & busy:
                waiting.append(entity)
                continue
            scan = _probe(client, store, field_map, system, entity, marks)
            if entity in hooked:
                marks[PROBED + entity] = now.isoformat()
                probed.append(entity)
            scans.append(scan)
        hooks = ""
        if hooked:
            if AFTER not in marks:  # a new cursor: the probes above cover what came before
                marks[AFTER] = str(store.last_hook_event_id())
            busy_entities = {e for e in hooked if _pairs_of(field_map, system, e) & busy}
            read = sync.read_hook_events(
                client,
                store,
                field_map,
                system,
                hooked,
                int(marks[AFTER]),
                busy_entities,
                {e: datetime.fromisoformat(marks[e]) for e in hooked},
            )
            for scan in read.probes:
                _move_mark(marks, scan)
            scans += [*read.scans, *read.probes]
            waiting += [e for e in read.waiting if e not in waiting]
            hooks = (
                f"hooks mode: events after #{marks[AFTER]}: {read.describe()}; "
                f"safety probe: {', '.join(probed) or 'none due'}"
                + (
                    f"; probed for many events: {', '.join(s.entity for s in read.probes)}"
                    if read.probes
                    else ""
                )
            )
            marks[AFTER] = str(read.after)
            context.log.info(hooks)
            for scan in read.scans:
                for record_id, why in scan.refused.items():
                    context.log.warning(
                        f"hook event of {scan.entity} {record_id} skipped: its GET by id was "
                        f"refused ({why}); the safety probe reads it if it exists and changed"
                    )
        requests = _requests(field_map, system, scans, tags)
        skip = None
        if not requests:
            skip = "no changes to sync"
            if waiting:
                skip += f"; waiting on runs: {', '.join(waiting)}"
            if hooks:
                skip += f" ({hooks})"
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(marks), skip_reason=skip)

    return changes


def _pairs_of(field_map: FieldMap, system: Side, entity: str) -> set[str]:
    """The pairs reading `entity` of `system`."""
    return {p.name for p in field_map.pairs.values() if p.entity(system) == entity}


def _safety_due(marks: Mapping[str, str], entity: str, now: datetime, every: timedelta) -> bool:
    """Whether a hooked entity's safety probe is due (never probed by this cursor: yes)."""
    probed = marks.get(PROBED + entity)
    return probed is None or now - datetime.fromisoformat(probed) >= every


def _probe(
    client: Any,
    store: Any,
    field_map: FieldMap,
    system: Side,
    entity: str,
    marks: dict[str, str],
) -> sync.EntityScan:
    """One probe of `entity` since its mark, the mark moved on."""
    since = datetime.fromisoformat(marks[entity])
    scan = sync.scan_entity(client, store, field_map, system, entity, since)
    _move_mark(marks, scan)
    return scan


def _move_mark(marks: dict[str, str], scan: sync.EntityScan) -> None:
    """A probe's next mark: its newest record, or the source's now after a full page."""
    mark = scan.high_water if scan.complete else scan.source_now
    if mark is not None:
        marks[scan.entity] = mark.isoformat()
