"""Gather what a pair's plan needs from the store, then call the pure core."""

from __future__ import annotations

from collections.abc import Set
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


def failure_key(side: str, record_id: str) -> str:
    """Failures are keyed by side, since ids of the two systems may collide."""
    return f"{side}:{record_id}"


def _given_up(store: LinkStore, pair: str) -> tuple[set[str], set[str]]:
    frame = store.failures_frame(pair, status="given_up")
    keys = [str(k) for k in frame["record_id"]] if len(frame) else []
    webcrm = {k.split(":", 1)[1] for k in keys if k.startswith("webcrm:")}
    crmoffice = {k.split(":", 1)[1] for k in keys if k.startswith("crmoffice:")}
    return webcrm, crmoffice


def plan_pair(
    pair: PairSpec,
    webcrm: SideRows,
    crmoffice: SideRows,
    store: LinkStore,
    *,
    claimed_elsewhere: Set[str],
    policy: ConflictPolicy,
    now: datetime,
) -> PairPlan:
    """The pair's plan over the rows that are usable right now.

    Records that are quarantined, or whose writes were given up on, are left out together with
    their linked partner, so that neither looks deleted nor unlinked (which would re-create it).
    Contacts owned by another pair are left out entirely.
    """
    names = [f.name for f in pair.fields]
    links = store.links_frame(pair.name, names)
    orphaned = store.links_frame(pair.name, names, status="orphaned")
    gave_up_w, gave_up_c = _given_up(store, pair.name)
    bad_w = set(webcrm.frame.quarantined["record_id"].astype(str)) | gave_up_w
    bad_c = set(crmoffice.frame.quarantined["record_id"].astype(str)) | gave_up_c
    unusable = links["webcrm_id"].isin(bad_w) | links["crmoffice_id"].isin(bad_c)
    skip_w = bad_w | set(links.loc[unusable, "webcrm_id"])
    skip_c = bad_c | set(links.loc[unusable, "crmoffice_id"]) | set(claimed_elsewhere)
    skip_c |= store.linked_ids(pair.crmoffice_entity, exclude_pair=pair.name)
    webcrm_valid = webcrm.frame.valid[~webcrm.frame.valid["id"].isin(skip_w)]
    crmoffice_valid = crmoffice.frame.valid[~crmoffice.frame.valid["id"].isin(skip_c)]
    return plan_pair_sync(
        pair,
        webcrm_valid.reset_index(drop=True),
        crmoffice_valid.reset_index(drop=True),
        links[~unusable].reset_index(drop=True),
        store.open_intents(pair.name, names),
        complete=webcrm.complete and crmoffice.complete,
        policy=policy,
        orphaned_webcrm_ids=frozenset(orphaned["webcrm_id"]),
        orphaned_crmoffice_ids=frozenset(orphaned["crmoffice_id"]),
        now=now,
    )
