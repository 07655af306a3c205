"""The short path: read a handful of records by id (a sensor's targeted run).

A targeted run reads only the records a change probe named, one `GET /{entity}/{id}` each
(both APIs have one; neither takes a list of ids), and plans them against their own links
(`LinkStore.plan_inputs(ids=...)`), through the same plan and apply code as every other run.
Both records of each link are read. It moves no cursor (mode `window`): the scheduled
incremental run still reads everything since its cursor. A record whose GET answers 404/410
is left out of the read; if a link holds it, the plan proposes that link as an orphan (every
record of the links planned was asked for by id), and it is orphaned only once a second GET
by id confirms it gone (`sync.orphans`), as after a full read: a WebCRM Delete hook event
ends here (issue 12).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sync_pipeline.core import SIDES, FieldMap, PairSpec, Side
from sync_pipeline.store import LinkStore
from sync_pipeline.sync.extract import (
    Snapshot,
    entity_columns,
    future_ids,
    high_water,
    records_frame,
)
from sync_pipeline.sync.orphans import read_by_id
from sync_pipeline.sync.run_guard import cursor_name
from sync_pipeline.sync.window import ReadWindow

# A sensor asks for at most this many ids per run (more changed ids: a pair-scoped incremental
# run instead; more deleted ids: several targeted runs, as an incremental run orphans nothing).
MAX_TARGETED_IDS = 50


def with_partners(
    store: LinkStore, pair: PairSpec, ids: Mapping[Side, Sequence[str]]
) -> dict[Side, tuple[str, ...]]:
    """`ids` per side with the ids their links pair them with: a targeted run reads both
    records of a link, so a write is checked against the target as read (`sync.sink`)."""
    found = {side: list(map(str, ids.get(side, ()))) for side in SIDES}
    links = store.links_frame(pair.name, [], status=None, ids=(found["webcrm"], found["crmoffice"]))
    for side in SIDES:
        found[side] += list(links[f"{side}_id"].astype(str))
    return {side: tuple(dict.fromkeys(found[side])) for side in SIDES}


def read_ids(
    client: Any,
    store: LinkStore,
    field_map: FieldMap,
    system: Side,
    entity: str,
    ids: Sequence[str],
) -> Snapshot:
    """The records of `entity` with these `ids` (one GET each), after the store state of every
    pair reading the entity (as `read_entity`); raises `CrmClientError` other than not-found."""
    pairs = [pair.name for pair in field_map.pairs.values() if pair.entity(system) == entity]
    name = cursor_name(system, entity)
    states = {pair: store.pair_state(pair, [name]) for pair in pairs}
    read_at = datetime.now(UTC)
    records = read_by_id(client, entity, ids).records
    columns = entity_columns(field_map, system, entity)
    frame = records_frame(records, columns)
    now = client.server_clock.now() or datetime.now(UTC)
    reading = client.server_clock.last
    return Snapshot(
        system,
        entity,
        frame,
        ReadWindow("window", None, None, ids=tuple(str(i) for i in ids)),
        high_water(frame, columns[1], now),
        states=states,
        read_at=read_at,
        source_now=now,
        future_ids=future_ids(frame, columns[0], columns[1], now),
        clock_offset=None if reading is None else reading.offset,
    )
