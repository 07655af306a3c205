"""Column layouts of the plan frames, and builders that give every frame its dtypes."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from sync_pipeline.core.schemas import TIMESTAMP_DTYPE

STR = "str"
TEXT_SUFFIX = ".text"


def text_column(field: str) -> str:
    """The column holding a field's text (what a side holds, what a write sends) beside the
    field's own column, which holds its canonical form (compared, matched, the shadow)."""
    return field + TEXT_SUFFIX


def text_columns(fields: tuple[str, ...]) -> list[str]:
    """`text_column` of every field, in field order."""
    return [text_column(f) for f in fields]


def str_frame(columns: dict[str, object]) -> pd.DataFrame:
    """A frame whose every column is `str` dtype."""
    return pd.DataFrame({k: pd.Series(v, dtype=STR) for k, v in columns.items()})


def creates_frame(fields: tuple[str, ...], rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """`source_id` + one canonical column per field (the new link's shadow and the intent's
    payload) + one text column per field (the values a create writes)."""
    if rows is None:
        return str_frame({c: [] for c in ("source_id", *fields, *text_columns(fields))})
    frame = rows[["id", *fields, *text_columns(fields)]].rename(columns={"id": "source_id"})
    return frame.sort_values("source_id", kind="stable").reset_index(drop=True)


def updates_frame(fields: tuple[str, ...]) -> pd.DataFrame:
    """`webcrm_id`, `crmoffice_id`, `changed` (tuple of fields) + the agreed canonical value per
    field (the new shadow) + per field the text to write (the source's own text)."""
    frame = str_frame({"webcrm_id": [], "crmoffice_id": []})
    frame["changed"] = pd.Series([], dtype=object)
    for f in (*fields, *text_columns(fields)):
        frame[f] = pd.Series([], dtype=STR)
    return frame


def links_frame(fields: tuple[str, ...]) -> pd.DataFrame:
    """`webcrm_id`, `crmoffice_id`, `action`, `intent_id` (Int64) + the shadow to store."""
    frame = str_frame({"webcrm_id": [], "crmoffice_id": [], "action": []})
    frame["intent_id"] = pd.Series([], dtype="Int64")
    for f in fields:
        frame[f] = pd.Series([], dtype=STR)
    return frame


def conflicts_frame(**columns: object) -> pd.DataFrame:
    """One row per conflicting field of a link and how it was resolved."""
    names = (
        "webcrm_id",
        "crmoffice_id",
        "field",
        "webcrm_value",
        "crmoffice_value",
        "shadow_value",
        "winner",
        "rule",
    )
    if not columns:
        return str_frame({c: [] for c in names})
    length = len(np.asarray(columns["webcrm_id"]))
    filled = {
        c: (
            np.full(length, columns[c], dtype=object) if isinstance(columns[c], str) else columns[c]
        )
        for c in names
    }
    return str_frame(filled)


def orphans_frame(rows: dict[str, object] | None = None) -> pd.DataFrame:
    """`webcrm_id`, `crmoffice_id`, `missing_side` (`webcrm` | `crmoffice` | `both`)."""
    return str_frame(rows or {c: [] for c in ("webcrm_id", "crmoffice_id", "missing_side")})


def held_frame(rows: dict[str, object] | None = None) -> pd.DataFrame:
    """`side`, `id`, `reason`: records deliberately neither created nor linked."""
    return str_frame(rows or {c: [] for c in ("side", "id", "reason")})


def intents_not_applied_frame(rows: dict[str, object] | None = None) -> pd.DataFrame:
    """`intent_id` (int64), `direction`, `source_id`, `reason`: intents to close unapplied."""
    if rows is None:
        rows = {"intent_id": [], "direction": [], "source_id": [], "reason": []}
    frame = str_frame({k: v for k, v in rows.items() if k != "intent_id"})
    frame.insert(0, "intent_id", pd.Series(rows["intent_id"], dtype="int64"))
    return frame


def changed_tuples(writes: npt.NDArray[np.bool_], fields: tuple[str, ...]) -> pd.Series:
    """Per row of a (rows x fields) bool matrix, the tuple of fields that are True."""
    if len(writes) == 0:
        return pd.Series([], dtype=object)
    bits = writes.astype(np.int64) @ (1 << np.arange(len(fields), dtype=np.int64))
    names = {int(b): tuple(f for i, f in enumerate(fields) if b >> i & 1) for b in np.unique(bits)}
    return pd.Series([names[int(b)] for b in bits], dtype=object)


def empty_timestamps() -> pd.Series:
    """An empty `datetime64[ns, UTC]` series."""
    return pd.Series([], dtype=TIMESTAMP_DTYPE)
