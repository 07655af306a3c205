"""`make reliability`: every part at full size, then the figures as `name: value` lines."""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sync_pipeline_tests.reliability.figures import Part, headline, render
from sync_pipeline_tests.reliability.part_faults import run_faults
from sync_pipeline_tests.reliability.tee import captured_output

PartRunner = Callable[[Path], Part]
PARTS: list[tuple[str, PartRunner]] = [
    ("faults", run_faults),
]


def run_all(root: Path) -> list[Part]:
    """Run each part in its own folder; a part that raises is reported, not fatal."""
    parts = []
    for name, runner in PARTS:
        started = time.monotonic()
        print(f"== part {name} ...", flush=True)
        try:
            part = runner(root / name)
        except Exception as error:
            part = Part(name)
            part.figure("crashed", 1)
            part.note(f"{type(error).__name__}: {error}")
        part.seconds = time.monotonic() - started
        print(f"   {name} done in {part.seconds:.0f} s: {part.figures}", flush=True)
        for line in part.notes[:20]:
            print(f"   note: {line}", flush=True)
        parts.append(part)
    return parts


def main() -> int:
    """Run everything under a temporary folder; exit 1 if a figure misses its target."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="reliability-") as tmp:
        root = Path(tmp)
        with captured_output(root / "outputs" / "main.log"):
            parts = run_all(root)
        figures = headline(parts)
    figures["total_seconds"] = round(time.monotonic() - started)
    print(render(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
