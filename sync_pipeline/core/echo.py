"""Which changed records a pair must sync, and which are echoes of our own writes.

A record a change probe saw is an *echo* when it is linked in the pair and every mapped field,
in canonical form, equals the link's shadow: our own write (or an edit that changed only fields
the pair does not map) produced it, and a run would plan nothing. A record to sync is one that
differs from its shadow, or is unlinked and the pair creates from its side (a new record).
Records that fail validation are left to the scheduled run (it quarantines and reports them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sync_pipeline.core.fieldmap import PairSpec
from sync_pipeline.core.normalize import canonical_values
from sync_pipeline.core.types import SOURCE_SIDE, Side


@dataclass(frozen=True)
class PairChanges:
    """What a probe found for one pair on one side: `changed` ids to sync (sorted), `echoes`
    (linked, equal to the shadow) and `quarantined` (invalid, left to the scheduled run)."""

    pair: str
    side: Side
    changed: tuple[str, ...]
    echoes: tuple[str, ...]
    quarantined: tuple[str, ...]


def pair_changes(
    pair: PairSpec,
    side: Side,
    valid: pd.DataFrame,
    quarantined_ids: list[str],
    links: pd.DataFrame,
    linked_elsewhere: set[str],
) -> PairChanges:
    """Split `valid` (a `prepare_side` frame: `id` and each field's canonical column) against
    `links` (a `links_frame` of the pair holding at least these ids: `<side>_id` and the shadow
    per field). `linked_elsewhere`: ids another pair links (not this pair's to create from).
    """
    names = list(pair.field_names)
    column = f"{side}_id"
    shadow = links.drop_duplicates(column).set_index(column)
    ids = valid["id"].astype(str)
    linked = ids.isin(shadow.index).to_numpy(bool)
    differs = np.zeros(len(valid), dtype=bool)
    if linked.any() and names:
        rows = shadow.loc[ids[linked].tolist()]
        for spec in pair.fields:
            stored = canonical_values(rows[spec.name].fillna(""), spec.type).to_numpy(object)
            current = valid.loc[linked, spec.name].fillna("").astype(str).to_numpy(object)
            differs[linked] |= stored != current
    creates = any(SOURCE_SIDE[d] == side for d in pair.creates)
    new = ~linked & ~ids.isin(linked_elsewhere).to_numpy(bool) & creates
    return PairChanges(
        pair.name,
        side,
        tuple(sorted(ids[differs | new])),
        tuple(sorted(ids[linked & ~differs])),
        tuple(sorted(quarantined_ids)),
    )
