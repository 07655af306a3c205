"""Hook events for the WebCRM change sensor in hooks mode (issue 12, `SYNC_WEBCRM_HOOKS=on`).

`sync-pipeline hooks serve` stores each event WebCRM POSTs in the store (`hook_events`, read
by cursor: `LinkStore.events_after`). One tick reads up to `HOOK_BATCH` events after the
sensor's event cursor, oldest first, and per entity:

- Create/Update: the named records are read by id (`changes.scan_ids`, one GET each) and
  compared with the shadows like a probe's page (`core.echo`): echoes ask for nothing. More
  than `HOOK_GETS` ids of one entity in one tick: one probe of the entity since its mark
  instead (`changes.scan_entity`, one request for them all);
- Delete: a linked record goes to `EntityScan.deleted` (an unlinked one, or a repeated event,
  adds nothing), which the sensor always sends to targeted runs, however many (an incremental
  run never finds a deletion); that run orphans the link once a GET by id confirms the record
  gone (`sync.targeted`); an event alone orphans nothing. A Delete and an Update of the same
  record in one tick: the Delete (the record is not read; the targeted run reads it anyway).

Events of an entity whose pairs have a run queued or in flight are held back (the cursor stops
before the first of them), as the polling path skips probing such an entity: that run's own
writes are compared once its shadows are stored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sync_pipeline.core import FieldMap, Side
from sync_pipeline.store import LinkStore
from sync_pipeline.sync.changes import EntityScan, scan_entity, scan_ids

# Events read per tick (the rest next tick), and ids of one entity read by id per tick.
HOOK_BATCH = 100
HOOK_GETS = 10


@dataclass(frozen=True)
class HookRead:
    """One tick's events: `scans` by id, `probes` (an entity with too many ids: probed since
    its mark, which the sensor then moves), the event cursor to keep (`after`), how many events
    were consumed per entity and type (`counts`, for the tick's log line), and the entities
    whose events wait for a run in flight (`waiting`)."""

    scans: tuple[EntityScan, ...]
    probes: tuple[EntityScan, ...]
    after: int
    counts: Mapping[str, Counter[str]]
    waiting: tuple[str, ...]

    def describe(self) -> str:
        """`Persons 2 Update, 1 Delete; Users 1 Create` (or `no events`)."""
        parts = [
            f"{entity} " + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
            for entity, kinds in sorted(self.counts.items())
        ]
        return "; ".join(parts) or "no events"


def read_hook_events(
    client: Any,
    store: LinkStore,
    field_map: FieldMap,
    system: Side,
    entities: Sequence[str],
    after: int,
    busy: Set[str],
    marks: Mapping[str, datetime],
    *,
    limit: int = HOOK_BATCH,
) -> HookRead:
    """Consume the events of `system` stored after `after` (see module): `entities` the hooked
    entities the sensor syncs (events of others are passed over), `busy` the entities whose
    pairs have a run in flight, `marks` each entity's probe mark. Raises `CrmClientError` when
    the API does not answer (the cursor then stays: the events are read again next tick)."""
    events, _ = store.events_after(after, limit=limit)
    updated: dict[str, list[str]] = {}
    deleted: dict[str, list[str]] = {}
    read: dict[str, list[int]] = {}
    counts: dict[str, Counter[str]] = {}
    waiting: list[str] = []
    for event in events:
        if event.system == system and event.entity in entities:
            if event.entity in busy:
                waiting.append(event.entity)
                break
            found = deleted if event.event_type == "Delete" else updated
            found.setdefault(event.entity, []).append(event.record_id)
            counts.setdefault(event.entity, Counter())[event.event_type] += 1
            read.setdefault(event.entity, []).append(event.id)
        after = event.id
    scans, probes = [], []
    for entity in sorted(set(updated) | set(deleted)):
        ids = list(dict.fromkeys(updated.get(entity, [])))
        if len(ids) > HOOK_GETS:
            probes.append(scan_entity(client, store, field_map, system, entity, marks[entity]))
            ids = []
        gone = deleted.get(entity, [])
        if ids or gone:
            scans.append(
                scan_ids(client, store, field_map, system, entity, ids, gone, events=read[entity])
            )
    return HookRead(tuple(scans), tuple(probes), after, counts, tuple(waiting))
