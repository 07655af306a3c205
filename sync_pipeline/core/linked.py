"""Linked records: joining the links to both snapshots, orphans, and the diff of existing links.

The links frame is joined to each side frame by id (see `align`); a link whose record is
absent from an incremental snapshot is unchanged, from a complete one an orphan.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sync_pipeline.core.align import IntArray, member_mask, positions
from sync_pipeline.core.conflict_policy import ConflictPolicy
from sync_pipeline.core.diff import BoolArray, DiffResult, LinkedValues, SideValues, three_way_diff
from sync_pipeline.core.fieldmap import FieldType
from sync_pipeline.core.frames import orphans_frame, text_column
from sync_pipeline.core.normalize import ArrowStrings, join_columns, to_arrow
from sync_pipeline.core.schemas import TIMESTAMP_DTYPE
from sync_pipeline.core.types import Side


def side_input(frame: pd.DataFrame, fields: tuple[str, ...]) -> pd.DataFrame:
    """The side frame with `str` ids and every field and text column present (a field absent:
    ""; a text absent: the canonical value, as in frames built without texts)."""
    columns = {"id": frame["id"] if frame["id"].dtype == "str" else frame["id"].astype("str")}
    columns["updated_at"] = frame["updated_at"].astype(TIMESTAMP_DTYPE)
    for f in fields:
        columns[f] = frame[f] if f in frame.columns else pd.Series([""] * len(frame), dtype="str")
    for f in fields:
        text = text_column(f)
        columns[text] = frame[text] if text in frame.columns else columns[f]
    return pd.DataFrame(columns, index=pd.RangeIndex(len(frame)))


def shadow_column(links: pd.DataFrame, field: str) -> ArrowStrings:
    """The shadow's values of `field`, "" where the shadow does not hold it (see `fresh_mask`)."""
    if field not in links.columns:  # a field newly added to the map: nothing agreed yet
        return pa.array([""] * len(links), type=pa.large_string())
    values = to_arrow(links[field])
    return pc.fill_null(values, "") if values.null_count else values


def fresh_mask(links: pd.DataFrame, field: str) -> BoolArray | None:
    """Links whose shadow does not hold `field` (NA in the links frame: the field was added to
    the map after the link's last sync), or None when every shadow holds it."""
    if field not in links.columns:
        return np.ones(len(links), dtype=bool)
    values = to_arrow(links[field])
    if not values.null_count:
        return None
    return np.asarray(pc.is_null(values).to_numpy(zero_copy_only=False), dtype=bool)


def side_values(
    frame: pd.DataFrame, fields: tuple[str, ...], rows: IntArray, joined: ArrowStrings | None = None
) -> SideValues:
    return SideValues(
        fields={f: to_arrow(frame[f]) for f in fields},
        updated_ns=np.asarray(frame["updated_at"].array.asi8, dtype=np.int64),
        rows=rows,
        joined=joined,
        texts={f: to_arrow(frame[text_column(f)]) for f in fields},
    )


@dataclass(frozen=True)
class Aligned:
    """Per link, the row of each side's record (-1 absent); all fields joined per row."""

    rows: tuple[IntArray, IntArray]
    joined: dict[str, ArrowStrings]


def align_links(
    web: pd.DataFrame, crm: pd.DataFrame, links: pd.DataFrame, fields: tuple[str, ...]
) -> Aligned:
    """Join the links to both snapshots. The CRMOffice join (string ids: the costliest step)
    runs on a second core while this one joins WebCRM and prepares the change detection."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        crm_rows = pool.submit(positions, links["crmoffice_id"], crm["id"])
        web_rows = positions(links["webcrm_id"], web["id"])
        joined: dict[str, ArrowStrings] = {}
        if fields:
            joined["webcrm"] = join_columns([to_arrow(web[f]) for f in fields])
            joined["crmoffice"] = join_columns([to_arrow(crm[f]) for f in fields])
            joined["shadow"] = join_columns([shadow_column(links, f) for f in fields])
        return Aligned((web_rows, crm_rows.result()), joined)


def linked_values(
    web: pd.DataFrame,
    crm: pd.DataFrame,
    ids: tuple[ArrowStrings, ArrowStrings],
    rows: tuple[IntArray, IntArray],
    shadow: dict[str, ArrowStrings],
    types: Mapping[str, FieldType],
) -> LinkedValues:
    fields = tuple(shadow)
    return LinkedValues(
        webcrm_id=ids[0],
        crmoffice_id=ids[1],
        shadow=shadow,
        webcrm=side_values(web, fields, rows[0]),
        crmoffice=side_values(crm, fields, rows[1]),
        types=types,
    )


def _present_anyway(ids: pd.Series, missing: np.ndarray, quarantined: frozenset[str]) -> np.ndarray:
    """Among `missing` rows, those whose record was read but quarantined (not orphaned)."""
    result = np.zeros(len(ids), dtype=bool)
    rows = np.flatnonzero(missing)
    if len(rows) and quarantined:
        result[rows] = member_mask(ids.iloc[rows], quarantined)
    return result


def orphan_codes(
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


def orphans_out(links: pd.DataFrame, code: np.ndarray) -> pd.DataFrame:
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


def diff_existing(
    web: pd.DataFrame,
    crm: pd.DataFrame,
    links: pd.DataFrame,
    aligned: Aligned,
    keep: np.ndarray,
    fields: tuple[str, ...],
    policies: Mapping[str, ConflictPolicy],
    types: Mapping[str, FieldType],
    tie_within_ns: int = 0,
) -> DiffResult:
    """Three-way diff of the links in `keep` (active, not orphaned), each field under its
    policy; a field a shadow does not hold yet starts with its initial reconciliation."""
    ids: tuple[ArrowStrings, ArrowStrings] = (
        to_arrow(links["webcrm_id"]),
        to_arrow(links["crmoffice_id"]),
    )
    shadow = {f: shadow_column(links, f) for f in fields}
    shadow_joined = aligned.joined.get("shadow")
    fresh = {f: m for f in fields if (m := fresh_mask(links, f)) is not None}
    rows = aligned.rows
    if not keep.all():
        sel = np.flatnonzero(keep)
        picked = pa.array(sel)
        ids = (pc.take(ids[0], picked), pc.take(ids[1], picked))
        shadow = {f: pc.take(v, picked) for f, v in shadow.items()}
        shadow_joined = None if shadow_joined is None else pc.take(shadow_joined, picked)
        rows = (rows[0][sel], rows[1][sel])
        fresh = {f: m[sel] for f, m in fresh.items()}
    linked = LinkedValues(
        webcrm_id=ids[0],
        crmoffice_id=ids[1],
        shadow=shadow,
        webcrm=side_values(web, fields, rows[0], aligned.joined.get("webcrm")),
        crmoffice=side_values(crm, fields, rows[1], aligned.joined.get("crmoffice")),
        shadow_joined=shadow_joined,
        fresh=fresh,
        types=types,
    )
    return three_way_diff(linked, fields, policies, keep_all=False, tie_within_ns=tie_within_ns)


def linked_rows(size: int, pos: IntArray) -> np.ndarray:
    mask = np.zeros(size, dtype=bool)
    mask[pos[pos >= 0]] = True
    return mask


def active_links(links: pd.DataFrame) -> np.ndarray:
    if "status" not in links.columns:
        return np.ones(len(links), dtype=bool)
    return np.asarray(links["status"].fillna("active") != "orphaned", dtype=bool)


@dataclass(frozen=True)
class LinkedOutcome:
    """The diff of existing links, the newly orphaned ones, and which rows have a link."""

    diff: DiffResult
    orphans: pd.DataFrame
    has_link: dict[Side, np.ndarray]  # per side-frame row: linked (any status)


def plan_linked(
    web: pd.DataFrame,
    crm: pd.DataFrame,
    links: pd.DataFrame,
    fields: tuple[str, ...],
    policies: Mapping[str, ConflictPolicy],
    *,
    complete: bool,
    quarantined: dict[Side, frozenset[str]],
    types: Mapping[str, FieldType],
    tie_within_ns: int = 0,
) -> LinkedOutcome:
    """Join the links to both snapshots, find orphans (complete reads only), diff the rest.
    `types`: each field's type, to read shadows stored in another form canonically."""
    aligned = align_links(web, crm, links, fields)
    active = active_links(links)
    if complete:
        code = orphan_codes(links, aligned.rows, active, quarantined)
    else:
        code = np.zeros(len(links), np.int64)
    keep = active & (code == 0)
    diff = diff_existing(web, crm, links, aligned, keep, fields, policies, types, tie_within_ns)
    has_link: dict[Side, np.ndarray] = {
        "webcrm": linked_rows(len(web), aligned.rows[0]),
        "crmoffice": linked_rows(len(crm), aligned.rows[1]),
    }
    return LinkedOutcome(diff, orphans_out(links, code), has_link)
