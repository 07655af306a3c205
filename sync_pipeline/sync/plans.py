"""The values a pair's plan travels in: each side's validated rows (`SideRows`), the writes of
each direction (`DirectionPlan`), the link-only plan (`LinkPlan`) and the lot (`PlannedPair`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

from sync_pipeline.core import Direction, PairPlan, PairSpec, Side, SideFrame
from sync_pipeline.store import HoldWrite, PairState
from sync_pipeline.sync.extract import read_began
from sync_pipeline.sync.orphans import OrphanCheck
from sync_pipeline.sync.run_guard import PairRun

# How far a system's clock may run behind ours when only our clock says when we read.
CLOCK_SKEW_MARGIN = timedelta(minutes=2)
# The coarsest modification-time resolution of the two systems (WebCRM: whole seconds;
# CRMOffice: milliseconds): records stamped within it of each other may share a stamp.
STAMP_RESOLUTION = timedelta(seconds=1)


@dataclass(frozen=True)
class SideRows:
    """One side of a pair after mapping and validation, with the pair's store state read
    before its snapshot (`state`)."""

    pair: str
    side: Side
    entity: str
    frame: SideFrame
    complete: bool
    high_water: datetime | None
    mode: str
    state: PairState
    read_at: datetime | None = None
    clock_offset: timedelta | None = None
    cursor: datetime | None = None  # where the run moves the entity's cursor (`Snapshot.cursor`)

    def changes_since(self) -> datetime | None:
        """From when (the source's clock) a change is one made after this read: when the read
        began (`extract.read_began`) or its newest record, whichever is earlier (the newest
        record alone is not enough: a read of several pages is no instant, so a record on a
        later page may be stamped after an edit to one on an earlier page). With no offset
        measured: the newest record, else our read time less `CLOCK_SKEW_MARGIN`.

        (An incremental read of a quiet entity is empty: with our clock less the margin, a
        record our previous run wrote less than two minutes ago looked changed since this
        run's read and its update was left for the next run, again and again.)"""
        began = read_began(self.read_at, self.clock_offset)
        known = [t for t in (self.high_water, began) if t is not None]
        if known:
            return min(known)
        return None if self.read_at is None else self.read_at - CLOCK_SKEW_MARGIN

    def settled_before(self) -> datetime | None:
        """The latest stamp whose whole second (`STAMP_RESOLUTION`) was over before this read
        began on the source's clock, so any edit after the read is stamped later (our read
        time less `CLOCK_SKEW_MARGIN` when no offset was measured; None with no read time)."""
        began = read_began(self.read_at, self.clock_offset)
        if began is None and self.read_at is not None:
            began = self.read_at - CLOCK_SKEW_MARGIN
        return None if began is None else began - STAMP_RESOLUTION

    def on_our_clock(self, frame: pd.DataFrame) -> pd.DataFrame:
        """`frame` with its update times moved from the source's clock to ours."""
        if self.clock_offset is None or not self.clock_offset:
            return frame
        return frame.assign(updated_at=frame["updated_at"] - self.clock_offset)


@dataclass(frozen=True)
class DirectionPlan:
    """The writes of one direction, as its sink applies them.

    `run`: the run that made the plan (only it may apply it, and only on its basis);
    `source_times`: modification time of each source record written (a failed write holds
    the cursor before it); `conflicts`: per WebCRM id, the conflicts these writes resolve;
    `target_times`: modification time of each record to update as the target snapshot saw it;
    `target_changes_since`: from when (the target's own clock) a change to a target is one made
    after the snapshot (its high-water mark or when its read began, whichever is earlier; else
    its read time less a skew margin).
    `target_settled_before`: a target stamped at or before this (the target's clock) was stamped
    in a second over before the read began, so an edit after the read carries a later stamp
    (None: no stamp is known to be); `target_values`: for each target to update stamped after
    it, its canonical field values as read (field name -> value), which a re-read finding the
    same stamp compares instead (a stamp has whole seconds: a later edit may share it).
    `given_up`: source records whose writes this way were given up on (left out of the plan).
    """

    pair: str
    direction: Direction
    run: PairRun
    creates: pd.DataFrame
    updates: pd.DataFrame
    source_times: Mapping[str, datetime]
    conflicts: Mapping[str, dict[str, object]]
    target_times: Mapping[str, datetime] = field(default_factory=dict)
    target_changes_since: datetime | None = None
    given_up: int = 0
    target_settled_before: datetime | None = None
    target_values: Mapping[str, Mapping[str, object]] = field(default_factory=dict)


@dataclass(frozen=True)
class LinkPlan:
    """The whole pair plan (its link-only actions are applied first) and its run;
    `reactivated`: WebCRM ids of orphaned links seen again (active again before any write);
    `holds` to keep in the store and the (side, id) holds `settled` by links."""

    plan: PairPlan
    run: PairRun
    reactivated: tuple[str, ...] = ()
    holds: tuple[HoldWrite, ...] = ()
    settled: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PlannedPair:
    """A pair's plan cut for its sinks, the active link count it was made against, and what
    confirming its orphans found."""

    plan: PairPlan
    to_crmoffice: DirectionPlan
    to_webcrm: DirectionPlan
    links: LinkPlan
    linked: int
    orphan_check: OrphanCheck = field(default_factory=OrphanCheck)

    def of(self, direction: Direction) -> DirectionPlan:
        """The writes of `direction`."""
        return self.to_crmoffice if direction == "to_crmoffice" else self.to_webcrm


def field_values(
    frame: pd.DataFrame, pair: PairSpec, ids: Set[str]
) -> dict[str, dict[str, object]]:
    """Canonical values of the records `ids` of a valid side frame (`core.SideFrame.valid`):
    id -> field name -> value, a missing value (NA, NaN) as None."""
    if not ids or frame.empty:
        return {}
    names = list(pair.field_names)
    rows = frame.loc[frame["id"].astype(str).isin(ids), ["id", *names]]
    return {str(r["id"]): {n: _plain(r[n]) for n in names} for r in rows.to_dict("records")}


def _plain(value: object) -> object:
    missing = value is None or value is pd.NA or value is pd.NaT
    return None if missing or (isinstance(value, float) and math.isnan(value)) else value
