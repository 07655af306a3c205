"""Gather what a pair's plan needs from the store, then call the pure core."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from sync_pipeline.core import (
    ConflictPolicy,
    FieldMap,
    PairPlan,
    PairSpec,
    SideFrame,
    plan_pair_sync,
    prepare_side,
)
from sync_pipeline.store import LinkStore
from sync_pipeline.sync.extract import Snapshot


@dataclass(frozen=True)
class SideRows:
    """One side of a pair after mapping and validation."""

    pair: str
    side: str
    entity: str
    frame: SideFrame
    complete: bool
    high_water: datetime | None
    mode: str

    @property
    def bad_share(self) -> float:
        """Share of the read rows that were quarantined."""
        total = len(self.frame.valid) + len(self.frame.quarantined)
        return len(self.frame.quarantined) / total if total else 0.0


@dataclass(frozen=True)
class DirectionPlan:
    """The writes of one direction, as the sink applies them."""

    pair: str
    direction: str
    creates: pd.DataFrame
    updates: pd.DataFrame
    basis: int
    cursors: dict[tuple[str, str], datetime]


@dataclass(frozen=True)
class LinkPlan:
    """The whole pair plan (its link-only actions are applied first) and the store basis."""

    plan: PairPlan
    basis: int


def side_rows(snapshot: Snapshot, pair: PairSpec, side: str, field_map: FieldMap) -> SideRows:
    """Map and validate one snapshot for one pair."""
    frame = prepare_side(snapshot.records, pair, side, field_map.entities)  # type: ignore[arg-type]
    return SideRows(
        pair.name,
        side,
        snapshot.entity,
        frame,
        snapshot.complete,
        snapshot.high_water,
        snapshot.window.mode,
    )


def _given_up(store: LinkStore, pair: str) -> tuple[set[str], set[str]]:
    """Records whose writes were given up on: WebCRM ids (source of `to_crmoffice`) and
    CRMOffice ids (source of `to_webcrm`)."""
    frame = store.failures_frame(pair, status="given_up")
    by_direction = frame.groupby("direction")["record_id"] if len(frame) else None
    ids: dict[str, set[str]] = {"to_crmoffice": set(), "to_webcrm": set()}
    if by_direction is not None:
        for direction, records in by_direction:
            ids[str(direction)] = {str(r) for r in records}
    return ids["to_crmoffice"], ids["to_webcrm"]


def plan_pair(
    pair: PairSpec,
    webcrm: SideRows,
    crmoffice: SideRows,
    store: LinkStore,
    *,
    policy: ConflictPolicy,
    now: datetime,
    claimed_elsewhere: set[str] | frozenset[str] = frozenset(),
) -> PairPlan:
    """The pair's plan over the rows that are usable right now.

    Quarantined records, and records whose writes were given up on, count as unchanged (never
    as deleted or unlinked, which would re-create them); contacts owned by another pair (in
    the store, or `claimed_elsewhere` by its plan in this run) are neither matched nor created
    from.
    """
    names = list(pair.field_names)
    orphaned = store.links_frame(pair.name, names, status="orphaned")
    gave_up_w, gave_up_c = _given_up(store, pair.name)
    return plan_pair_sync(
        pair,
        webcrm.frame.valid,
        crmoffice.frame.valid,
        store.links_frame(pair.name, names),
        store.open_intents(pair.name, names),
        complete=webcrm.complete and crmoffice.complete,
        policy=policy,
        now=now,
        excluded_crmoffice_ids=frozenset(
            store.linked_ids(pair.crmoffice_entity, exclude_pair=pair.name) | claimed_elsewhere
        ),
        orphaned_webcrm_ids=frozenset(orphaned["webcrm_id"]),
        orphaned_crmoffice_ids=frozenset(orphaned["crmoffice_id"]),
        quarantined_webcrm_ids=frozenset(_ids(webcrm.frame.quarantined) | gave_up_w),
        quarantined_crmoffice_ids=frozenset(_ids(crmoffice.frame.quarantined) | gave_up_c),
    )


def _ids(quarantined: pd.DataFrame) -> set[str]:
    return {str(i) for i in quarantined["record_id"] if str(i)}
