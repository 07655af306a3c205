"""Change probes for near-real-time sync (issue 12): one cheap request per synced entity.

A probe asks a system for the records of one entity changed since a high-water mark on that
system's clock (WebCRM: `GET /Queries` on the entity's modification time, `Size` = `page`;
CRMOffice: `GET /{entity}?updatedSince=&pageSize=`), one page only. The records are mapped per
pair and compared with the pair's shadow (`core.echo`): echoes of our own writes ask for
nothing. A full page means more changes than a targeted run should carry: the pair then gets an
incremental run instead (`EntityScan.complete` False). In hooks mode the records a WebCRM hook
event named are read by id instead (`scan_ids`) and compared the same way; the linked records
known gone (a Delete event, or a GET by id answering 404/410) are kept apart
(`EntityScan.deleted`): an incremental run reads by modification time and never finds a
deletion, so the sensor sends those to targeted runs only.

The next high-water mark is the newest modification time read, never past the source's own now
(its `Date` header), and a probe starts `PROBE_OVERLAP` before it: WebCRM stamps whole seconds,
so a record written in the same second as the mark is read again (and found equal, or asked for
again under the same run key, which Dagster skips).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sync_pipeline.core import FieldMap, Side, prepare_side
from sync_pipeline.core.echo import PairChanges, pair_changes
from sync_pipeline.store import LinkStore
from sync_pipeline.sync.extract import entity_columns, high_water, records_frame
from sync_pipeline.sync.orphans import read_by_id
from sync_pipeline.sync.run_guard import cursor_name

PROBE_OVERLAP = timedelta(seconds=2)
# Where a new cursor starts when no pair stored one yet (our clock, less a margin for the
# source's clock running behind: records re-read compare equal to their shadows).
NEW_CURSOR_LOOKBACK = timedelta(minutes=2)
# Records per probe page: more changes than this in one interval go to an incremental run.
PROBE_PAGE = 50


@dataclass(frozen=True)
class EntityScan:
    """One probe of one entity: what each pair must sync, the next mark (None: keep the old
    one), whether the page held every change since the mark, a fingerprint of the changed
    records (id, modification time, values) and deletions naming this change set for a run
    key, the source's clock when it answered (the first mark of a new cursor), and per pair
    the linked ids on this side known gone (`deleted`: sorted; only `scan_ids` finds them;
    never also in `changes`), and the ids a GET by id refused for good (`refused`: id -> the
    API's one-line answer; only `scan_ids`), which ask for nothing."""

    system: Side
    entity: str
    changes: tuple[PairChanges, ...]
    high_water: datetime | None
    complete: bool
    fingerprint: str
    source_now: datetime
    deleted: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    refused: Mapping[str, str] = field(default_factory=dict)

    @property
    def changed(self) -> dict[str, tuple[str, ...]]:
        """Per pair with something to sync, its created or updated ids on this side (the
        deleted ones are in `deleted`)."""
        return {c.pair: c.changed for c in self.changes if c.changed}


def synced_entities(field_map: FieldMap, system: Side) -> list[str]:
    """The entities of `system` some pair syncs (the ones a sensor probes), sorted."""
    return sorted({pair.entity(system) for pair in field_map.pairs.values()})


def first_mark(store: LinkStore, field_map: FieldMap, system: Side, entity: str) -> datetime:
    """Where a new probe cursor starts: the oldest cursor the pairs reading `entity` stored
    (where their last run's read left it, `Snapshot.cursor`), so no edit since that run is
    missed; when a pair has none yet (it never read the entity), our clock less
    `NEW_CURSOR_LOOKBACK`."""
    name = cursor_name(system, entity)
    pairs = [p.name for p in field_map.pairs.values() if p.entity(system) == entity]
    marks = [store.pair_state(pair, [name]).cursors[name] for pair in pairs]
    if not marks or any(mark is None for mark in marks):
        return datetime.now(UTC) - NEW_CURSOR_LOOKBACK
    return min(mark for mark in marks if mark is not None)


def probe_interval_seconds(
    entities: int, per_minute: int, share: float, poll_seconds: float
) -> int:
    """Seconds between probes of one system: `poll_seconds`, or longer when `entities` probe
    requests per tick would pass `share` (0 < share <= 1) of `per_minute` requests; whole
    seconds, rounded up (Dagster's `minimum_interval_seconds` is an int)."""
    if not 0 < share <= 1:
        raise ValueError(f"the probe budget share must be in (0, 1], got {share}")
    floor = entities * 60.0 / (per_minute * share)
    return max(1, math.ceil(max(poll_seconds, floor)))


def scan_entity(
    client: Any,
    store: LinkStore,
    field_map: FieldMap,
    system: Side,
    entity: str,
    since: datetime,
    *,
    page: int = PROBE_PAGE,
) -> EntityScan:
    """Probe `entity` for records changed at or after `since` less `PROBE_OVERLAP` (one
    request: `client.changed_page`) and split them per pair (`core.echo.pair_changes`);
    raises `CrmClientError` when the API does not answer."""
    read = client.changed_page(entity, since - PROBE_OVERLAP, page)
    now = client.server_clock.now() or datetime.now(UTC)
    return _split(store, field_map, system, entity, read.records, since, read.complete, now)


def scan_ids(
    client: Any,
    store: LinkStore,
    field_map: FieldMap,
    system: Side,
    entity: str,
    ids: Sequence[str],
    deleted: Sequence[str] = (),
    *,
    events: Sequence[int] = (),
) -> EntityScan:
    """The records of `entity` a hook event named as created or updated (`ids`, one
    `GET /{entity}/{id}` each: `client.get`), split per pair like a probe's page; `deleted`
    (Delete events) are not read. A linked id among `deleted`, or one whose GET answered
    404/410, goes to `EntityScan.deleted` of its pair (an unlinked one asks for nothing): a
    targeted run reads it by id, and a record gone for sure (its GET answers 404/410 again,
    `sync.orphans.confirm_orphans`) orphans the link as a full run would. `events` (the ids
    of the hook events read) go into the fingerprint of a deletion, so a later Delete event
    of the same record names a new change set. Moves no mark (`high_water` None).

    A GET the API refuses for good (any other 4xx, `RecordRejectedError`: an id it cannot
    parse, a record we may not read) goes to `EntityScan.refused` and asks for nothing: one
    bad event must not stop every later one (the sensor logs it; if such a record exists and
    changed, the safety probe or the next full run reads it). Raises `CrmClientError` when the
    API does not answer (transport, 5xx and 429 through all retries, credentials): the
    events are then read again next tick."""
    gone = list(dict.fromkeys(str(i) for i in deleted))
    read = read_by_id(client, entity, [i for i in ids if str(i) not in gone], keep_refused=True)
    gone += read.gone
    now = client.server_clock.now() or datetime.now(UTC)
    scan = _split(store, field_map, system, entity, read.records, None, True, now)
    scan = replace(scan, refused=read.refused)
    if not gone:
        return scan
    found: dict[str, tuple[str, ...]] = {}
    for pair in scan.changes:
        side_ids = (gone, []) if system == "webcrm" else ([], gone)
        links = store.links_frame(pair.pair, [], status="active", ids=side_ids)
        linked = set(links[f"{system}_id"].astype(str)) & set(gone)
        if linked:
            found[pair.pair] = tuple(sorted(linked))
    if not found:
        return scan
    digest = hashlib.sha256(scan.fingerprint.encode())
    digest.update(f"events:{','.join(map(str, sorted(events)))}".encode())
    for pair_name, linked_ids in sorted(found.items()):
        digest.update(f"{pair_name}:gone:{','.join(linked_ids)}".encode())
    return replace(scan, deleted=found, fingerprint=digest.hexdigest()[:16])


def _split(
    store: LinkStore,
    field_map: FieldMap,
    system: Side,
    entity: str,
    records: Sequence[Mapping[str, Any]],
    since: datetime | None,
    complete: bool,
    now: datetime,
) -> EntityScan:
    """`records` of `entity` (as read) compared per pair with the shadows (`pair_changes`)."""
    columns = entity_columns(field_map, system, entity)
    frame = records_frame(records, columns)
    mark = high_water(frame, columns[1], now)
    ids = [str(i) for i in frame[columns[0]]]
    changes = []
    digest = hashlib.sha256(f"{system}/{entity}".encode())
    for pair in field_map.pairs.values():
        if pair.entity(system) != entity:
            continue
        side = prepare_side(frame, pair, system, field_map.entities)
        link_ids = (ids, []) if system == "webcrm" else ([], ids)
        links = store.links_frame(pair.name, pair.field_names, status=None, ids=link_ids)
        elsewhere = (
            store.linked_elsewhere(pair.crmoffice_entity, pair.name, ids)
            if system == "crmoffice"
            else set()
        )
        bad = [str(i) for i in side.quarantined["record_id"]]
        found = pair_changes(pair, system, side.valid, bad, links, set(elsewhere))
        changes.append(found)
        rows = side.valid[side.valid["id"].astype(str).isin(found.changed)]
        digest.update(rows.sort_values("id").to_json(orient="values", date_format="iso").encode())
    return EntityScan(
        system,
        entity,
        tuple(changes),
        None if mark is None or since is None else max(mark, since),
        complete,
        digest.hexdigest()[:16],
        now,
    )
