"""Plan one pair: map and validate each side's snapshot, read the store once, call the pure core,
and cut the plan into what each sink step applies (stamped with the run's `PairRun`)."""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import replace
from datetime import datetime, timedelta

import pandas as pd

from sync_pipeline.core import (
    DIRECTIONS,
    SOURCE_SIDE,
    TARGET_SIDE,
    Direction,
    FieldMap,
    PairPlan,
    PairSpec,
    Side,
    SideFrame,
    canonical_payloads,
    empty_plan,
    plan_pair_sync,
    prepare_side,
)
from sync_pipeline.store import LinkIds, LinkStore, PairBasis, PlanInputs
from sync_pipeline.sync.crashpoints import crash_point
from sync_pipeline.sync.extract import Snapshot
from sync_pipeline.sync.holds import holds_to_keep, standing_holds, with_held_rows
from sync_pipeline.sync.orphans import RecordLookup, confirm_orphans, seen_again
from sync_pipeline.sync.plans import (
    DirectionPlan,
    LinkPlan,
    PlannedPair,
    SideRows,
    field_values,
)
from sync_pipeline.sync.run_guard import PairRun, cursor_name

INTENT_COLUMNS = ("intent_id", "direction", "source_id", "created_at")
# The `Date` header's resolution (RFC 9110 section 5.6.7: whole seconds).
DATE_RESOLUTION = timedelta(seconds=1)
# Clock skew allowed between an intent (our clock) and the record it made (the API's clock).
INTENT_TOLERANCE = timedelta(seconds=120)


def side_rows(
    snapshot: Snapshot, pair: PairSpec, side: Side, field_map: FieldMap, store: LinkStore
) -> SideRows:
    """Map and validate one snapshot for one pair (bad rows quarantined, see `prepare_side`).

    On a CRMOffice entity several pairs read, a bad record another pair links is that pair's
    to quarantine and count: it never counts against this pair's bad-row share.
    """
    frame = prepare_side(snapshot.records, pair, side, field_map.entities)
    if side == "crmoffice" and len(frame.quarantined):
        bad = [str(i) for i in frame.quarantined["record_id"] if str(i)]
        theirs = store.linked_elsewhere(pair.crmoffice_entity, pair.name, bad)
        if theirs:
            mine = ~frame.quarantined["record_id"].astype(str).isin(theirs)
            frame = SideFrame(frame.valid, frame.quarantined[mine].reset_index(drop=True))
    return SideRows(
        pair.name,
        side,
        snapshot.entity,
        frame,
        snapshot.complete,
        snapshot.high_water,
        snapshot.window.mode,
        snapshot.states[pair.name],
        snapshot.read_at,
        snapshot.clock_offset,
        snapshot.cursor,
    )


def sharing_pairs(pair: PairSpec, field_map: FieldMap) -> list[PairSpec]:
    """Contacts are shared by two pairs: a pair that creates WebCRM records from a shared
    CRMOffice entity plans after the other pairs on it, and leaves alone the records they
    link, hold or may have created (a user's contact never spawns a person)."""
    if "to_webcrm" not in pair.creates:
        return []
    return [
        other
        for other in field_map.pairs.values()
        if other.name != pair.name and other.crmoffice_entity == pair.crmoffice_entity
    ]


def plan_pair(
    pair: PairSpec,
    field_map: FieldMap,
    webcrm: SideRows,
    crmoffice: SideRows,
    store: LinkStore,
    *,
    run_id: str,
    now: datetime,
    claimed_elsewhere: Set[str] = frozenset(),
    lookups: Mapping[Side, RecordLookup] | None = None,
    link_ids: LinkIds | None = None,
) -> PlannedPair:
    """The pair's plan over the rows usable right now, cut for its sinks.

    Orphaned links both of whose records were read are planned as active (and reactivated by
    the links step); a would-be orphan is kept only once `lookups` (each side's client) confirm
    its record gone by a GET by id (`sync.orphans`).

    Quarantined records, and records whose writes were given up on, count as unchanged (never
    as deleted or unlinked, which would re-create them). Contacts owned by a sharing pair —
    linked in the store, claimed by its plan in this run (`claimed_elsewhere`), or awaiting
    adoption by one of its open intents — are neither matched nor created from.

    `link_ids` (WebCRM ids, CRMOffice ids): a targeted run plans against the links holding
    those ids only (the other links are simply unread); its reads by id cover those links, so
    a linked record its GET did not find is a candidate orphan, confirmed as above.
    """
    names = list(pair.field_names)
    sharing = {other.name: other for other in sharing_pairs(pair, field_map)}
    sharing_fields = {name: list(other.field_names) for name, other in sharing.items()}
    inputs = store.plan_inputs(
        pair.name,
        names,
        pair.crmoffice_entity,
        sharing_fields,
        link_ids,
        scope=None if link_ids is not None else _read_scope(webcrm, crmoffice),
    )
    if link_ids is None and _nothing_to_plan(webcrm, crmoffice, inputs):
        return _nothing_planned(pair, webcrm, crmoffice, inputs, run_id=run_id, now=now)
    held = standing_holds(inputs.holds, inputs.links, names)
    web = with_held_rows(webcrm.frame.valid, held.rows["webcrm"])
    crm = with_held_rows(crmoffice.frame.valid, held.rows["crmoffice"])
    gave_up_w, gave_up_c = _given_up(inputs.given_up, web, crm)
    excluded = (
        set(claimed_elsewhere) | _intent_claims(inputs, crm, sharing) | inputs.linked_elsewhere
    )
    excluded |= inputs.sharing_holds
    again = seen_again(
        inputs.links,
        set(web["id"]) | _ids(webcrm.frame.quarantined),
        set(crm["id"]) | _ids(crmoffice.frame.quarantined),
    )
    links = inputs.links.assign(status=inputs.links["status"].where(~again, "active"))
    orphaned = links[links["status"] == "orphaned"]
    active = links[links["status"] == "active"].reset_index(drop=True)
    plan = plan_pair_sync(
        pair,
        webcrm.on_our_clock(web[~web["id"].isin(gave_up_w)].reset_index(drop=True)),
        crmoffice.on_our_clock(crm[~crm["id"].isin(gave_up_c)].reset_index(drop=True)),
        active,
        inputs.intents,
        # A targeted run read every record of the links it plans against by id (with their
        # partners: `sync.targeted.with_partners`), so one missing from it answered 404/410:
        # as good a candidate orphan as one missing from a full list, and confirmed alike.
        complete=link_ids is not None or (webcrm.complete and crmoffice.complete),
        now=now,
        excluded_crmoffice_ids=frozenset(excluded),
        orphaned_webcrm_ids=frozenset(orphaned["webcrm_id"]),
        orphaned_crmoffice_ids=frozenset(orphaned["crmoffice_id"]),
        quarantined_webcrm_ids=frozenset(_ids(webcrm.frame.quarantined) | gave_up_w),
        quarantined_crmoffice_ids=frozenset(_ids(crmoffice.frame.quarantined) | gave_up_c),
        intent_tolerance_seconds=INTENT_TOLERANCE.total_seconds(),
        tie_within_seconds=_clock_uncertainty(webcrm, crmoffice),
        standing=held.standing,
    )
    plan, check = confirm_orphans(plan, pair, lookups)
    crash_point("after_plan")
    run = PairRun(pair.name, run_id, *_run_of(webcrm, crmoffice))
    given_up: dict[Direction, int] = {"to_crmoffice": len(gave_up_w), "to_webcrm": len(gave_up_c)}
    rows: dict[Side, SideRows] = {"webcrm": webcrm, "crmoffice": crmoffice}
    # A plan of a partial read sees only some links: the breaker weighs against them all.
    linked = len(active) if inputs.links_complete else max(len(active), webcrm.state.linked)
    cut = _cut(pair, plan, rows, run, linked, given_up)
    keep, settled = holds_to_keep(plan, {"webcrm": web, "crmoffice": crm}, held)
    reactivated = tuple(inputs.links.loc[again, "webcrm_id"].astype(str))
    link_plan = LinkPlan(plan, run, reactivated, keep, settled)
    return replace(cut, links=link_plan, orphan_check=check)


def _nothing_to_plan(webcrm: SideRows, crmoffice: SideRows, inputs: PlanInputs) -> bool:
    """Whether the plan is certain to be empty: neither read found a record (valid or
    quarantined) and the store holds nothing the pair acts on without one: no link in scope,
    hold (even an open one: the plan weighs held records again), open intent or given-up
    write, for the pair or the pairs sharing its records. A quiet incremental run of a pair
    with no open hold."""
    frames = (webcrm.frame, crmoffice.frame)
    pending = (inputs.links, inputs.holds, inputs.intents, inputs.given_up)
    return (
        all(frame.valid.empty and frame.quarantined.empty for frame in frames)
        and all(table.empty for table in pending)
        and all(table.empty for table in inputs.sharing_intents.values())
        and not inputs.sharing_holds
        and not inputs.linked_elsewhere
    )


def _nothing_planned(
    pair: PairSpec,
    webcrm: SideRows,
    crmoffice: SideRows,
    inputs: PlanInputs,
    *,
    run_id: str,
    now: datetime,
) -> PlannedPair:
    """`plan_pair`'s result when `_nothing_to_plan`: the empty plan (`core.empty_plan`), cut
    the same way, so the sinks only move the cursors. About 0.04 s less per pair than the
    frame arithmetic on empty frames (`test_planning_fast_path.py` holds the two equal)."""
    plan = empty_plan(pair, now=now, complete=webcrm.complete and crmoffice.complete)
    crash_point("after_plan")
    run = PairRun(pair.name, run_id, *_run_of(webcrm, crmoffice))
    linked = 0 if inputs.links_complete else webcrm.state.linked
    rows: dict[Side, SideRows] = {"webcrm": webcrm, "crmoffice": crmoffice}
    cut = _cut(pair, plan, rows, run, linked, {"to_crmoffice": 0, "to_webcrm": 0})
    return replace(cut, links=LinkPlan(plan, run))


def _read_scope(webcrm: SideRows, crmoffice: SideRows) -> LinkIds | None:
    """The records a plan of two partial reads (incremental or window) can see: those read,
    quarantined ones included (`LinkStore.plan_inputs` adds those its holds and intents name),
    so it reads their links only, not the pair's whole table (a no-op run of a large store
    plans in milliseconds). None when either read was full: its plan needs every link."""
    if webcrm.mode == "full" or crmoffice.mode == "full" or webcrm.complete or crmoffice.complete:
        return None
    ids = [
        sorted({str(i) for i in rows.frame.valid["id"]} | _ids(rows.frame.quarantined))
        for rows in (webcrm, crmoffice)
    ]
    return ids[0], ids[1]


def _clock_uncertainty(webcrm: SideRows, crmoffice: SideRows) -> float:
    """How close two update times may be and still be a tie, seconds (issue: clock skew must
    not decide a conflict): each side's time was moved to our clock by an offset read from a
    `Date` header, good to its one-second resolution. No offset measured: exact times only."""
    measured = [rows for rows in (webcrm, crmoffice) if rows.clock_offset is not None]
    return DATE_RESOLUTION.total_seconds() * len(measured) if len(measured) == 2 else 0.0


def _run_of(webcrm: SideRows, crmoffice: SideRows) -> tuple[PairBasis, dict[str, datetime]]:
    """The earlier of the two bases (a write between the two snapshots makes the plan stale)
    and the cursors to move to (window runs move none)."""
    bases = (webcrm.state.basis, crmoffice.state.basis)
    basis = PairBasis(min(b.history_id for b in bases), min(b.intent_id for b in bases))
    cursors = {
        cursor_name(rows.side, rows.entity): rows.cursor
        for rows in (webcrm, crmoffice)
        if rows.mode != "window" and rows.cursor is not None
    }
    return basis, cursors


def _cut(
    pair: PairSpec,
    plan: PairPlan,
    rows: Mapping[Side, SideRows],
    run: PairRun,
    linked: int,
    given_up: Mapping[Direction, int],
) -> PlannedPair:
    """What each sink needs: its direction's creates and updates, and the link-only actions."""
    cut: dict[Direction, DirectionPlan] = {}
    for direction in DIRECTIONS:
        source, target = SOURCE_SIDE[direction], TARGET_SIDE[direction]
        creates, updates = plan.creates[direction], plan.updates[direction]
        written = pd.concat([creates["source_id"], updates[f"{source}_id"]])
        seen = _times(rows[target].frame.valid, updates[f"{target}_id"])
        settled = rows[target].settled_before()
        unsettled = {i for i, t in seen.items() if settled is None or t > settled}
        cut[direction] = DirectionPlan(
            pair.name,
            direction,
            run,
            creates,
            updates,
            _times(rows[source].frame.valid, written),
            _conflicts(plan, source),
            seen,
            rows[target].changes_since(),
            given_up[direction],
            settled,
            field_values(rows[target].frame.valid, pair, unsettled),
        )
    return PlannedPair(plan, cut["to_crmoffice"], cut["to_webcrm"], LinkPlan(plan, run), linked)


def _times(frame: pd.DataFrame, ids: pd.Series) -> dict[str, datetime]:
    rows = frame[frame["id"].isin(ids)]
    return dict(zip(rows["id"], rows["updated_at"].dt.to_pydatetime(), strict=True))


def _conflicts(plan: PairPlan, winner: str) -> dict[str, dict[str, object]]:
    rows = plan.conflicts[plan.conflicts["winner"] == winner]
    keep = ["webcrm_value", "crmoffice_value", "shadow_value", "winner", "rule"]
    return {
        str(webcrm_id): {str(r["field"]): {k: r[k] for k in keep} for r in group.to_dict("records")}
        for webcrm_id, group in rows.groupby("webcrm_id", sort=True)
    }


def _given_up(
    failures: pd.DataFrame, webcrm: pd.DataFrame, crmoffice: pd.DataFrame
) -> tuple[set[str], set[str]]:
    """Source records whose writes were given up on and that nobody edited since: WebCRM ids
    (source of `to_crmoffice`) and CRMOffice ids (source of `to_webcrm`). An edit after the
    last failure earns the record one more try."""
    found: dict[str, set[str]] = {}
    for direction, side in (("to_crmoffice", webcrm), ("to_webcrm", crmoffice)):
        rows = failures[failures["direction"] == direction]
        edited = rows.merge(side[["id", "updated_at"]], left_on="record_id", right_on="id")
        retry = set(edited.loc[edited["updated_at"] > edited["last_at"], "record_id"])
        found[direction] = set(rows["record_id"]) - retry
    return found["to_crmoffice"], found["to_webcrm"]


def _intent_claims(
    inputs: PlanInputs, crmoffice: pd.DataFrame, sharing: Mapping[str, PairSpec]
) -> set[str]:
    """Unlinked records another pair may have created in a crashed run (equal to one of its
    open create intents, and modified after it): they are that pair's to adopt, never this
    pair's to match or create from."""
    claimed: set[str] = set()
    for name, intents in inputs.sharing_intents.items():
        intents = canonical_payloads(intents, sharing[name])
        if intents.empty:
            continue
        names = [c for c in intents.columns if c not in INTENT_COLUMNS]
        since = intents["created_at"].min() - INTENT_TOLERANCE
        recent = crmoffice[crmoffice["updated_at"] >= since]
        if names:
            recent = recent.merge(intents[names].drop_duplicates(), on=names)
        claimed |= set(recent["id"])
    return claimed


def _ids(quarantined: pd.DataFrame) -> set[str]:
    return {str(i) for i in quarantined["record_id"] if str(i)}
