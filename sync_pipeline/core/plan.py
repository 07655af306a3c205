"""`plan_pair_sync`: everything one sync of one pair would do, as frames (a dry run's output).

Order matters: links are diffed first (three-way, per field); then open intents are
reconciled, then unlinked records are matched by keys, and whatever is still unlinked is
created in the pair's allowed directions. Nothing here depends on input row order.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sync_pipeline.core.align import IntArray, member_mask, positions
from sync_pipeline.core.diff import DiffResult, LinkedValues, SideValues, three_way_diff
from sync_pipeline.core.fieldmap import PairSpec
from sync_pipeline.core.frames import creates_frame, held_frame, links_frame, orphans_frame
from sync_pipeline.core.intents import IntentOutcome, reconcile_intents
from sync_pipeline.core.matching import MatchOutcome, match_records
from sync_pipeline.core.normalize import ArrowStrings, join_columns, to_arrow
from sync_pipeline.core.pairplan import ConflictPolicy, PairPlan
from sync_pipeline.core.schemas import TIMESTAMP_DTYPE
from sync_pipeline.core.types import DIRECTIONS, Direction, Side


def _side_input(frame: pd.DataFrame, fields: tuple[str, ...]) -> pd.DataFrame:
    """The side frame with `str` ids and every field column present ("" when absent)."""
    columns = {"id": frame["id"] if frame["id"].dtype == "str" else frame["id"].astype("str")}
    columns["updated_at"] = frame["updated_at"].astype(TIMESTAMP_DTYPE)
    for f in fields:
        columns[f] = frame[f] if f in frame.columns else pd.Series([""] * len(frame), dtype="str")
    return pd.DataFrame(columns, index=pd.RangeIndex(len(frame)))


def _shadow(links: pd.DataFrame, field: str) -> ArrowStrings:
    if field not in links.columns:  # a field newly added to the map: nothing agreed yet
        return pa.array([""] * len(links), type=pa.large_string())
    values = to_arrow(links[field])
    return pc.fill_null(values, "") if values.null_count else values


def _side_values(
    frame: pd.DataFrame, fields: tuple[str, ...], rows: IntArray, joined: ArrowStrings | None = None
) -> SideValues:
    return SideValues(
        fields={f: to_arrow(frame[f]) for f in fields},
        updated_ns=np.asarray(frame["updated_at"].array.asi8, dtype=np.int64),
        rows=rows,
        joined=joined,
    )


@dataclass(frozen=True)
class _Aligned:
    """Per link, the row of each side's record (-1 absent); all fields joined per row."""

    rows: tuple[IntArray, IntArray]
    joined: dict[str, ArrowStrings]


def _align(
    web: pd.DataFrame, crm: pd.DataFrame, links: pd.DataFrame, fields: tuple[str, ...]
) -> _Aligned:
    """Join the links to both snapshots. The CRMOffice join (string ids: the costliest step)
    runs on a second core while this one joins WebCRM and prepares the change detection."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        crm_rows = pool.submit(positions, links["crmoffice_id"], crm["id"])
        web_rows = positions(links["webcrm_id"], web["id"])
        joined: dict[str, ArrowStrings] = {}
        if fields:
            joined["webcrm"] = join_columns([to_arrow(web[f]) for f in fields])
            joined["crmoffice"] = join_columns([to_arrow(crm[f]) for f in fields])
            joined["shadow"] = join_columns([_shadow(links, f) for f in fields])
        return _Aligned((web_rows, crm_rows.result()), joined)


def _linked_values(
    web: pd.DataFrame,
    crm: pd.DataFrame,
    ids: tuple[ArrowStrings, ArrowStrings],
    rows: tuple[IntArray, IntArray],
    shadow: dict[str, ArrowStrings],
) -> LinkedValues:
    fields = tuple(shadow)
    return LinkedValues(
        webcrm_id=ids[0],
        crmoffice_id=ids[1],
        shadow=shadow,
        webcrm=_side_values(web, fields, rows[0]),
        crmoffice=_side_values(crm, fields, rows[1]),
    )


def _present_anyway(ids: pd.Series, missing: np.ndarray, quarantined: frozenset[str]) -> np.ndarray:
    """Among `missing` rows, those whose record was read but quarantined (not orphaned)."""
    result = np.zeros(len(ids), dtype=bool)
    rows = np.flatnonzero(missing)
    if len(rows) and quarantined:
        result[rows] = member_mask(ids.iloc[rows], quarantined)
    return result


def _orphans(
    links: pd.DataFrame,
    pos: tuple[IntArray, IntArray],
    active: np.ndarray,
    quarantined: dict[Side, frozenset[str]],
) -> np.ndarray:
    """Active links whose record is missing from a complete snapshot, as a missing-side code
    (0 none, 1 webcrm, 2 crmoffice, 3 both)."""
    missing_w = pos[0] < 0
    missing_w &= ~_present_anyway(links["webcrm_id"], missing_w, quarantined["webcrm"])
    missing_c = pos[1] < 0
    missing_c &= ~_present_anyway(links["crmoffice_id"], missing_c, quarantined["crmoffice"])
    return np.where(active, missing_w.astype(np.int64) + 2 * missing_c.astype(np.int64), 0)


def _orphans_frame(links: pd.DataFrame, code: np.ndarray) -> pd.DataFrame:
    rows = np.flatnonzero(code)
    names = np.array(["", "webcrm", "crmoffice", "both"], dtype=object)
    frame = orphans_frame(
        {
            "webcrm_id": links["webcrm_id"].iloc[rows].to_numpy(dtype=object),
            "crmoffice_id": links["crmoffice_id"].iloc[rows].to_numpy(dtype=object),
            "missing_side": names[code[rows]],
        }
    )
    return frame.sort_values(["webcrm_id", "crmoffice_id"], kind="stable").reset_index(drop=True)


def _diff_existing(
    web: pd.DataFrame,
    crm: pd.DataFrame,
    links: pd.DataFrame,
    aligned: _Aligned,
    keep: np.ndarray,
    fields: tuple[str, ...],
    policy: ConflictPolicy,
) -> DiffResult:
    """Three-way diff of the links in `keep` (active, not orphaned)."""
    ids: tuple[ArrowStrings, ArrowStrings] = (
        to_arrow(links["webcrm_id"]),
        to_arrow(links["crmoffice_id"]),
    )
    shadow = {f: _shadow(links, f) for f in fields}
    shadow_joined = aligned.joined.get("shadow")
    rows = aligned.rows
    if not keep.all():
        sel = np.flatnonzero(keep)
        picked = pa.array(sel)
        ids = (pc.take(ids[0], picked), pc.take(ids[1], picked))
        shadow = {f: pc.take(v, picked) for f, v in shadow.items()}
        shadow_joined = None if shadow_joined is None else pc.take(shadow_joined, picked)
        rows = (rows[0][sel], rows[1][sel])
    linked = LinkedValues(
        webcrm_id=ids[0],
        crmoffice_id=ids[1],
        shadow=shadow,
        webcrm=_side_values(web, fields, rows[0], aligned.joined.get("webcrm")),
        crmoffice=_side_values(crm, fields, rows[1], aligned.joined.get("crmoffice")),
        shadow_joined=shadow_joined,
    )
    return three_way_diff(linked, fields, policy.tie_winner, keep_all=False)


def _linked_rows(size: int, pos: IntArray) -> np.ndarray:
    mask = np.zeros(size, dtype=bool)
    mask[pos[pos >= 0]] = True
    return mask


def _intent_sources_linked(
    intents: pd.DataFrame, links: pd.DataFrame
) -> dict[Side, frozenset[str]]:
    """Intent source ids that already have a link (any status), per side."""
    result: dict[Side, frozenset[str]] = {"webcrm": frozenset(), "crmoffice": frozenset()}
    if intents.empty or links.empty:
        return result
    sources = frozenset(intents["source_id"].astype("str"))
    for side in ("webcrm", "crmoffice"):
        column = links[f"{side}_id"]
        result[side] = frozenset(column[member_mask(column, sources)])
    return result


@dataclass(frozen=True)
class _NewLinks:
    diff: DiffResult
    actions: pd.DataFrame  # action, intent_id per diff input row


def _diff_new_links(
    web: pd.DataFrame,
    crm: pd.DataFrame,
    intents: IntentOutcome,
    matches: MatchOutcome,
    fields: tuple[str, ...],
    policy: ConflictPolicy,
) -> _NewLinks:
    """Adopted and matched pairs, diffed against the payload resp. an all-empty shadow."""
    adopted, matched = intents.adopted, matches.pairs
    web_ids = pd.concat([adopted["webcrm_id"], matched["webcrm_id"]], ignore_index=True).astype(
        "str"
    )
    crm_ids = pd.concat(
        [adopted["crmoffice_id"], matched["crmoffice_id"]], ignore_index=True
    ).astype("str")
    rows = (positions(web_ids, web["id"]), positions(crm_ids, crm["id"]))
    blank = pd.Series([""] * len(matched), dtype="str")
    shadow = {
        f: to_arrow(pd.concat([adopted[f], blank], ignore_index=True).astype("str")) for f in fields
    }
    linked = _linked_values(web, crm, (to_arrow(web_ids), to_arrow(crm_ids)), rows, shadow)
    actions = pd.DataFrame(
        {
            "action": pd.Series(["adopt"] * len(adopted) + ["match"] * len(matched), dtype="str"),
            "intent_id": pd.concat(
                [adopted["intent_id"], pd.Series([None] * len(matched))], ignore_index=True
            ).astype("Int64"),
        }
    )
    return _NewLinks(three_way_diff(linked, fields, policy.tie_winner, keep_all=True), actions)


def _sorted(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    if len(frame) < 2:
        return frame.reset_index(drop=True)
    return frame.sort_values(by, kind="stable").reset_index(drop=True)


def _links_out(
    existing: DiffResult, new: _NewLinks | None, fields: tuple[str, ...]
) -> pd.DataFrame:
    parts = [links_frame(fields)]
    moves = existing.shadows.drop(columns="row")
    if len(moves):
        moves.insert(2, "action", pd.Series(["shadow_move"] * len(moves), dtype="str"))
        moves.insert(3, "intent_id", pd.Series([None] * len(moves), dtype="Int64"))
        parts.append(moves)
    if new is not None:
        made = new.diff.shadows
        acts = new.actions.iloc[made["row"].to_numpy()].reset_index(drop=True)
        made = made.drop(columns="row").reset_index(drop=True)
        made.insert(2, "action", acts["action"])
        made.insert(3, "intent_id", acts["intent_id"])
        parts.append(made)
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return _sorted(frame, ["webcrm_id", "crmoffice_id"])


def _conflicts_out(parts: list[pd.DataFrame], fields: tuple[str, ...]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)] or parts[:1]
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    order = frame["field"].map({f: i for i, f in enumerate(fields)})
    frame = frame.assign(_order=order.astype("int64"))
    return _sorted(frame, ["webcrm_id", "crmoffice_id", "_order"]).drop(columns="_order")


def _updates_out(existing: DiffResult, new: _NewLinks | None) -> dict[Direction, pd.DataFrame]:
    result = {}
    for d in DIRECTIONS:
        frame = existing.updates[d]
        if new is not None and len(new.diff.updates[d]):
            frame = pd.concat([frame, new.diff.updates[d]], ignore_index=True)
        result[d] = _sorted(frame, ["webcrm_id", "crmoffice_id"])
    return result


def _creates(pair: PairSpec, rows: dict[Side, pd.DataFrame]) -> dict[Direction, pd.DataFrame]:
    fields = pair.field_names
    result = {d: creates_frame(fields) for d in DIRECTIONS}
    if "to_crmoffice" in pair.creates:
        result["to_crmoffice"] = creates_frame(fields, rows["webcrm"])
    if "to_webcrm" in pair.creates:
        result["to_webcrm"] = creates_frame(fields, rows["crmoffice"])
    return result


def _active(links: pd.DataFrame) -> np.ndarray:
    if "status" not in links.columns:
        return np.ones(len(links), dtype=bool)
    return np.asarray(links["status"].fillna("active") != "orphaned", dtype=bool)


@dataclass(frozen=True)
class _Unlinked:
    """What happens to records without a link: intents settled, matches, what is left free."""

    settled: IntentOutcome
    matches: MatchOutcome
    free: dict[Side, pd.DataFrame]


def _plan_unlinked(
    pair: PairSpec,
    web: pd.DataFrame,
    crm: pd.DataFrame,
    links: pd.DataFrame,
    intents: pd.DataFrame,
    free_w: np.ndarray,
    free_c: np.ndarray,
    tolerance: float,
) -> _Unlinked:
    """Reconcile intents, then match, on the unlinked records; the rest stays free."""
    fields = pair.field_names
    free: dict[Side, pd.DataFrame] = {"webcrm": web[free_w], "crmoffice": crm[free_c]}
    linked_sources = _intent_sources_linked(intents, links)
    settled = reconcile_intents(intents, fields, free, linked_sources, tolerance)
    if not intents.empty:
        free_w = free_w & ~member_mask(web["id"], settled.blocked["webcrm"])
        free_c = free_c & ~member_mask(crm["id"], settled.blocked["crmoffice"])
    matches = match_records(pair, web[free_w], crm[free_c])
    if len(matches.pairs) or len(matches.held):
        taken = pd.concat(
            [matches.pairs["webcrm_id"], matches.pairs["crmoffice_id"], matches.held["id"]]
        )
        taken_ids = frozenset(taken.astype("str"))
        free_w = free_w & ~member_mask(web["id"], taken_ids)
        free_c = free_c & ~member_mask(crm["id"], taken_ids)
    return _Unlinked(settled, matches, {"webcrm": web[free_w], "crmoffice": crm[free_c]})


def plan_pair_sync(
    pair: PairSpec,
    webcrm: pd.DataFrame,
    crmoffice: pd.DataFrame,
    links: pd.DataFrame,
    intents: pd.DataFrame,
    *,
    complete: bool,
    policy: ConflictPolicy,
    now: datetime,
    excluded_crmoffice_ids: frozenset[str] = frozenset(),
    orphaned_webcrm_ids: frozenset[str] = frozenset(),
    orphaned_crmoffice_ids: frozenset[str] = frozenset(),
    quarantined_webcrm_ids: frozenset[str] = frozenset(),
    quarantined_crmoffice_ids: frozenset[str] = frozenset(),
    intent_tolerance_seconds: float = 120.0,
) -> PairPlan:
    """Plan one pair's sync from valid side frames, its links (+ shadow) and open intents.

    `complete`: the snapshots are full reads (a linked record missing from one is an orphan,
    not unchanged). `excluded_crmoffice_ids`: records linked by another pair (never matched,
    adopted or created from). `orphaned_*_ids`: records of orphaned links (never re-created).
    `quarantined_*_ids`: records read but quarantined (unchanged this run, not orphaned)."""
    fields = pair.field_names
    web, crm = _side_input(webcrm, fields), _side_input(crmoffice, fields)
    aligned = _align(web, crm, links, fields)
    pos = aligned.rows
    active = _active(links)
    quarantined: dict[Side, frozenset[str]] = {
        "webcrm": quarantined_webcrm_ids,
        "crmoffice": quarantined_crmoffice_ids,
    }
    orphan_code = (
        _orphans(links, pos, active, quarantined) if complete else np.zeros(len(links), np.int64)
    )
    existing = _diff_existing(web, crm, links, aligned, active & (orphan_code == 0), fields, policy)
    free_w = ~_linked_rows(len(web), pos[0]) & ~member_mask(web["id"], orphaned_webcrm_ids)
    not_ours = orphaned_crmoffice_ids | excluded_crmoffice_ids
    free_c = ~_linked_rows(len(crm), pos[1]) & ~member_mask(crm["id"], not_ours)
    unlinked = _plan_unlinked(
        pair, web, crm, links, intents, free_w, free_c, intent_tolerance_seconds
    )
    settled, matches = unlinked.settled, unlinked.matches
    has_new = len(settled.adopted) or len(matches.pairs)
    new = _diff_new_links(web, crm, settled, matches, fields, policy) if has_new else None
    held = pd.concat([held_frame(), settled.held, matches.held], ignore_index=True)
    return PairPlan(
        pair=pair.name,
        fields=fields,
        planned_at=now,
        complete=complete,
        creates=_creates(pair, unlinked.free),
        updates=_updates_out(existing, new),
        links=_links_out(existing, new, fields),
        conflicts=_conflicts_out(
            [existing.conflicts, *([new.diff.conflicts] if new else [])], fields
        ),
        orphans=_orphans_frame(links, orphan_code),
        held=_sorted(held.drop_duplicates(["side", "id"]), ["side", "id"]),
        intents_not_applied=_sorted(settled.not_applied, ["intent_id"]),
    )
