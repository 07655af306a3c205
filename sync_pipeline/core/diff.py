"""The per-field three-way diff of linked records against their shadow (DESIGN section 2).

Per field: only one side changed -> it wins; neither -> nothing; both to the same value -> the
shadow moves; both differently -> conflict, settled by the field's `ConflictPolicy`
(`core.conflict_policy`, which also owns the initial reconciliation of a field the shadow does
not hold yet). Change detection runs over every link as Arrow compares; the rules then run on
the few changed rows only, column by column.

Values compared are canonical (see `normalize`); a write carries the source's own text. A
shadow stored before canonical forms existed is read in its canonical form and moved to it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sync_pipeline.core.align import IntArray
from sync_pipeline.core.conflict_policy import (
    ConflictPolicy,
    Resolution,
    resolve_initial,
    resolve_known,
)
from sync_pipeline.core.fieldmap import FieldType
from sync_pipeline.core.frames import changed_tuples, conflicts_frame, held_frame, text_column
from sync_pipeline.core.normalize import ArrowStrings, canonical_arrow, join_columns
from sync_pipeline.core.types import DIRECTIONS, Direction

ObjArray = npt.NDArray[np.object_]
OLDEST_NS = np.iinfo(np.int64).min  # NaT: an absent record is the oldest possible
BoolArray = npt.NDArray[np.bool_]
_UNSET = np.array(None, dtype=object)  # a shadow value left as it is (the field stays unset)


@dataclass(frozen=True)
class SideValues:
    """One side's field columns and update times in its own row order, and per link the row
    of its record there (-1 = absent from the snapshot: unchanged)."""

    fields: dict[str, ArrowStrings]
    updated_ns: IntArray
    rows: IntArray
    joined: ArrowStrings | None = None  # all fields joined per row, if computed beforehand
    texts: dict[str, ArrowStrings] = field(default_factory=dict)  # absent: text == canonical

    def at(self, name: str, links: IntArray) -> ObjArray:
        """The field's canonical values for the given links (None where the record is absent)."""
        return self._take(self.fields[name], links)

    def text_at(self, name: str, links: IntArray) -> ObjArray:
        """The field's text for the given links (None where the record is absent)."""
        return self._take(self.texts.get(name, self.fields[name]), links)

    def _take(self, values: ArrowStrings, links: IntArray) -> ObjArray:
        rows = self.rows[links]
        taken = pc.take(values, pa.array(rows, mask=rows < 0))
        return np.asarray(taken.to_numpy(zero_copy_only=False), dtype=object)

    def updated_at(self, links: IntArray) -> IntArray:
        """Update times (ns) for the given links; the oldest possible where absent."""
        rows = self.rows[links]
        if not len(self.updated_ns):
            return np.full(len(rows), OLDEST_NS, dtype=np.int64)
        return np.where(rows >= 0, self.updated_ns[np.clip(rows, 0, None)], OLDEST_NS)

    def changed(self, shadow: ArrowStrings, names: tuple[str, ...]) -> BoolArray:
        """Per link: does the record differ from the shadow in any field? (absent: no)."""
        joined = self.joined
        if joined is None:
            joined = join_columns([self.fields[n] for n in names])
        rows = self.rows
        return _differs(pc.take(joined, pa.array(rows, mask=rows < 0)), shadow)


@dataclass(frozen=True)
class LinkedValues:
    """Links side by side: ids, the shadow per field, and each side's values. `fresh[f]`, for
    a field some shadows do not hold yet (added to the map since), marks those links; their
    `shadow[f]` reads ""."""

    webcrm_id: ArrowStrings
    crmoffice_id: ArrowStrings
    shadow: dict[str, ArrowStrings]
    webcrm: SideValues
    crmoffice: SideValues
    shadow_joined: ArrowStrings | None = None
    fresh: Mapping[str, BoolArray] = field(default_factory=dict)
    types: Mapping[str, FieldType] = field(default_factory=dict)  # to read old shadows canonically


@dataclass(frozen=True)
class DiffResult:
    """Updates per direction, the shadow to store now per link (`row` = input position; NA
    where a field stays unset), the conflicts, and links held for review (`held_frame`)."""

    updates: dict[Direction, pd.DataFrame]
    shadows: pd.DataFrame
    conflicts: pd.DataFrame
    held: pd.DataFrame


def _differs(values: ArrowStrings, shadow: ArrowStrings) -> BoolArray:
    return np.asarray(
        pc.fill_null(pc.not_equal(values, shadow), False).to_numpy(zero_copy_only=False),
        dtype=bool,
    )


def _subset(values: ArrowStrings, rows: IntArray) -> ObjArray:
    return np.asarray(pc.take(values, pa.array(rows)).to_numpy(zero_copy_only=False), dtype=object)


@dataclass(frozen=True)
class _FieldOutcome:
    webcrm: ObjArray
    crmoffice: ObjArray
    shadow: ObjArray
    stored: ObjArray  # the shadow to store if the link's shadow moves (None: leave it unset)
    res: Resolution


def _resolve(
    values: tuple[ObjArray, ObjArray, ObjArray],
    newer: IntArray,
    policy: ConflictPolicy,
    fresh: BoolArray | None,
    readable: BoolArray,
) -> _FieldOutcome:
    """One field of the diffed rows: the three-way rule where the shadow holds the field; the
    initial reconciliation where it does not (`fresh`) and both records were read
    (`readable`); nothing at all for a fresh field with a record not read this run."""
    w, c, s = values
    known = resolve_known(w, c, s, newer, policy)
    stored = np.where(known.moved, w, s)
    if fresh is None:
        return _FieldOutcome(w, c, s, stored, known)
    first = resolve_initial(w, c, policy)
    now = fresh & readable
    merged = Resolution(
        **{
            name: np.where(fresh, getattr(first, name) & now, getattr(known, name))
            for name in ("to_crmoffice", "to_webcrm", "moved", "conflict", "winner_webcrm", "held")
        },
        agreed=np.where(fresh, first.agreed, known.agreed),
        rule=np.where(fresh, first.rule, known.rule),
    )
    stored = np.where(fresh, np.where(now & first.moved, w, _UNSET), stored)
    return _FieldOutcome(w, c, np.where(fresh, "", s), stored, merged)


def _diff_rows(linked: LinkedValues, fields: tuple[str, ...], keep_all: bool) -> IntArray:
    """The links to diff: all (new links), else those changed on a side or with a field that
    their shadow does not hold yet."""
    n = len(linked.webcrm_id)
    if keep_all:
        return np.arange(n, dtype=np.int64)
    if not fields:
        return np.empty(0, dtype=np.int64)
    shadow = linked.shadow_joined
    if shadow is None:
        shadow = join_columns([linked.shadow[f] for f in fields])
    touched = linked.webcrm.changed(shadow, fields) | linked.crmoffice.changed(shadow, fields)
    for mask in linked.fresh.values():
        touched |= mask
    return np.flatnonzero(touched).astype(np.int64)


def three_way_diff(
    linked: LinkedValues,
    fields: tuple[str, ...],
    policies: Mapping[str, ConflictPolicy],
    *,
    keep_all: bool,
    tie_within_ns: int = 0,
) -> DiffResult:
    """Diff every link, each field under its own policy; `keep_all` returns a shadow row for
    every link (new links), else only for links whose shadow moves. Update times closer than
    `tie_within_ns` (the clocks' uncertainty, ns) are a tie, ruled `clock_tie`."""
    rows = _diff_rows(linked, fields, keep_all)
    web_ns, crm_ns = linked.webcrm.updated_at(rows), linked.crmoffice.updated_at(rows)
    newer, near = _newer(web_ns, crm_ns, tie_within_ns)
    outcomes: dict[str, _FieldOutcome] = {}
    texts: dict[Direction, dict[str, ObjArray]] = {d: {} for d in DIRECTIONS}
    for name in fields:
        stored = _subset(linked.shadow[name], rows)
        s = _canonical(stored, linked.types.get(name))
        w = linked.webcrm.at(name, rows)
        c = linked.crmoffice.at(name, rows)
        readable = ~(pd.isna(w) | pd.isna(c))
        w = np.where(pd.isna(w), s, w)
        c = np.where(pd.isna(c), s, c)
        fresh = linked.fresh.get(name)
        outcome = _resolve(
            (w, c, s), newer, policies[name], None if fresh is None else fresh[rows], readable
        )
        # A shadow stored in another form (before canonical forms) moves to the canonical one.
        outcome.res.moved[_differs_as_text(stored, s)] = True
        rule = outcome.res.rule
        rule[near & (rule == "tie")] = "clock_tie"
        outcomes[name] = outcome
        texts["to_crmoffice"][name] = _written(outcome, "to_crmoffice", linked.webcrm, name, rows)
        texts["to_webcrm"][name] = _written(outcome, "to_webcrm", linked.crmoffice, name, rows)
    return _assemble(linked, fields, rows, outcomes, texts, keep_all)


def _canonical(values: ObjArray, type_: FieldType | None) -> ObjArray:
    """Shadow values in their type's canonical form (as they are when `type_` is unknown)."""
    if type_ is None or not len(values):
        return values
    arr = canonical_arrow(pa.array(values, type=pa.large_string()), type_)
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=object)


def _differs_as_text(stored: ObjArray, canonical: ObjArray) -> BoolArray:
    """Where a stored shadow value is not yet in its canonical form (unset values never are)."""
    known = ~pd.isna(stored)
    return np.asarray(known & (stored != canonical), dtype=bool)


def _written(
    outcome: _FieldOutcome, direction: Direction, source: SideValues, name: str, rows: IntArray
) -> ObjArray:
    """The text `direction` writes: the source's own text where it writes the field, else the
    agreed canonical value (never written: `changed` leaves the field out)."""
    text = source.text_at(name, rows)
    writes: BoolArray = getattr(outcome.res, direction)
    return np.where(writes & ~pd.isna(text), text, outcome.res.agreed).astype(object)


def _newer(web_ns: IntArray, crm_ns: IntArray, tie_within_ns: int) -> tuple[IntArray, BoolArray]:
    """Sign of WebCRM's update time minus CRMOffice's (0: a tie), and where a tie comes only
    from the clocks' uncertainty (the times differ by no more than `tie_within_ns`)."""
    delta = web_ns - crm_ns
    near = (delta != 0) & (np.abs(delta) <= tie_within_ns)
    newer = np.where(near, 0, np.sign(delta)).astype(np.int64)
    return newer, near


def _updates(
    ids: dict[str, ObjArray],
    fields: tuple[str, ...],
    outcomes: dict[str, _FieldOutcome],
    texts: dict[str, ObjArray],
    direction: Direction,
) -> pd.DataFrame:
    writes = np.column_stack(
        [getattr(outcomes[f].res, direction) for f in fields]
        or [np.zeros(len(ids["webcrm_id"]), bool)]
    )
    picked = np.flatnonzero(writes.any(axis=1))
    columns: dict[str, object] = {k: pd.Series(v[picked], dtype="str") for k, v in ids.items()}
    columns["changed"] = changed_tuples(writes[picked], fields)
    columns.update({f: pd.Series(outcomes[f].res.agreed[picked], dtype="str") for f in fields})
    columns.update({text_column(f): pd.Series(texts[f][picked], dtype="str") for f in fields})
    return pd.DataFrame(columns)


def _assemble(
    linked: LinkedValues,
    fields: tuple[str, ...],
    rows: IntArray,
    outcomes: dict[str, _FieldOutcome],
    texts: dict[Direction, dict[str, ObjArray]],
    keep_all: bool,
) -> DiffResult:
    ids = {
        "webcrm_id": _subset(linked.webcrm_id, rows),
        "crmoffice_id": _subset(linked.crmoffice_id, rows),
    }
    updates = {d: _updates(ids, fields, outcomes, texts[d], d) for d in DIRECTIONS}
    moved = np.zeros(len(rows), dtype=bool)
    for f in fields:
        moved |= outcomes[f].res.moved
    kept = np.arange(len(rows)) if keep_all else np.flatnonzero(moved)
    shadows = pd.DataFrame({"row": rows[kept]})
    for key, values in ids.items():
        shadows[key] = pd.Series(values[kept], dtype="str")
    for f in fields:
        shadows[f] = pd.Series(outcomes[f].stored[kept], dtype="str")
    return DiffResult(
        updates=updates,
        shadows=shadows,
        conflicts=_conflicts(ids, fields, outcomes),
        held=_held(ids, fields, outcomes),
    )


def _conflicts(
    ids: dict[str, ObjArray], fields: tuple[str, ...], outcomes: dict[str, _FieldOutcome]
) -> pd.DataFrame:
    """One frame of every conflicting field, built once from the per-field hits."""
    hits = {f: np.flatnonzero(outcomes[f].res.conflict) for f in fields}
    if not any(len(h) for h in hits.values()):
        return conflicts_frame()

    def gather(values: Callable[[str, IntArray], ObjArray]) -> ObjArray:
        return np.concatenate([values(f, h) for f, h in hits.items()])

    return conflicts_frame(
        webcrm_id=gather(lambda f, h: ids["webcrm_id"][h]),
        crmoffice_id=gather(lambda f, h: ids["crmoffice_id"][h]),
        field=gather(lambda f, h: np.full(len(h), f, dtype=object)),
        webcrm_value=gather(lambda f, h: outcomes[f].webcrm[h]),
        crmoffice_value=gather(lambda f, h: outcomes[f].crmoffice[h]),
        shadow_value=gather(lambda f, h: outcomes[f].shadow[h]),
        winner=gather(
            lambda f, h: np.where(outcomes[f].res.winner_webcrm[h], "webcrm", "crmoffice").astype(
                object
            )
        ),
        rule=gather(lambda f, h: outcomes[f].res.rule[h]),
    )


def _held(
    ids: dict[str, ObjArray], fields: tuple[str, ...], outcomes: dict[str, _FieldOutcome]
) -> pd.DataFrame:
    """One row per link with fields new to it whose two values differ and that no
    `initial_winner` settles: nothing is written for them until someone decides."""
    hits = {f: np.flatnonzero(outcomes[f].res.held) for f in fields}
    if not any(len(h) for h in hits.values()):
        return held_frame()
    found = pd.DataFrame(
        {
            "id": np.concatenate([ids["webcrm_id"][h] for h in hits.values()]),
            "other": np.concatenate([ids["crmoffice_id"][h] for h in hits.values()]),
            "field": np.concatenate([np.full(len(h), f, dtype=object) for f, h in hits.items()]),
        }
    )
    per_link = found.groupby(["id", "other"], sort=True)["field"].agg(", ".join).reset_index()
    reason = (
        "new field "
        + per_link["field"]
        + " differs from crmoffice "
        + per_link["other"]
        + ": held for review (set initial_winner in the field map, or make the values equal)"
    )
    return held_frame({"side": ["webcrm"] * len(per_link), "id": per_link["id"], "reason": reason})
