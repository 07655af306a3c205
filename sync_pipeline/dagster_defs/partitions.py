"""How a run picks its read window: a mode tag for the sync graph, daily partitions on record
modification date for backfills.

Only the backfill assets are partitioned. Incremental and full runs read "what changed since the
cursor" or "everything", which are no set of days: recording them as partitions would either
leave the UI saying "0 % filled" after every run, or cost a materialisation per day since 2020
per asset (measured: ~1 s per partition, so ~40 min for a full run).
"""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime, time

import dagster as dg

from sync_pipeline.sync import MODES, Mode

MODE_TAG = "sync/mode"
# A dry run of a window (`sync --dry-run --since --until`) names its days in these tags.
SINCE_TAG, UNTIL_TAG = "sync/since", "sync/until"
SINGLE_RUN = dg.BackfillPolicy.single_run()
PARTITION_START = "2020-01-01"

# end_offset=1 includes today, so a backfill (and `sync --since/--until`) can name it.
modification_date = dg.DailyPartitionsDefinition(
    start_date=PARTITION_START, end_offset=1, timezone="UTC"
)


def run_mode(context: dg.AssetExecutionContext) -> Mode:
    """The sync graph's `sync/mode` tag: `incremental` (the default: a materialisation started
    from the UI reads what changed since the cursor), `full`, or `window` (with the
    `sync/since` and `sync/until` tags, ISO dates, the upper one excluded)."""
    tag = context.run.tags.get(MODE_TAG, "incremental")
    if tag not in MODES:
        raise dg.Failure(f"run tag {MODE_TAG}={tag!r} is not one of {', '.join(MODES)}")
    return tag


def tagged_window(context: dg.AssetExecutionContext) -> tuple[datetime, datetime] | None:
    """The `sync/since`..`sync/until` days of a window run of the graph, as UTC instants."""
    since, until = (context.run.tags.get(tag) for tag in (SINCE_TAG, UNTIL_TAG))
    if since is None or until is None:
        return None
    return _midnight(since), _midnight(until)


def _midnight(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(), tzinfo=UTC)


def partition_window(context: dg.AssetExecutionContext) -> tuple[datetime, datetime]:
    """The modification-date window of the partitions a backfill run targets."""
    window = context.partition_time_window
    return window.start, window.end


# Single-run backfills (a date range as one run) are how backfills work here; Dagster still
# labels `backfill_policy` beta, and would say so once per asset on every load.
warnings.filterwarnings("ignore", message=r"Parameter `backfill_policy`", category=dg.BetaWarning)
