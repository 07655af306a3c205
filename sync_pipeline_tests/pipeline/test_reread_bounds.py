"""Where a sink's re-read starts, which stamps it may trust (`SideRows.changes_since`,
`SideRows.settled_before`) and where the next read starts (`Snapshot.cursor`): from when the
read began, not from its newest record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from sync_pipeline.core import prepare_side
from sync_pipeline.store import PairBasis, PairState
from sync_pipeline.sync.extract import Snapshot
from sync_pipeline.sync.plans import CLOCK_SKEW_MARGIN, SideRows
from sync_pipeline.sync.window import ReadWindow
from sync_pipeline_tests.core.maps import sandbox_field_map

FIELD_MAP = sandbox_field_map()
PAIR = FIELD_MAP.pairs["persons_contacts"]
READ_AT = datetime(2026, 11, 30, 15, 0, 0, 400_000, tzinfo=UTC)  # our clock
OFFSET = timedelta(seconds=-0.4)  # the server's `Date` minus our clock: it began at 15:00:00.0


def _read(high_water: datetime | None, offset: timedelta | None = OFFSET) -> SideRows:
    frame = prepare_side(pd.DataFrame(), PAIR, "webcrm", FIELD_MAP.entities)
    state = PairState(PairBasis(0, 0), {}, 0)
    return SideRows(
        PAIR.name, "webcrm", "Persons", frame, True, high_water, "full", state, READ_AT, offset
    )


def test_the_reread_starts_where_the_read_began_when_a_later_page_holds_a_newer_record() -> None:
    """A read of several pages took 30 s; a record on a later page was stamped at 15:00:20, so
    an edit at 15:00:10 to a record of the first page is older than the newest record read."""
    newest = datetime(2026, 11, 30, 15, 0, 20, tzinfo=UTC)
    since = _read(newest).changes_since()
    assert since is not None and since <= datetime(2026, 11, 30, 15, 0, 0, tzinfo=UTC)


def test_the_reread_starts_at_the_newest_record_when_it_is_older_than_the_read() -> None:
    """A quiet entity: its newest record is older than the read, and nothing narrows further."""
    newest = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
    assert _read(newest).changes_since() == newest
    assert _read(None).changes_since() == datetime(2026, 11, 30, 14, 59, 59, tzinfo=UTC)
    assert _read(newest, offset=None).changes_since() == newest
    assert _read(None, offset=None).changes_since() == READ_AT - CLOCK_SKEW_MARGIN


def test_a_stamp_is_trusted_only_when_its_second_was_over_before_the_read_began() -> None:
    """The read began at 15:00:00.0 (less the `Date` header's second: 14:59:59): a whole-second
    stamp of 14:59:58 cannot be shared by a later edit; one of 14:59:59 or later can."""
    settled = _read(None).settled_before()
    assert settled == datetime(2026, 11, 30, 14, 59, 58, tzinfo=UTC)
    assert _read(None, offset=None).settled_before() == READ_AT - CLOCK_SKEW_MARGIN - timedelta(
        seconds=1
    )


def _snapshot(high_water: datetime, window: ReadWindow) -> Snapshot:
    return Snapshot(
        "webcrm", "Persons", pd.DataFrame(), window, high_water, read_at=READ_AT,
        clock_offset=OFFSET,
    )  # fmt: skip


def test_the_cursor_stays_where_a_long_read_began() -> None:
    """A full read of many pages took three minutes (more than the two-minute overlap) and its
    last page holds a record stamped at its end: the cursor stays where the read began, so the
    next read still covers an edit made meanwhile to a record of its first page."""
    newest = datetime(2026, 11, 30, 15, 3, tzinfo=UTC)
    began = datetime(2026, 11, 30, 14, 59, 59, tzinfo=UTC)
    assert _snapshot(newest, ReadWindow("full", None, None)).cursor == began
    quiet = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
    assert _snapshot(quiet, ReadWindow("incremental", quiet, None)).cursor == began
    bounded = ReadWindow("window", quiet, datetime(2026, 11, 30, 15, 0, tzinfo=UTC))
    assert _snapshot(quiet, bounded).cursor == quiet
