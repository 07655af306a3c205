"""From a raw API snapshot to the validated, normalised side frame of one pair.

`prepare_side` renames API properties to canonical field names, coerces ids and timestamps,
validates with the pandera model generated from the map (`lazy=True`, so every bad row is
reported at once) and splits the rows into `valid` and `quarantined`, each quarantined row with
all of its reasons on one line and its raw record as JSON.

Validation sees each field's text (what a write would send). In `valid`, a field's column then
holds its canonical form (what every comparison uses) and `text_column(field)` the text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sync_pipeline.core.coerce import (
    Problems,
    RawColumn,
    coerce_field,
    coerce_ids,
    coerce_timestamps,
)
from sync_pipeline.core.fieldmap import FieldType, PairSpec
from sync_pipeline.core.frames import text_column
from sync_pipeline.core.normalize import canonical_values, from_arrow, to_arrow
from sync_pipeline.core.schemas import CHECK_REASONS, TIMESTAMP_DTYPE, mapped_frame_model
from sync_pipeline.core.systems import EntitySpec
from sync_pipeline.core.types import Side, Verdict

PAYLOAD_MAX_CHARS = 2000
DEFAULT_BAD_SHARE_THRESHOLD = 0.10
QUARANTINE_COLUMNS = ("record_id", "reason", "payload")


@dataclass(frozen=True)
class SideFrame:
    """One pair's rows from one system: `valid` (mapped: `id`, `updated_at`, each field's
    canonical value, then each field's text in `text_column(field)`) and `quarantined`."""

    valid: pd.DataFrame
    quarantined: pd.DataFrame

    @property
    def total(self) -> int:
        """Rows read from the snapshot."""
        return len(self.valid) + len(self.quarantined)


def empty_side_frame(pair: PairSpec) -> pd.DataFrame:
    """A valid mapped frame with no rows and the right dtypes."""
    columns: dict[str, pd.Series] = {
        "id": pd.Series([], dtype="str"),
        "updated_at": pd.Series([], dtype=TIMESTAMP_DTYPE),
    }
    columns.update({name: pd.Series([], dtype="str") for name in pair.field_names})
    columns.update({text_column(n): pd.Series([], dtype="str") for n in pair.field_names})
    return pd.DataFrame(columns)


def _column(raw: pd.DataFrame, prop: str) -> RawColumn:
    """The raw values of `prop`; a property absent from every record is empty, not an error."""
    if prop in raw.columns:
        column = raw[prop]
        if isinstance(column.dtype, pd.StringDtype) and column.dtype.storage == "pyarrow":
            return to_arrow(column)  # already strings: no per-value type check needed
        return column.to_numpy(dtype=object)
    return np.full(len(raw), None, dtype=object)


def _mapped(
    raw: pd.DataFrame, pair: PairSpec, side: Side, entity: EntitySpec, problems: Problems
) -> pd.DataFrame:
    index = pd.RangeIndex(len(raw))
    columns: dict[str, pd.Series] = {
        "id": from_arrow(
            coerce_ids(_column(raw, entity.id), entity.id, side == "webcrm", problems), index
        ),
        "updated_at": coerce_timestamps(
            _column(raw, entity.updated_at), entity.updated_at, problems
        ).set_axis(index),
    }
    for field in pair.fields:
        prop = field.prop(side)
        columns[field.name] = from_arrow(coerce_field(_column(raw, prop), prop, problems), index)
    return pd.DataFrame(columns, index=index)


def _validate(
    mapped: pd.DataFrame, pair: PairSpec, side: Side, entity: EntitySpec, problems: Problems
) -> None:
    """Run the generated pandera model; add each failing row's reasons to `problems`."""
    import pandera.pandas as pa  # here, not at import: see schemas.py

    try:
        mapped_frame_model(pair, side).validate(mapped, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        cases = cases[cases["index"].notna()]
        props = {"id": entity.id, "updated_at": entity.updated_at}
        props.update({f.name: f.prop(side) for f in pair.fields})
        # Coercion already explained every NaT timestamp more precisely than not_nullable.
        cases = cases[cases["check"] != "not_nullable"]
        for (column, check), group in cases.groupby(["column", "check"], sort=False):
            template = CHECK_REASONS.get(str(check), "{prop}: failed check " + str(check))
            reason = template.format(prop=props.get(str(column), column))
            rows = group["index"].to_numpy(dtype=np.int64)
            if check == "id_unique":
                ids = mapped["id"].iloc[rows].to_numpy(dtype=object)
                counts = pd.Series(ids).value_counts()
                problems.add(rows, [f"duplicate id {i!r} ({counts[i]} records)" for i in ids])
            else:
                problems.add(rows, [reason] * len(rows))


def _json_safe(value: object) -> object:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def raw_payload(record: Mapping[Hashable, object]) -> str:
    """The raw record as ASCII JSON (lone surrogates escaped), cut to `PAYLOAD_MAX_CHARS`."""
    cleaned = {str(k): _json_safe(v) for k, v in record.items() if v is not pd.NA}
    text = json.dumps(cleaned, ensure_ascii=True, default=repr, sort_keys=True)
    if len(text) > PAYLOAD_MAX_CHARS:
        text = text[: PAYLOAD_MAX_CHARS - 15] + "...(truncated)"
    return text


def _quarantine_frame(raw: pd.DataFrame, mapped: pd.DataFrame, reasons: pd.Series) -> pd.DataFrame:
    positions = reasons.index.to_numpy(dtype=np.int64)
    records = raw.iloc[positions].to_dict(orient="records") if len(raw.columns) else []
    payloads = [raw_payload(r) for r in records] if records else ["{}"] * len(positions)
    return pd.DataFrame(
        {
            "record_id": pd.Series(
                mapped["id"].iloc[positions].to_numpy(dtype=object), dtype="str"
            ),
            "reason": pd.Series(reasons.to_numpy(dtype=object), dtype="str"),
            "payload": pd.Series(payloads, dtype="str"),
        }
    )


def prepare_side(
    raw: pd.DataFrame,
    pair: PairSpec,
    side: Side,
    entities: Mapping[Side, Mapping[str, EntitySpec]],
) -> SideFrame:
    """Map, validate and normalise one raw snapshot for `pair` on `side` (see module doc)."""
    entity = entities[side][pair.entity(side)]
    problems = Problems()
    mapped = _mapped(raw, pair, side, entity, problems)
    if len(mapped):  # pandera costs ~40 ms even on an empty frame (a no-op run has many)
        _validate(mapped, pair, side, entity, problems)
    reasons = problems.by_row()
    bad = np.zeros(len(mapped), dtype=bool)
    bad[reasons.index.to_numpy(dtype=np.int64)] = True
    valid = _with_canonical(mapped[~bad].reset_index(drop=True), pair)
    return SideFrame(valid=valid, quarantined=_quarantine_frame(raw, mapped, reasons))


def _with_canonical(valid: pd.DataFrame, pair: PairSpec) -> pd.DataFrame:
    """Each field's column becomes its canonical form; its text moves to `text_column`."""
    canonical = {f.name: _canonical(valid[f.name], f.type) for f in pair.fields}
    texts = {text_column(f.name): valid[f.name] for f in pair.fields}
    return valid.assign(**canonical).assign(**texts)


def _canonical(text: pd.Series, type_: FieldType) -> pd.Series:
    """The canonical column; the text column itself when they agree everywhere (names mostly
    do), so a million records do not hold two copies of the same strings."""
    canonical = canonical_values(text, type_)
    return text if canonical.equals(text) else canonical


def bad_share(side_frame: SideFrame, linked: int = 0) -> float:
    """Quarantined rows over the rows read or, when more, the pair's `linked` records (0.0 when
    nothing was read): one bad row in a small incremental window must not stop a pair of
    thousands of links."""
    return len(side_frame.quarantined) / max(side_frame.total, linked, 1)


def quarantine_verdict(
    side_frame: SideFrame, linked: int = 0, threshold: float = DEFAULT_BAD_SHARE_THRESHOLD
) -> Verdict:
    """Blocks the sink when the bad share of a pair's rows (`bad_share`) passes `threshold`."""
    share = bad_share(side_frame, linked)
    count = len(side_frame.quarantined)
    passed = share <= threshold
    verdict = "within" if passed else "over"
    message = (
        f"{count} of {side_frame.total} rows read quarantined ({share:.1%} of max(rows read, "
        f"{linked} linked)), {verdict} the {threshold:.0%} threshold"
    )
    return Verdict(passed=passed, share=share, message=message)
