"""`make reliability`: every part at full size, then the figures as `name: value` lines.

Everything the parts print (Dagster's own logs included) goes to a log file in the run folder,
which the final secrets scan reads with every other file the run produced; the terminal gets
one progress line per part and, at the end, the figures.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sync_pipeline_tests.reliability.figures import Part, headline, misses, render
from sync_pipeline_tests.reliability.part_bad_input import run_bad_input
from sync_pipeline_tests.reliability.part_concurrency import run_concurrency
from sync_pipeline_tests.reliability.part_convergence import run_convergence
from sync_pipeline_tests.reliability.part_crashes import run_crashes
from sync_pipeline_tests.reliability.part_durability import run_durability
from sync_pipeline_tests.reliability.part_faults import run_faults
from sync_pipeline_tests.reliability.part_holds import run_holds
from sync_pipeline_tests.reliability.part_lost_edits import run_lost_edits
from sync_pipeline_tests.reliability.part_reads import run_reads
from sync_pipeline_tests.reliability.part_secrets import count_leaks, run_secrets
from sync_pipeline_tests.reliability.part_untidy import run_untidy
from sync_pipeline_tests.reliability.sandbox_host import CLIENT_IDS
from sync_pipeline_tests.reliability.tee import captured_output

PartRunner = Callable[[Path], Part]
PARTS: list[tuple[str, PartRunner]] = [
    ("faults", run_faults),
    ("crashes", run_crashes),
    ("crashes_postgresql", lambda folder: run_crashes(folder, backend="postgresql")),
    ("convergence", run_convergence),
    ("bad_input", run_bad_input),
    ("reads", run_reads),
    ("secrets", run_secrets),
    ("concurrency", run_concurrency),
    (
        "concurrency_postgresql",
        lambda folder: run_concurrency(
            folder, interleave=False, fresh_homes=0, backend="postgresql"
        ),
    ),
    ("lost_edits", run_lost_edits),
    ("untidy", run_untidy),
    ("holds", run_holds),
    (
        "durability",
        lambda folder: run_durability(folder, folder.parent / "crashes" / "dagster_home"),
    ),
]
NOTES_SHOWN = 12


def say(text: str) -> None:
    """A progress line on the terminal (the parts' own output goes to the log file)."""
    print(text, file=sys.__stdout__, flush=True)


def run_part(name: str, runner: PartRunner, root: Path) -> Part:
    """One part in its own folder; a part that raises is reported, not fatal."""
    started = time.monotonic()
    try:
        part = runner(root / name)
    except Exception as error:  # one broken part must not hide the others' figures
        part = Part(name)
        part.figure("part_crashed", 1)
        part.note(f"{type(error).__name__}: {error}")
    part.seconds = time.monotonic() - started
    return part


def report(part: Part) -> None:
    """The part's figures and its first notes."""
    say(f"== {part.name} ({part.seconds:.0f} s): {part.figures}")
    for line in part.notes[:NOTES_SHOWN]:
        say(f"   note: {line[:300]}")
    if len(part.notes) > NOTES_SHOWN:
        say(f"   note: … {len(part.notes) - NOTES_SHOWN} more")


def main() -> int:
    """Run every part under a temporary folder; print the figures last (exit 1 if off target)."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="reliability-") as tmp:
        root = Path(tmp)
        parts = []
        with captured_output(root / "outputs" / "reliability.log"):
            for name, runner in PARTS:
                say(f"-- {name} …")
                parts.append(run_part(name, runner, root))
                report(parts[-1])
        whole = Part("whole_run")
        whole.figure("leaked_secrets", count_leaks(root, sorted(CLIENT_IDS), whole))
        whole.figure("files_scanned", sum(1 for p in root.rglob("*") if p.is_file()))
        report(whole)
    figures = headline([whole, *parts])
    figures["total_seconds"] = round(time.monotonic() - started)
    off = misses(figures)
    for line in off:
        say(f"OFF TARGET {line}")
    say(render(figures))
    return 1 if off else 0


if __name__ == "__main__":
    sys.exit(main())
