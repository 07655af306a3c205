"""Gather what a pair's plan needs from the store, then call the pure core."""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from sync_pipeline.core import (
    ConflictPolicy,
    FieldMap,
    PairPlan,
    PairSpec,
    SideFrame,
    canonical_payloads,
    plan_pair_sync,
    prepare_side,
)
from sync_pipeline.store import LinkStore
from sync_pipeline.sync.extract import Snapshot

# Clock skew allowed between an intent (our clock) and the record it made (the API's clock).
INTENT_TOLERANCE = timedelta(seconds=120)


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
    basis: str

    @property
    def bad_share(self) -> float:
        """Share of the read rows that were quarantined."""
        total = len(self.frame.valid) + len(self.frame.quarantined)
        return len(self.frame.quarantined) / total if total else 0.0


@dataclass(frozen=True)
class DirectionPlan:
    """The writes of one direction, as the sink applies them.

    `run_id`: the run that made the plan (only that run may apply it); `basis`: the pair's
    store state it was made from; `source_times`: modification time of each source record
    written (a failed write holds the cursor before it); `conflicts`: per WebCRM id, the
    conflicts this direction's writes resolve (for the link history).
    """

    pair: str
    direction: str
    run_id: str
    basis: str
    creates: pd.DataFrame
    updates: pd.DataFrame
    source_times: dict[str, datetime]
    conflicts: dict[str, dict[str, object]]
    cursors: dict[tuple[str, str], datetime]


@dataclass(frozen=True)
class LinkPlan:
    """The whole pair plan (its link-only actions are applied first), its run and basis."""

    plan: PairPlan
    run_id: str
    basis: str


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
        snapshot.bases.get(pair.name, ""),
    )


def _given_up(
    store: LinkStore, pair: str, webcrm: pd.DataFrame, crmoffice: pd.DataFrame
) -> tuple[set[str], set[str]]:
    """Source records whose writes were given up on and that nobody edited since: WebCRM ids
    (source of `to_crmoffice`) and CRMOffice ids (source of `to_webcrm`). An edit after the
    last failure earns the record one more try."""
    failures = store.failures_frame(pair, status="given_up")
    found: dict[str, set[str]] = {}
    for direction, side in (("to_crmoffice", webcrm), ("to_webcrm", crmoffice)):
        rows = failures[failures["direction"] == direction]
        edited = rows.merge(side[["id", "updated_at"]], left_on="record_id", right_on="id")
        retry = set(edited.loc[edited["updated_at"] > edited["last_at"], "record_id"])
        found[direction] = set(rows["record_id"]) - retry
    return found["to_crmoffice"], found["to_webcrm"]


def intent_claims(
    store: LinkStore, others: Sequence[PairSpec], crmoffice: pd.DataFrame
) -> set[str]:
    """Unlinked records another pair may have created in a crashed run (equal to one of its
    open create intents, and modified after it): they are that pair's to adopt, never this
    pair's to match or create from."""
    claimed: set[str] = set()
    for other in others:
        names = list(other.field_names)
        intents = canonical_payloads(store.open_intents(other.name, names), other)
        intents = intents[intents["direction"] == "to_crmoffice"]
        if intents.empty:
            continue
        since = intents["created_at"].min() - INTENT_TOLERANCE
        recent = crmoffice[crmoffice["updated_at"] >= since]
        if names:
            recent = recent.merge(intents[names].drop_duplicates(), on=names)
        claimed |= set(recent["id"])
    return claimed


def plan_pair(
    pair: PairSpec,
    webcrm: SideRows,
    crmoffice: SideRows,
    store: LinkStore,
    *,
    policy: ConflictPolicy,
    now: datetime,
    sharing: Sequence[PairSpec] = (),
    claimed_elsewhere: Set[str] = frozenset(),
) -> PairPlan:
    """The pair's plan over the rows that are usable right now.

    Quarantined records, and records whose writes were given up on, count as unchanged (never
    as deleted or unlinked, which would re-create them). Contacts owned by a `sharing` pair —
    linked in the store, claimed by its plan in this run (`claimed_elsewhere`), or awaiting
    adoption by one of its open intents — are neither matched nor created from.
    """
    names = list(pair.field_names)
    orphaned = store.links_frame(pair.name, names, status="orphaned")
    web, crm = webcrm.frame.valid, crmoffice.frame.valid
    gave_up_w, gave_up_c = _given_up(store, pair.name, web, crm)
    excluded = set(claimed_elsewhere) | intent_claims(store, sharing, crm)
    excluded |= store.linked_ids(pair.crmoffice_entity, exclude_pair=pair.name)
    return plan_pair_sync(
        pair,
        web[~web["id"].isin(gave_up_w)].reset_index(drop=True),
        crm[~crm["id"].isin(gave_up_c)].reset_index(drop=True),
        store.links_frame(pair.name, names),
        store.open_intents(pair.name, names),
        complete=webcrm.complete and crmoffice.complete,
        policy=policy,
        now=now,
        excluded_crmoffice_ids=frozenset(excluded),
        orphaned_webcrm_ids=frozenset(orphaned["webcrm_id"]),
        orphaned_crmoffice_ids=frozenset(orphaned["crmoffice_id"]),
        quarantined_webcrm_ids=frozenset(_ids(webcrm.frame.quarantined) | gave_up_w),
        quarantined_crmoffice_ids=frozenset(_ids(crmoffice.frame.quarantined) | gave_up_c),
        intent_tolerance_seconds=INTENT_TOLERANCE.total_seconds(),
    )


def _ids(quarantined: pd.DataFrame) -> set[str]:
    return {str(i) for i in quarantined["record_id"] if str(i)}
