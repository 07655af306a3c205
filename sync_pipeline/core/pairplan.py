"""The plan of one pair's sync: frozen frames, their counts and a markdown preview.

Frames (ids are `str`, field columns `str`, every frame sorted by its ids):

- `creates[direction]`: `source_id` + one column per field (the values to write).
- `updates[direction]`: `webcrm_id`, `crmoffice_id`, `changed` (tuple of the fields to write in
  this direction) + one column per field with the agreed value. After a successful write the
  store sets `shadow[f] = agreed[f]` for `f` in `changed` (only those: a field still to be
  written the other way must keep its old shadow or a failed write would read as an edit).
- `links`: link-only actions `match` | `adopt` | `shadow_move`: `webcrm_id`, `crmoffice_id`,
  `action`, `intent_id` (Int64, set for `adopt`) + the shadow to store now, before any update
  of this plan is applied (apply links first).
- `conflicts`: `webcrm_id`, `crmoffice_id`, `field`, `webcrm_value`, `crmoffice_value`,
  `shadow_value`, `winner` (side), `rule` (the `conflict_policy.Rule` applied: `non_empty` |
  `newest` | `tie` | `clock_tie` | `webcrm_wins` | `crmoffice_wins` | `initial_winner`): for
  the history.
- `orphans`: `webcrm_id`, `crmoffice_id`, `missing_side` (`webcrm` | `crmoffice` | `both`).
- `held`: `side`, `id`, `reason`, `kind`: records deliberately neither created nor linked, and links
  with a field new to them whose two values differ (written nowhere until reviewed).
- `intents_not_applied`: `intent_id` (int64), `direction`, `source_id`, `reason`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from sync_pipeline.core.types import DIRECTIONS, Direction, Side


@dataclass(frozen=True)
class PairPlan:
    """Everything one sync of one pair would do (see module doc for the frames)."""

    pair: str
    fields: tuple[str, ...]
    planned_at: datetime
    complete: bool
    creates: Mapping[Direction, pd.DataFrame]
    updates: Mapping[Direction, pd.DataFrame]
    links: pd.DataFrame
    conflicts: pd.DataFrame
    orphans: pd.DataFrame
    held: pd.DataFrame
    intents_not_applied: pd.DataFrame

    def counts(self) -> dict[str, int]:
        """Flat integer counts for run metadata and the CLI table."""
        actions = self.links["action"].value_counts()
        counts = {f"creates_{d}": len(self.creates[d]) for d in DIRECTIONS}
        counts.update({f"updates_{d}": len(self.updates[d]) for d in DIRECTIONS})
        counts.update(
            conflicts=len(self.conflicts),
            matches=int(actions.get("match", 0)),
            adopts=int(actions.get("adopt", 0)),
            shadow_moves=int(actions.get("shadow_move", 0)),
            orphans=len(self.orphans),
            held=len(self.held),
            intents_not_applied=len(self.intents_not_applied),
        )
        return counts

    def claimed_ids(self, side: Side) -> frozenset[str]:
        """Records on `side` this plan links (match/adopt) or holds. Contacts are shared by two
        pairs: plan `users_contacts` first and add its claimed `crmoffice` ids to the
        `excluded_crmoffice_ids` of `persons_contacts`, so one run never links a contact twice
        nor creates a person from a contact a user is about to own."""
        new = self.links.loc[self.links["action"].isin(["match", "adopt"]), f"{side}_id"]
        held = self.held.loc[self.held["side"] == side, "id"]
        return frozenset(new.astype("str")) | frozenset(held.astype("str"))

    @property
    def is_empty(self) -> bool:
        """True when applying the plan would change nothing anywhere (held records are a
        standing report, not an action, and do not count)."""
        counts = self.counts()
        counts.pop("held")
        return not any(counts.values())

    def preview_markdown(self, max_rows: int = 10) -> str:
        """A markdown summary: the counts, then up to `max_rows` sample rows per section."""
        mode = "full read" if self.complete else "window read"
        lines = [f"### Plan for `{self.pair}` ({mode})", "", "| action | count |", "|---|---:|"]
        lines += [f"| {name} | {value} |" for name, value in self.counts().items()]
        sections: list[tuple[str, pd.DataFrame]] = [
            *((f"Creates {d}", self.creates[d]) for d in DIRECTIONS),
            *((f"Updates {d}", self.updates[d]) for d in DIRECTIONS),
            ("Links", self.links),
            ("Conflicts", self.conflicts),
            ("Orphans", self.orphans),
            ("Held", self.held),
            ("Intents not applied", self.intents_not_applied),
        ]
        for title, frame in sections:
            if len(frame):
                lines += ["", f"#### {title} ({len(frame)})", "", _markdown_table(frame, max_rows)]
        return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    if isinstance(value, tuple):
        value = ", ".join(str(v) for v in value)
    text = "" if value is None or value is pd.NA else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."


def _markdown_table(frame: pd.DataFrame, max_rows: int) -> str:
    head = frame.head(max_rows)
    rows = ["| " + " | ".join(str(c) for c in frame.columns) + " |"]
    rows.append("|" + "---|" * len(frame.columns))
    rows += [
        "| " + " | ".join(_cell(v) for v in row) + " |" for row in head.itertuples(index=False)
    ]
    if len(frame) > max_rows:
        rows.append(f"\n…and {len(frame) - max_rows} more")
    return "\n".join(rows)
