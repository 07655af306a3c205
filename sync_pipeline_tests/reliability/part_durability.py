"""Part 7: the store survives SIGKILL mid-transaction; `state export/import` round-trips.

The first half repeats the store package's own SIGKILL test; the second exports a populated
store with the CLI, imports it into an empty one with the CLI, and compares every link and
history row.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sync_pipeline.store import LinkStore
from sync_pipeline_tests.reliability import cli
from sync_pipeline_tests.reliability.checks import FIELD_MAP
from sync_pipeline_tests.reliability.figures import Part
from sync_pipeline_tests.store.test_durability import (
    test_sigkill_mid_transaction_leaves_nothing_half_applied as sigkill_mid_transaction,
)


def run_sigkill_trials(folder: Path, trials: int, part: Part) -> None:
    """The store package's SIGKILL-mid-transaction test, `trials` times on fresh files."""
    failures = 0
    for trial in range(trials):
        try:
            sigkill_mid_transaction(f"sqlite:///{folder / f'killed-{trial}.sqlite'}")
        except AssertionError as error:
            failures += 1
            part.note(f"SIGKILL mid-transaction trial {trial + 1}: {error}")
    part.figure("sigkill_mid_transaction_trials", trials)
    part.figure("sigkill_mid_transaction_failures", failures)


def _snapshot(url: str) -> dict[str, pd.DataFrame]:
    with LinkStore(url) as store:
        frames = {
            pair: store.links_frame(pair, list(spec.field_names), status=None)
            for pair, spec in FIELD_MAP.pairs.items()
        }
        frames["history"] = store.history_frame(limit=None)
    return frames


def round_trip(source_home: Path, folder: Path, part: Part) -> None:
    """Export the store of `source_home`, import it into a fresh one, compare (CLI both ways)."""
    log = cli.OutputLog(folder / "outputs")
    dump = folder / "state.jsonl"
    source_env = cli.sync_env({}, source_home)
    target_env = cli.sync_env({}, folder / "imported")
    exported = cli.run(["state", "export", str(dump)], source_env, log, "state-export")
    imported = cli.run(["state", "import", str(dump)], target_env, log, "state-import")
    part.figure("export_exit", exported.returncode)
    part.figure("import_exit", imported.returncode)
    before, after = _snapshot(source_env["SYNC_STATE_URL"]), _snapshot(target_env["SYNC_STATE_URL"])
    differing = 0
    for name, frame in before.items():
        try:
            pd.testing.assert_frame_equal(frame, after[name], check_dtype=False)
        except AssertionError as error:
            differing += 1
            part.note(f"export/import changed {name}: {str(error).splitlines()[:3]}")
    part.figure("round_trip_links", sum(len(f) for n, f in before.items() if n != "history"))
    part.figure("round_trip_history", len(before["history"]))
    part.figure("round_trip_mismatches", differing)


def run_durability(folder: Path, source_home: Path, trials: int = 3) -> Part:
    """Part 7; figures sigkill_mid_transaction_failures, round_trip_mismatches (0)."""
    part = Part("durability")
    folder.mkdir(parents=True, exist_ok=True)
    run_sigkill_trials(folder, trials, part)
    round_trip(source_home, folder, part)
    return part
