"""Read one system entity into a raw snapshot frame (values untouched: validation comes later).

Two facts about the read travel with the records:

- whether it may have missed records (`Snapshot.read_problem`): a full read whose pages did
  not add up (`clients.PagedRead`) is not complete, and an incomplete read orphans nothing
  (DESIGN.md section 2, "Deletes"; issue 9, kind 3);
- the source's own "now" (`Snapshot.source_now`: its clock as its responses' `Date` header
  shows it, RFC 9110 section 6.6.1, corrected to the moment the read ended; our clock when it
  sent none). The high-water mark never passes it, so one record stamped in the future (a bad
  import) cannot move the cursor past every later edit; such records are listed in
  `Snapshot.future_ids` and still sync on their values (issue 9, kind 11).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import pandas as pd

from sync_pipeline.clients import PagedRead, ServerClock
from sync_pipeline.core import ABSENT, FieldMap, Side
from sync_pipeline.store import LinkStore, PairState
from sync_pipeline.sync.crashpoints import crash_point
from sync_pipeline.sync.run_guard import cursor_name
from sync_pipeline.sync.window import Mode, ReadWindow, read_window

# `Date` has one-second resolution and servers cache it (uvicorn renews it once a second), so
# the source's now reads a second or two low: only a record stamped more than this past it is
# reported as from the future (the cursor cap applies to every record regardless).
FUTURE_TOLERANCE = timedelta(minutes=1)


class WebcrmReader(Protocol):
    """The part of `WebcrmClient` extraction needs."""

    @property
    def server_clock(self) -> ServerClock: ...

    def read_all(self, entity: str) -> PagedRead: ...

    def query_updated(
        self, entity: str, since: datetime, until: datetime | None = None
    ) -> list[dict[str, Any]]: ...


class CrmofficeReader(Protocol):
    """The part of `CrmofficeClient` extraction needs."""

    @property
    def server_clock(self) -> ServerClock: ...

    def read_all(self, entity: str, updated_since: datetime | None = None) -> PagedRead: ...


@dataclass(frozen=True)
class Snapshot:
    """Raw records of one system entity as read by one run.

    `read_at`: when the read began (our clock). `states`: per pair reading this entity, its
    store state (basis, cursors, link count) read just before the records: a plan made from
    this snapshot is applied only if no other run wrote to the pair since, or it could
    re-create what that run created. `high_water`: the newest modification time read, never
    past `source_now`; `future_ids`: records stamped after it; `read_problem`: why the read
    may have missed records (None: it added up); `clock_offset`: the source's clock minus ours
    (from its `Date` header; None when it sent none).
    """

    system: str
    entity: str
    records: pd.DataFrame
    window: ReadWindow
    high_water: datetime | None
    states: Mapping[str, PairState] = field(default_factory=dict)
    read_at: datetime | None = None
    read_problem: str | None = None
    source_now: datetime | None = None
    future_ids: tuple[str, ...] = ()
    clock_offset: timedelta | None = None

    @property
    def complete(self) -> bool:
        """True when this is a full read whose pages added up."""
        return self.window.complete and self.read_problem is None

    @property
    def cursor(self) -> datetime | None:
        """Where this read leaves the entity's cursor (the next incremental read starts the
        overlap before it, `window.read_window`): when the read added up, the source's clock as
        the read began (less the `Date` header's one-second resolution), else the newest
        modification time read. Every record stamped before the read began was there to read,
        bar the overlap's allowance, so a quiet entity's next read starts from this read and
        not from its last edit: after a burst of writes, a no-op run reads one page per entity
        again (DESIGN section 6) instead of re-reading the burst until the next edit. Never
        the newest time when the read began earlier: a read of many pages is no instant, and
        one record stamped near its end must not move the cursor past an edit made meanwhile
        to a record of an earlier page (once the read outlasts the overlap, the next read
        would miss that edit). None when the read may have missed records (the cursor stays).
        A read bounded above or by ids saw only part of the entity: its newest time only."""
        if self.read_problem is not None:
            return None
        partial = self.window.until is not None or self.window.ids is not None
        began = None if partial else read_began(self.read_at, self.clock_offset)
        return self.high_water if began is None else began


def read_began(read_at: datetime | None, clock_offset: timedelta | None) -> datetime | None:
    """When a read began on the source's clock: our clock at its start (`read_at`) plus the
    source's offset from ours (measured from a `Date` header, RFC 9110 section 6.6.1: whole
    seconds, so less one second). None without both."""
    if read_at is None or clock_offset is None:
        return None
    return read_at + clock_offset - ServerClock.resolution


def records_frame(records: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    """Keep only `columns`, as raw objects; a property absent from a record becomes `ABSENT`
    (validation quarantines the record rather than sync an unknown value as empty)."""
    rows = [[record.get(column, ABSENT) for column in columns] for record in records]
    return pd.DataFrame(rows, columns=list(columns), dtype=object)


def _parsed(frame: pd.DataFrame, updated_column: str) -> pd.Series:
    return pd.to_datetime(
        frame[updated_column].astype(str), utc=True, errors="coerce", format="ISO8601"
    )


def high_water(
    frame: pd.DataFrame, updated_column: str, now: datetime | None = None
) -> datetime | None:
    """The newest modification time in the snapshot (unparseable values ignored), never past
    `now` (the source's clock) when given."""
    if frame.empty:
        return None
    newest = _parsed(frame, updated_column).max()
    if pd.isna(newest):
        return None
    found: datetime = newest.to_pydatetime()
    return found if now is None else min(found, now)


def future_ids(
    frame: pd.DataFrame, id_column: str, updated_column: str, now: datetime
) -> tuple[str, ...]:
    """Ids of records stamped later than `now` (the source's clock) plus `FUTURE_TOLERANCE`."""
    if frame.empty:
        return ()
    ahead = _parsed(frame, updated_column) > pd.Timestamp(now + FUTURE_TOLERANCE)
    return tuple(str(i) for i in frame.loc[ahead.fillna(False).to_numpy(bool), id_column])


def before(frame: pd.DataFrame, updated_column: str, until: datetime) -> pd.DataFrame:
    """Rows modified before `until`; rows with unreadable timestamps stay (to be quarantined)."""
    parsed = _parsed(frame, updated_column)
    return frame[parsed.isna() | (parsed < pd.Timestamp(until))].reset_index(drop=True)


def _snapshot(
    system: str,
    entity: str,
    frame: pd.DataFrame,
    window: ReadWindow,
    read: PagedRead,
    clock: ServerClock,
    columns: Sequence[str],
) -> Snapshot:
    """The snapshot of one read, its high-water mark capped at the source's now (none when the
    read may have missed records: the cursor stays, and the next run reads them again).

    `columns` starts with the id and the modification time (see `entity_columns`).
    """
    crash_point("after_extract")
    now = clock.now() or datetime.now(UTC)
    reading = clock.last
    id_column, updated_column = columns[0], columns[1]
    return Snapshot(
        system,
        entity,
        frame,
        window,
        None if read.problem else high_water(frame, updated_column, now),
        read_problem=read.problem,
        source_now=now,
        future_ids=future_ids(frame, id_column, updated_column, now),
        clock_offset=None if reading is None else reading.offset,
    )


def extract_webcrm(
    client: WebcrmReader, entity: str, columns: Sequence[str], window: ReadWindow
) -> Snapshot:
    """Full list, or `/Queries` on the modification time for a window."""
    if window.since is None:
        read = client.read_all(entity)
    else:
        read = PagedRead(client.query_updated(entity, window.since, window.until))
    frame = records_frame(read.records, columns)
    return _snapshot("webcrm", entity, frame, window, read, client.server_clock, columns)


def extract_crmoffice(
    client: CrmofficeReader, entity: str, columns: Sequence[str], window: ReadWindow
) -> Snapshot:
    """Full list, or `updatedSince`; the API has no upper bound, so filter it here."""
    read = client.read_all(entity, updated_since=window.since)
    frame = records_frame(read.records, columns)
    if window.until is not None:
        frame = before(frame, columns[1], window.until)
    return _snapshot("crmoffice", entity, frame, window, read, client.server_clock, columns)


def read_warnings(snapshot: Snapshot, sample: int = 20) -> list[str]:
    """One line per thing an operator should know about a read: it may have missed records
    (nothing is orphaned), or records are stamped after the source's now (ids, at most
    `sample` of them)."""
    lines = []
    if snapshot.read_problem:
        lines.append(f"the read may have missed records ({snapshot.read_problem}): no orphans")
    if snapshot.future_ids:
        ids = ", ".join(snapshot.future_ids[:sample])
        more = (
            f" and {len(snapshot.future_ids) - sample} more"
            if len(snapshot.future_ids) > sample
            else ""
        )
        now = snapshot.source_now.isoformat() if snapshot.source_now else "now"
        lines.append(
            f"{len(snapshot.future_ids)} records stamped after the source's clock ({now}): "
            f"{ids}{more}; they sync on their values, the cursor stays at or before that time"
        )
    return lines


def entity_columns(field_map: FieldMap, system: Side, entity: str) -> list[str]:
    """Id, modification time and every property any pair maps on this entity."""
    spec = field_map.entities[system][entity]
    columns = [spec.id, spec.updated_at]
    for pair in field_map.pairs.values():
        if pair.entity(system) == entity:
            columns += [p for p in (f.prop(system) for f in pair.fields) if p not in columns]
    return columns


def read_entity(
    client: Any,
    store: LinkStore,
    field_map: FieldMap,
    system: Side,
    entity: str,
    *,
    mode: Mode,
    partitions: tuple[datetime, datetime] | None,
    overlap: timedelta,
) -> Snapshot:
    """One run's read of a system entity, after the store state of every pair reading it.

    Incremental runs read from the cursor of the pair furthest behind (a full read if any pair
    has none yet); window runs read the `partitions` range; full runs read everything.
    """
    pairs = [pair.name for pair in field_map.pairs.values() if pair.entity(system) == entity]
    name = cursor_name(system, entity)
    states = {pair: store.pair_state(pair, [name]) for pair in pairs}
    cursors = [state.cursors[name] for state in states.values()]
    oldest = None if not cursors or None in cursors else min(c for c in cursors if c)
    window = read_window(mode, oldest, window=partitions, overlap=overlap)
    read_at = datetime.now(UTC)
    reader = extract_webcrm if system == "webcrm" else extract_crmoffice
    columns = entity_columns(field_map, system, entity)
    snapshot = reader(client, entity, columns, window)
    return replace(snapshot, states=states, read_at=read_at)
