"""Named instants where a crash test may kill the process (`SYNC_PIPELINE_CRASH_AT`).

The reliability suite sets `SYNC_PIPELINE_CRASH_AT=<point>:<n>` to SIGKILL the sync at the n-th
time it passes `<point>` (e.g. `after_create_response:3`, between a create's response and its
link write). Unset — always in production — a crash point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "SYNC_PIPELINE_CRASH_AT"
POINTS = (
    "after_extract",
    "after_plan",
    "after_intents",
    "after_create_response",
    "after_update_response",
    "after_links",
)
_passed: dict[str, int] = {}


def crash_point(name: str) -> None:
    """SIGKILL this process if the crash test asked for this instant."""
    target = os.environ.get(ENV)
    if not target:
        return
    point, _, count = target.partition(":")
    if point != name:
        return
    _passed[name] = _passed.get(name, 0) + 1
    if _passed[name] >= int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)
