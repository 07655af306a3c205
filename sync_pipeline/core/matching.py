"""Initial matching: link pre-existing unlinked records by the pair's normalised match keys.

Keys are folded the same way on both sides (`normalize.match_key`): NFKC, invisible format
characters removed, every Unicode whitespace run one space, casefolded; phones by digits. So
`Anne Marie` and `Anne<NBSP>Marie` or `ANNE marie` are one key, never two records.

A key value held by exactly one record on each side links them (`match`). A key shared by
more than one record on either side, with a candidate on the other side, is ambiguous: every
record of that key is held and reported, never auto-linked. Records whose key is empty in every
component are unmatchable. Duplicates on one side with no candidate on the other are not a
matching question and are left alone (they are created like any unlinked record).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from sync_pipeline.core.fieldmap import PairSpec
from sync_pipeline.core.frames import held_frame
from sync_pipeline.core.normalize import KEY_SEPARATOR, join_columns, match_key, to_arrow


@dataclass(frozen=True)
class MatchOutcome:
    """Matched pairs (`webcrm_id`, `crmoffice_id`, `webcrm_row`, `crmoffice_row`) and holds."""

    pairs: pd.DataFrame
    held: pd.DataFrame


def record_keys(frame: pd.DataFrame, pair: PairSpec) -> pd.Series:
    """The joined match key per record; "" when every component is empty."""
    types = {f.name: f.type for f in pair.fields}
    parts = [to_arrow(match_key(frame[k], types[k])) for k in pair.match_keys]
    joined = join_columns(parts)
    all_empty = pc.equal(pc.utf8_length(joined), len(parts) - 1)
    return pd.Series(pc.if_else(all_empty, "", joined), dtype="str", index=frame.index)


def _keyed(frame: pd.DataFrame, pair: PairSpec) -> pd.DataFrame:
    keyed = pd.DataFrame(
        {"id": frame["id"], "row": np.arange(len(frame)), "key": record_keys(frame, pair)}
    )
    return keyed[keyed["key"] != ""]


def match_records(pair: PairSpec, webcrm: pd.DataFrame, crmoffice: pd.DataFrame) -> MatchOutcome:
    """Match unlinked `webcrm` and `crmoffice` records (side frames) by the pair's match keys."""
    empty_pairs = pd.DataFrame(
        {
            "webcrm_id": pd.Series([], dtype="str"),
            "crmoffice_id": pd.Series([], dtype="str"),
            "webcrm_row": pd.Series([], dtype="int64"),
            "crmoffice_row": pd.Series([], dtype="int64"),
        }
    )
    if not pair.match_keys or webcrm.empty or crmoffice.empty:
        return MatchOutcome(empty_pairs, held_frame())
    web, crm = _keyed(webcrm, pair), _keyed(crmoffice, pair)
    counts = pd.DataFrame(
        {"n_web": web["key"].value_counts(), "n_crm": crm["key"].value_counts()}
    ).dropna()
    unique = counts.index[(counts["n_web"] == 1) & (counts["n_crm"] == 1)]
    ambiguous = counts[(counts["n_web"] > 1) | (counts["n_crm"] > 1)]
    merged = web[web["key"].isin(unique)].merge(
        crm[crm["key"].isin(unique)], on="key", suffixes=("_w", "_c")
    )
    pairs = pd.DataFrame(
        {
            "webcrm_id": merged["id_w"].astype("str"),
            "crmoffice_id": merged["id_c"].astype("str"),
            "webcrm_row": merged["row_w"].astype("int64"),
            "crmoffice_row": merged["row_c"].astype("int64"),
        }
    )
    return MatchOutcome(pairs if len(pairs) else empty_pairs, _ambiguous_holds(web, crm, ambiguous))


def _ambiguous_holds(web: pd.DataFrame, crm: pd.DataFrame, ambiguous: pd.DataFrame) -> pd.DataFrame:
    if ambiguous.empty:
        return held_frame()
    parts = []
    for side, keyed in (("webcrm", web), ("crmoffice", crm)):
        hit = keyed[keyed["key"].isin(ambiguous.index)]
        n_web = ambiguous.loc[hit["key"], "n_web"].astype(int).to_numpy()
        n_crm = ambiguous.loc[hit["key"], "n_crm"].astype(int).to_numpy()
        readable = hit["key"].str.replace(KEY_SEPARATOR, " | ", regex=False).to_numpy(dtype=object)
        reasons = [
            f"ambiguous match: {w} webcrm and {c} crmoffice records share the key {k!r}"
            for w, c, k in zip(n_web, n_crm, readable, strict=True)
        ]
        parts.append(
            held_frame({"side": [side] * len(hit), "id": hit["id"].to_numpy(), "reason": reasons})
        )
    return pd.concat(parts, ignore_index=True)
