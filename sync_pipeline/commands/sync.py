"""`sync-pipeline sync`: one run through Dagster, kept in the instance when DAGSTER_HOME is set."""

from __future__ import annotations

import fcntl
import io
import os
import sys
from collections.abc import Sequence
from contextlib import redirect_stderr, redirect_stdout
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
from dagster_shared.telemetry import get_or_set_instance_id

from sync_pipeline.commands.heap import loaded_frozen
from sync_pipeline.core import FieldMap
from sync_pipeline.dagster_defs.jobs import pair_selection
from sync_pipeline.dagster_defs.partitions import MODE_TAG, SINCE_TAG, UNTIL_TAG
from sync_pipeline.settings import state_url_from

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
# Quiet by default: the table and one line on failure; `-v` shows the event log and progress.
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
VERBOSE_LOGS = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def _job_and_tags(
    full: bool, dry_run: bool, since: date | None, until: date | None
) -> tuple[str, dict[str, str]]:
    """Which job to run and its tags. A window (`since`..`until`, `until` excluded) runs the
    backfill job over those days' partitions, or, for a dry run, the plans with window tags."""
    if since is not None and until is not None:
        if dry_run:
            days = {SINCE_TAG: since.isoformat(), UNTIL_TAG: until.isoformat()}
            return "dry_run", {MODE_TAG: "window", **days}
        last = (until - timedelta(days=1)).isoformat()
        return "sync_window", {RANGE_START: since.isoformat(), RANGE_END: last}
    mode = "full" if full else "incremental"
    job = "dry_run" if dry_run else {"full": "full_resync", "incremental": "incremental_sync"}[mode]
    return job, {MODE_TAG: mode}


def _instance() -> dg.DagsterInstance:
    """The persistent instance when DAGSTER_HOME is set, so the run shows in the UI.

    Two syncs started together on a new DAGSTER_HOME would both create its SQLite storage and
    race in Dagster's schema migration: a file lock makes them take turns. Dagster greets a new
    folder with a banner (and a note when it has no dagster.yaml) on stderr, where the CLI
    promises one line on failure: the greeting happens here, into a discarded buffer (its
    telemetry id is made now instead of mid-run).
    """
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        return dg.DagsterInstance.ephemeral()
    Path(home).mkdir(parents=True, exist_ok=True)
    with (
        open(Path(home) / ".sync-pipeline.lock", "a") as lock,
        redirect_stdout(io.StringIO()),
        redirect_stderr(io.StringIO()),
    ):
        fcntl.flock(lock, fcntl.LOCK_EX)
        instance = dg.DagsterInstance.get()
        if instance.telemetry_enabled:
            get_or_set_instance_id()
        return instance


def execute_sync(
    defs: dg.Definitions,
    field_map: FieldMap,
    instance: dg.DagsterInstance,
    pairs: Sequence[str],
    *,
    full: bool = False,
    dry_run: bool = False,
    since: date | None = None,
    until: date | None = None,
    verbose: bool = False,
) -> dg.ExecuteInProcessResult:
    """One in-process run of the right job over the selected pairs."""
    job_name, tags = _job_and_tags(full, dry_run, since, until)
    selection = pair_selection(
        field_map, pairs, dry_run=dry_run, backfill=job_name == "sync_window"
    )
    keys = selection.resolve(defs.resolve_asset_graph())
    return defs.resolve_job_def(job_name).execute_in_process(
        run_config=VERBOSE_LOGS if verbose else QUIET_LOGS,
        instance=instance,
        tags=tags,
        asset_selection=sorted(keys),
        raise_on_error=False,
    )


def _new_store_note() -> str:
    """A line when the link store does not exist yet: the run is an initial load, which is
    right the first time and a sign of a wrong `DAGSTER_HOME`/`SYNC_STATE_URL` or working
    directory after that (records would be matched again, or created twice)."""
    url = state_url_from(os.environ, Path.cwd())
    path = url.removeprefix("sqlite:///")
    if not url.startswith("sqlite:///") or Path(path).exists():
        return ""
    return (
        f"note: no link store at {path} yet: this run is an initial load. If this deployment "
        "synced before, stop and check DAGSTER_HOME / SYNC_STATE_URL and the working directory."
    )


def run_sync(
    pairs: Sequence[str],
    *,
    full: bool,
    dry_run: bool,
    since: date | None,
    until: date | None,
    verbose: bool = False,
) -> int:
    """Run, print a table per pair and direction, and return the exit code: 0 every planned
    write applied, 3 the run completed but some records failed (one line on stderr says how
    many wait for a retry and how many were given up), 1 the run failed.

    The definitions and the instance (its storage modules) load frozen out of the
    collector's passes (`heap.loaded_frozen`): the CLI hands them back when the command ends
    (`heap.unfrozen_after`)."""
    with loaded_frozen():
        from sync_pipeline.commands.sync_report import failed_records, failure_line, sync_table
        from sync_pipeline.definitions import defs, field_map

        instance = _instance()
    new_store = _new_store_note()
    if new_store:
        print(new_store)
    with instance:
        result = execute_sync(
            defs,
            field_map,
            instance,
            pairs,
            full=full,
            dry_run=dry_run,
            since=since,
            until=until,
            verbose=verbose,
        )
    print(sync_table(result, pairs, dry_run=dry_run))
    if result.success:
        waiting, given_up = failed_records(result, pairs)
        if waiting + given_up == 0:
            return 0
        print(
            f"sync completed, but {waiting + given_up} records failed: {waiting} wait for a "
            f"retry by the next run, {given_up} given up",
            file=sys.stderr,
        )
        return 3
    print(f"sync failed: {failure_line(result, dry_run=dry_run)}", file=sys.stderr)
    return 1
