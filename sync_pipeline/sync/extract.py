"""Read one system entity into a raw snapshot frame (values untouched: validation comes later)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import pandas as pd

from sync_pipeline.core import ABSENT, FieldMap, Side
from sync_pipeline.store import LinkStore, PairState
from sync_pipeline.sync.crashpoints import crash_point
from sync_pipeline.sync.run_guard import cursor_name
from sync_pipeline.sync.window import Mode, ReadWindow, read_window


class WebcrmReader(Protocol):
    """The part of `WebcrmClient` extraction needs."""

    def list_all(self, entity: str) -> list[dict[str, Any]]: ...

    def query_updated(
        self, entity: str, since: datetime, until: datetime | None = None
    ) -> list[dict[str, Any]]: ...


class CrmofficeReader(Protocol):
    """The part of `CrmofficeClient` extraction needs."""

    def list_all(
        self, entity: str, updated_since: datetime | None = None
    ) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Snapshot:
    """Raw records of one system entity as read by one run.

    `read_at`: when the read began (our clock). `states`: per pair reading this entity, its
    store state (basis, cursors, link count) read just before the records: a plan made from
    this snapshot is applied only if no other run wrote to the pair since, or it could
    re-create what that run created.
    """

    system: str
    entity: str
    records: pd.DataFrame
    window: ReadWindow
    high_water: datetime | None
    states: Mapping[str, PairState] = field(default_factory=dict)
    read_at: datetime | None = None

    @property
    def complete(self) -> bool:
        """True when this is a full read."""
        return self.window.complete


def records_frame(records: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    """Keep only `columns`, as raw objects; a property absent from a record becomes `ABSENT`
    (validation quarantines the record rather than sync an unknown value as empty)."""
    rows = [[record.get(column, ABSENT) for column in columns] for record in records]
    return pd.DataFrame(rows, columns=list(columns), dtype=object)


def high_water(frame: pd.DataFrame, updated_column: str) -> datetime | None:
    """The newest modification time in the snapshot (unparseable values ignored)."""
    if frame.empty:
        return None
    parsed = pd.to_datetime(
        frame[updated_column].astype(str), utc=True, errors="coerce", format="ISO8601"
    )
    newest = parsed.max()
    return None if pd.isna(newest) else newest.to_pydatetime()


def before(frame: pd.DataFrame, updated_column: str, until: datetime) -> pd.DataFrame:
    """Rows modified before `until`; rows with unreadable timestamps stay (to be quarantined)."""
    parsed = pd.to_datetime(
        frame[updated_column].astype(str), utc=True, errors="coerce", format="ISO8601"
    )
    return frame[parsed.isna() | (parsed < pd.Timestamp(until))].reset_index(drop=True)


def extract_webcrm(
    client: WebcrmReader,
    entity: str,
    columns: Sequence[str],
    updated_column: str,
    window: ReadWindow,
) -> Snapshot:
    """Full list, or `/Queries` on the modification time for a window."""
    if window.since is None:
        records = client.list_all(entity)
    else:
        records = client.query_updated(entity, window.since, window.until)
    frame = records_frame(records, columns)
    crash_point("after_extract")
    return Snapshot("webcrm", entity, frame, window, high_water(frame, updated_column))


def extract_crmoffice(
    client: CrmofficeReader,
    entity: str,
    columns: Sequence[str],
    updated_column: str,
    window: ReadWindow,
) -> Snapshot:
    """Full list, or `updatedSince`; the API has no upper bound, so filter it here."""
    frame = records_frame(client.list_all(entity, updated_since=window.since), columns)
    if window.until is not None:
        frame = before(frame, updated_column, window.until)
    crash_point("after_extract")
    return Snapshot("crmoffice", entity, frame, window, high_water(frame, updated_column))


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
    snapshot = reader(
        client, entity, columns, field_map.entities[system][entity].updated_at, window
    )
    return replace(snapshot, states=states, read_at=read_at)
