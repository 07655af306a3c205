"""Read one system entity into a raw snapshot frame (values untouched: validation comes later)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import pandas as pd

from sync_pipeline.core import ABSENT
from sync_pipeline.sync.crashpoints import crash_point
from sync_pipeline.sync.window import ReadWindow


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

    `bases`: each pair's link-store state (see `pair_steps.pair_basis`) read just before the
    records: a plan made from this snapshot is applied only if no other run wrote to the pair
    since, or it could re-create what that run created.
    """

    system: str
    entity: str
    records: pd.DataFrame
    window: ReadWindow
    high_water: datetime | None
    bases: Mapping[str, str] = field(default_factory=dict)

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
