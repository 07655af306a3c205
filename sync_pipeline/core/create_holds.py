"""Creates that lack a value their target requires are held, not sent to fail (DESIGN §3:
"Required values for creates"; WebCRM persons need a last name and an existing organisation,
live evidence 7 and 8). Where the values come from: `core.create_rules`."""

from __future__ import annotations

from typing import Any, cast

import pandas as pd

from sync_pipeline.core.create_rules import unresolved
from sync_pipeline.core.fieldmap import PairSpec
from sync_pipeline.core.frames import held_frame
from sync_pipeline.core.types import SOURCE_SIDE, TARGET_SIDE, Direction


def hold_incomplete_creates(
    pair: PairSpec, direction: Direction, creates: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split `creates` rows of `direction` (`source_id` + canonical fields) into those that
    carry every property the target requires (`pair.create_requires`) and a `held` frame
    (side = source side, id, reason) for those that do not."""
    reasons = pd.Series("", index=creates.index, dtype="str")
    mapped = {f.prop(TARGET_SIDE[direction]): f.name for f in pair.fields}
    defaults = pair.create_defaults.get(direction, {})
    target = pair.entity(TARGET_SIDE[direction])
    for prop in pair.create_requires.get(direction, ()):
        why = _missing(prop, mapped.get(prop), defaults.get(prop), creates, target)
        reasons = reasons.where(reasons != "", why.reindex(creates.index, fill_value=""))
    blocked = reasons != ""
    ids = creates.loc[blocked, "source_id"].astype("str").tolist()
    held = held_frame(
        {
            "side": [SOURCE_SIDE[direction]] * len(ids),
            "id": ids,
            "reason": reasons[blocked].tolist(),
        }
    )
    return creates.loc[~blocked].reset_index(drop=True), held


def _missing(
    prop: str, field: str | None, default: str | None, creates: pd.DataFrame, target: str
) -> pd.Series:
    """Per row, why `prop` has no value ("" when it has one)."""
    needs = f"{target} need {prop}"
    if default is not None and default.strip() and unresolved(default) is None:
        empty: pd.Series = pd.Series("", index=creates.index, dtype="str")
        return empty
    if field is not None:
        blank = creates[field].astype("str").str.strip() == ""
        return pd.Series(blank.map({True: f"{field} is empty; {needs}", False: ""}), dtype="str")
    variable = None if default is None else unresolved(default)
    why = (
        f"{variable} is not set; {needs} (create_defaults)"
        if variable is not None
        else f"no value for {prop}: {needs}; add it to the pair's create_defaults"
    )
    constant: Any = pd.Series(why, index=creates.index, dtype="str")
    return cast(pd.Series, constant)
