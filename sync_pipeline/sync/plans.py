"""The values a pair's plan travels in: each side's validated rows (`SideRows`), the writes of
each direction (`DirectionPlan`), the link-only plan (`LinkPlan`) and the lot (`PlannedPair`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

from sync_pipeline.core import Direction, PairPlan, Side, SideFrame
from sync_pipeline.store import HoldWrite, PairState
from sync_pipeline.sync.orphans import OrphanCheck
from sync_pipeline.sync.run_guard import PairRun


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
    after the snapshot (its high-water mark, else its read time less a skew margin).
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
