"""`sync-pipeline holds list | holds resolve ID (--link OTHER_ID | --create | --ignore)`.

Records the sync holds back (ambiguous matches today) stay held until an operator answers;
the pair's next run acts on the answer: `--link` links the held record to OTHER_ID (a record
of the other side), `--create` creates it on the other side (never matching it), `--ignore`
leaves it unsynced for good.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sync_pipeline.core import load_field_map
from sync_pipeline.settings import state_url_from
from sync_pipeline.store import HoldError, LinkStore

COLUMNS = ("id", "pair", "side", "record id", "kind", "reason", "since")


def list_holds() -> int:
    """Print the open holds, oldest first, one per line (a header first); exit 0."""
    with LinkStore(state_url_from(os.environ, Path.cwd())) as store:
        holds = store.holds_frame()
    rows = [COLUMNS] + [
        (
            str(h["id"]),
            str(h["pair"]),
            str(h["side"]),
            str(h["record_id"]),
            str(h["kind"]),
            str(h["reason"]),
            h["since"].strftime("%Y-%m-%d %H:%M:%S UTC"),
        )
        for h in holds.to_dict("records")
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    if holds.empty:
        print("no open holds")
    return 0


def resolve_hold(hold_id: int, resolution: str, other_id: str | None) -> int:
    """Record the answer to one open hold: one line; exit 0, or 1 with one line on stderr
    (unknown or settled hold, or a link that would break a rule)."""
    entities = {name: pair.crmoffice_entity for name, pair in load_field_map().pairs.items()}
    try:
        with LinkStore(state_url_from(os.environ, Path.cwd())) as store:
            hold = store.resolve_hold(
                hold_id, resolution, other_id=other_id, crmoffice_entity=entities
            )
    except HoldError as error:
        print(f"holds resolve: {error}", file=sys.stderr)
        return 1
    record = f"{hold['pair']} {hold['side']} {hold['record_id']}"
    other = "crmoffice" if hold["side"] == "webcrm" else "webcrm"
    action = {
        "link": f"will be linked to {other} {other_id}",
        "create": f"will be created in {other}",
        "ignore": "is ignored: never created or linked",
    }[resolution]
    print(f"hold {hold_id} resolved: {record} {action} by the pair's next sync")
    return 0
