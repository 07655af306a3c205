"""The `sync-pipeline` console script (placeholder until the commands land)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    print("sync-pipeline: no commands yet", file=sys.stderr)
    return 2
