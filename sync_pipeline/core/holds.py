"""Standing holds: what the store's holds mean for one plan (DESIGN section 2, initial matching).

A record held for an operator stays held until resolved: it is never created nor auto-linked,
yet it still counts as a match candidate, so a record that shares its key with a held one is
held too (an ambiguity never resolves itself by one side showing up in a window alone). The
operator's answers: `links` (link exactly these two records), `creates` (create the record,
never match it), `ignore` (held forever, listed no more).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from sync_pipeline.core.frames import held_frame, str_frame
from sync_pipeline.core.matching import MatchOutcome
from sync_pipeline.core.types import Side


def _no_ids() -> dict[Side, frozenset[str]]:
    return {"webcrm": frozenset(), "crmoffice": frozenset()}


@dataclass(frozen=True)
class StandingHolds:
    """The holds a plan honours.

    `held`: `side`, `id`, `reason`, `kind` of records held open; `ignored`: per side, ids an
    operator chose never to sync (no candidate either); `links`: `webcrm_id`, `crmoffice_id`
    pairs an operator approved; `creates`: per side, ids released for creation (never matched)."""

    held: pd.DataFrame = field(default_factory=lambda: held_frame().assign(kind=""))
    links: pd.DataFrame = field(
        default_factory=lambda: str_frame({"webcrm_id": [], "crmoffice_id": []})
    )
    creates: dict[Side, frozenset[str]] = field(default_factory=_no_ids)
    ignored: dict[Side, frozenset[str]] = field(default_factory=_no_ids)

    def held_ids(self, side: Side) -> frozenset[str]:
        """Ids on `side` that stay held."""
        return frozenset(self.held.loc[self.held["side"] == side, "id"].astype("str"))


def hold_partners(matches: MatchOutcome, standing: StandingHolds) -> MatchOutcome:
    """Matched pairs with a held record are no match: the held record stays held and its
    partner is held too (it shares a key with a record an operator has to settle)."""
    held_w, held_c = standing.held_ids("webcrm"), standing.held_ids("crmoffice")
    pairs = matches.pairs
    on_w, on_c = pairs["webcrm_id"].isin(held_w), pairs["crmoffice_id"].isin(held_c)
    if not (on_w | on_c).any():
        return matches
    partners = []
    for side, other, mask in (
        ("webcrm", "crmoffice", on_c & ~on_w),
        ("crmoffice", "webcrm", on_w & ~on_c),
    ):
        hit = pairs[mask]
        reasons = [
            f"ambiguous match: shares its match key with held {other} record {i}"
            for i in hit[f"{other}_id"]
        ]
        partners.append(
            held_frame(
                {"side": [side] * len(hit), "id": hit[f"{side}_id"].tolist(), "reason": reasons}
            )
        )
    held = pd.concat([matches.held, *partners], ignore_index=True)
    return MatchOutcome(pairs[~(on_w | on_c)].reset_index(drop=True), held)
