"""How many changes a full run writes that the incremental runs had missed (issue 10).

Incremental runs read each side from its cursor (the newest change the pair had seen), so every
change made before the cursor should have been carried by one of them. A full run that still
finds such a change to write (a create or an update from a source record last changed before
the cursor it read against) counts it as missed: 0 is expected; more means the `/Queries`
windows lost records (a zone misread, a clock that jumped, a paging fault).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sync_pipeline.core import DIRECTIONS, SOURCE_SIDE, Side
from sync_pipeline.sync.plans import PlannedPair, SideRows
from sync_pipeline.sync.run_guard import cursor_name


def missed_by_incremental(planned: PlannedPair, rows: Mapping[Side, SideRows]) -> int | None:
    """Source records a full run writes although they changed before their side's cursor;
    None for runs that are not full reads of both sides (nothing to compare), or before any
    incremental run set a cursor."""
    if not all(r.complete and r.mode == "full" for r in rows.values()):
        return None
    cursors: dict[Side, datetime | None] = {
        side: r.state.cursors.get(cursor_name(side, r.entity)) for side, r in rows.items()
    }
    if all(c is None for c in cursors.values()):
        return None
    missed = 0
    for direction in DIRECTIONS:
        cursor = cursors[SOURCE_SIDE[direction]]
        if cursor is not None:
            times = planned.of(direction).source_times.values()
            missed += sum(1 for changed in times if changed < cursor)
    return missed
