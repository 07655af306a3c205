"""`make bench`: `python -m sync_pipeline_tests.bench [--quick] [--only GROUPS] [sizes...]`."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from sync_pipeline_tests.bench.config import load_config
from sync_pipeline_tests.bench.figures import GROUPS
from sync_pipeline_tests.bench.harness import report, run_groups


def main(argv: Sequence[str] | None = None) -> int:
    """Measure the selected figure groups and print every figure."""
    config = load_config(argv)
    figures, failures = run_groups(config, GROUPS, out=sys.stderr)
    report(config, figures, failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
