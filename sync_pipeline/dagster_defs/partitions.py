"""Daily partitions on record modification date, and how a run picks its read window."""

from __future__ import annotations

import warnings
from datetime import datetime

import dagster as dg

from sync_pipeline.sync import MODES, Mode

MODE_TAG = "sync/mode"
SINGLE_RUN = dg.BackfillPolicy.single_run()
PARTITION_START = "2020-01-01"

# end_offset=1 includes today, so the schedule and the CLI can name the current day.
modification_date = dg.DailyPartitionsDefinition(
    start_date=PARTITION_START, end_offset=1, timezone="UTC"
)


def run_mode(context: dg.AssetExecutionContext) -> Mode:
    """`sync/mode` tag if set (jobs and schedules set it); otherwise a window run.

    A materialisation started from the asset graph or a backfill names partitions, so it
    re-syncs exactly the records modified in them.
    """
    tag = context.run.tags.get(MODE_TAG)
    if tag is not None:
        if tag not in MODES:
            raise dg.Failure(f"run tag {MODE_TAG}={tag!r} is not one of {', '.join(MODES)}")
        return tag
    return "window"


def partition_window(context: dg.AssetExecutionContext) -> tuple[datetime, datetime] | None:
    """The modification-date window of the partitions this run targets."""
    if not context.has_partition_key_range:
        return None
    window = context.partition_time_window
    return window.start, window.end


# Single-run backfills (a date range as one run) are how backfills work here; Dagster still
# labels `backfill_policy` beta, and would say so once per asset on every load.
warnings.filterwarnings("ignore", message=r"Parameter `backfill_policy`", category=dg.BetaWarning)
