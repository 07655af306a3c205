"""Benchmark sizes: defaults for `make bench`, a `--quick` set for the smoke test, flags and env.

Every size is a flag (`--persons 10000`) and an environment variable (`BENCH_PERSONS=10000`);
a flag wins over the variable, the variable over the default.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

GROUPS = ("extract", "rate_limit", "diff", "memory", "sync", "shared_budget", "store_pg", "latency")


@dataclass(frozen=True)
class BenchConfig:
    """What to run and how big."""

    extract_persons: int = 100_000
    rate_limit: int = 120
    rate_requests: int = 0  # 0: twice the limit
    rate_window: float = 60.0
    diff_rows: int = 1_000_000
    rowwise_sample: int = 50_000
    diff_repeats: int = 3
    memory_rows: int = 1_000_000
    persons: int = 10_000
    edit_share: float = 0.01
    noop_repeats: int = 3
    budget_persons: int = 2_000
    budget_limit: int = 6
    pg_links: int = 1_000_000
    latency_edits: int = 20
    latency_gap: float = 10.0
    latency_idle: float = 300.0
    latency_dequeue: int = 0  # 0: deployment.DEQUEUE_INTERVAL_SECONDS
    groups: tuple[str, ...] = GROUPS
    json_path: Path | None = None
    quick: bool = False

    @property
    def rate_total(self) -> int:
        """Requests written per system in the rate-limit figure."""
        return self.rate_requests or 2 * self.rate_limit


QUICK: dict[str, object] = {
    "extract_persons": 2_000,
    "rate_limit": 20,
    "rate_window": 2.0,
    "diff_rows": 20_000,
    "rowwise_sample": 5_000,
    "diff_repeats": 1,
    "memory_rows": 20_000,
    "persons": 100,
    "noop_repeats": 1,
    "budget_persons": 200,
    "budget_limit": 4,
    "pg_links": 5_000,
    "latency_edits": 2,
    "latency_gap": 1.0,
    "latency_idle": 60.0,
}

_HELP = {
    "extract_persons": "persons read by the extract figure",
    "rate_limit": "requests per window both sandboxes allow in the rate-limit figure",
    "rate_requests": "requests written per system there (default: twice the limit)",
    "rate_window": "the sandbox's rate window in seconds (60 = the real APIs; --quick: 2)",
    "diff_rows": "linked records in the diff figure",
    "rowwise_sample": "links the per-row Python diff is timed on (then scaled)",
    "diff_repeats": "timed repeats of each diff (the best counts)",
    "memory_rows": "records per entity in the peak-RSS figure",
    "persons": "sandbox seed N for the sync figures: N persons, N/20 users, N/4 products",
    "edit_share": "share of records edited on each side before the incremental run",
    "noop_repeats": "timed repeats of the no-op CLI run and of the Dagster floor",
    "budget_persons": "sandbox seed N for the two concurrent runs of the shared-budget figure",
    "budget_limit": "WebCRM requests per window (--rate-window) in the shared-budget figure",
    "pg_links": "links loaded from SQLite and from PostgreSQL in the links-frame figure",
    "latency_edits": "edits, alternately in each system, in the near-real-time latency figure",
    "latency_gap": "the most seconds between two of those edits (a random wait)",
    "latency_idle": "seconds the APIs are left idle while the sensors probe",
    "latency_dequeue": "the run queue's dequeue interval, seconds (0: the deployment's)",
}


def build_parser() -> argparse.ArgumentParser:
    """Flags for every size, plus `--quick`, `--only` and `--json`."""
    parser = argparse.ArgumentParser(
        prog="python -m sync_pipeline_tests.bench",
        description="Measure the DESIGN.md section 6 figures and print them as `name: value`.",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes (the smoke test)")
    parser.add_argument(
        "--only", default=None, help=f"comma-separated groups to run, of {', '.join(GROUPS)}"
    )
    parser.add_argument("--json", dest="json_path", type=Path, help="also write the figures here")
    for field in dataclasses.fields(BenchConfig):
        if field.name in _HELP:
            kind = float if isinstance(field.default, float) else int
            flag = "--" + field.name.replace("_", "-")
            parser.add_argument(flag, type=kind, default=None, help=_HELP[field.name])
    return parser


def load_config(
    argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None
) -> BenchConfig:
    """The configuration from `argv` over `BENCH_*` variables over the defaults."""
    args = build_parser().parse_args(argv)
    env = os.environ if env is None else env
    values: dict[str, object] = dict(QUICK) if args.quick else {}
    for field in dataclasses.fields(BenchConfig):
        if field.name not in _HELP:
            continue
        kind = float if isinstance(field.default, float) else int
        from_env = env.get(f"BENCH_{field.name.upper()}")
        if from_env:
            values[field.name] = kind(from_env)
        if getattr(args, field.name) is not None:
            values[field.name] = getattr(args, field.name)
    groups = tuple(g.strip() for g in args.only.split(",")) if args.only else GROUPS
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        build_parser().error(
            f"unknown group(s) {', '.join(unknown)}; pick from {', '.join(GROUPS)}"
        )
    # why the ignore below: argparse values are untyped
    return BenchConfig(**values, groups=groups, json_path=args.json_path, quick=args.quick)  # type: ignore[arg-type]
