"""The per-field three-way diff of linked records against their shadow (DESIGN section 2).

Per field: only one side changed -> it wins; neither -> nothing; both to the same value -> the
shadow moves; both differently -> conflict: non-empty beats empty, else the more recently
updated record wins, a tie goes to the policy's side. Change detection runs over every link as
Arrow compares; the rules then run on the few changed rows only.

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
from sync_pipeline.core.fieldmap import FieldType
from sync_pipeline.core.frames import changed_tuples, conflicts_frame, text_column
from sync_pipeline.core.normalize import ArrowStrings, canonical_arrow, join_columns
from sync_pipeline.core.types import DIRECTIONS, Direction, Side

ObjArray = npt.NDArray[np.object_]
OLDEST_NS = np.iinfo(np.int64).min  # NaT: an absent record is the oldest possible
BoolArray = npt.NDArray[np.bool_]


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
    """Links side by side: ids, the shadow per field, and each side's values."""

    webcrm_id: ArrowStrings
    crmoffice_id: ArrowStrings
    shadow: dict[str, ArrowStrings]
    webcrm: SideValues
    crmoffice: SideValues
    shadow_joined: ArrowStrings | None = None
    types: Mapping[str, FieldType] = field(default_factory=dict)  # to read old shadows canonically


@dataclass(frozen=True)
class DiffResult:
    """Updates per direction, the shadow to store now per link (`row` = input position)."""

    updates: dict[Direction, pd.DataFrame]
    shadows: pd.DataFrame
    conflicts: pd.DataFrame


def _differs(values: ArrowStrings, shadow: ArrowStrings) -> BoolArray:
    return np.asarray(
        pc.fill_null(pc.not_equal(values, shadow), False).to_numpy(zero_copy_only=False),
        dtype=bool,
    )


def _subset(values: ArrowStrings, rows: IntArray) -> ObjArray:
    return np.asarray(pc.take(values, pa.array(rows)).to_numpy(zero_copy_only=False), dtype=object)


@dataclass
class _FieldOutcome:
    webcrm: ObjArray
    crmoffice: ObjArray
    shadow: ObjArray
    agreed: ObjArray
    stored: ObjArray
    to_crmoffice: BoolArray
    to_webcrm: BoolArray
    moved: BoolArray
    conflict: BoolArray
    winner_webcrm: BoolArray
    rule: ObjArray


def _resolve(w: ObjArray, c: ObjArray, s: ObjArray, newer: IntArray, tie: Side) -> _FieldOutcome:
    """Apply the rules to one field of the changed rows (`newer` = sign of web - crm time)."""
    w_ch, c_ch = w != s, c != s
    same = w_ch & c_ch & (w == c)
    conflict = w_ch & c_ch & (w != c)
    w_empty, c_empty = w == "", c == ""
    rule = np.full(len(w), "", dtype=object)
    rule[conflict & (w_empty != c_empty)] = "non_empty"
    both_full = conflict & ~w_empty & ~c_empty
    rule[both_full & (newer != 0)] = "newest"
    rule[both_full & (newer == 0)] = "tie"
    web_wins = conflict & (
        (c_empty & ~w_empty) | (both_full & ((newer > 0) | ((newer == 0) & (tie == "webcrm"))))
    )
    to_crm = (w_ch & ~c_ch) | web_wins
    to_web = (c_ch & ~w_ch) | (conflict & ~web_wins)
    agreed = np.where(to_crm | same, w, np.where(to_web, c, s))
    return _FieldOutcome(
        webcrm=w,
        crmoffice=c,
        shadow=s,
        agreed=agreed,
        stored=np.where(same, w, s),
        to_crmoffice=to_crm,
        to_webcrm=to_web,
        moved=same,
        conflict=conflict,
        winner_webcrm=web_wins,
        rule=rule,
    )


def three_way_diff(
    linked: LinkedValues, fields: tuple[str, ...], tie_winner: Side, *, keep_all: bool
) -> DiffResult:
    """Diff every link; `keep_all` returns a shadow row for every link (new links), else only
    for links whose shadow moves."""
    n = len(linked.webcrm_id)
    if keep_all:
        rows = np.arange(n, dtype=np.int64)
    elif fields:
        shadow = linked.shadow_joined
        if shadow is None:
            shadow = join_columns([linked.shadow[f] for f in fields])
        touched = linked.webcrm.changed(shadow, fields) | linked.crmoffice.changed(shadow, fields)
        rows = np.flatnonzero(touched).astype(np.int64)
    else:
        rows = np.empty(0, dtype=np.int64)
    web_ns, crm_ns = linked.webcrm.updated_at(rows), linked.crmoffice.updated_at(rows)
    newer = (web_ns > crm_ns).astype(np.int64) - (web_ns < crm_ns).astype(np.int64)
    outcomes: dict[str, _FieldOutcome] = {}
    texts: dict[Direction, dict[str, ObjArray]] = {d: {} for d in DIRECTIONS}
    for name in fields:
        stored = _subset(linked.shadow[name], rows)
        s = _canonical(stored, linked.types.get(name))
        w = linked.webcrm.at(name, rows)
        c = linked.crmoffice.at(name, rows)
        w = np.where(pd.isna(w), s, w)
        c = np.where(pd.isna(c), s, c)
        outcome = _resolve(w, c, s, newer, tie_winner)
        outcome.moved |= stored != s  # a shadow stored in another form moves to the canonical
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


def _written(
    outcome: _FieldOutcome, direction: Direction, source: SideValues, name: str, rows: IntArray
) -> ObjArray:
    """The text `direction` writes: the source's own text where it writes the field, else the
    agreed canonical value (never written: `changed` leaves the field out)."""
    text = source.text_at(name, rows)
    writes: BoolArray = getattr(outcome, direction)
    return np.where(writes & ~pd.isna(text), text, outcome.agreed).astype(object)


def _updates(
    ids: dict[str, ObjArray],
    fields: tuple[str, ...],
    outcomes: dict[str, _FieldOutcome],
    texts: dict[str, ObjArray],
    direction: Direction,
) -> pd.DataFrame:
    writes = np.column_stack(
        [getattr(outcomes[f], direction) for f in fields] or [np.zeros(len(ids["webcrm_id"]), bool)]
    )
    picked = np.flatnonzero(writes.any(axis=1))
    columns: dict[str, object] = {k: pd.Series(v[picked], dtype="str") for k, v in ids.items()}
    columns["changed"] = changed_tuples(writes[picked], fields)
    columns.update({f: pd.Series(outcomes[f].agreed[picked], dtype="str") for f in fields})
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
        moved |= outcomes[f].moved
    kept = np.arange(len(rows)) if keep_all else np.flatnonzero(moved)
    shadows = pd.DataFrame({"row": rows[kept]})
    for key, values in ids.items():
        shadows[key] = pd.Series(values[kept], dtype="str")
    for f in fields:
        shadows[f] = pd.Series(outcomes[f].stored[kept], dtype="str")
    return DiffResult(updates=updates, shadows=shadows, conflicts=_conflicts(ids, fields, outcomes))


def _conflicts(
    ids: dict[str, ObjArray], fields: tuple[str, ...], outcomes: dict[str, _FieldOutcome]
) -> pd.DataFrame:
    """One frame of every conflicting field, built once from the per-field hits."""
    hits = {f: np.flatnonzero(outcomes[f].conflict) for f in fields}
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
            lambda f, h: np.where(outcomes[f].winner_webcrm[h], "webcrm", "crmoffice").astype(
                object
            )
        ),
        rule=gather(lambda f, h: outcomes[f].rule[h]),
    )
