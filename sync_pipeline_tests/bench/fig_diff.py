"""Figure 1: the core's three-way plan on a million links, against DuckDB and a per-row loop.

`diff_1m_seconds`: `plan_pair_sync` over pre-built frames (joins on the link table and the plan
frames included; building the input frames is not). `diff_vs_duckdb_ratio`: that time over the
same rule as one DuckDB query on the same pandas frames, equal counts asserted.
`diff_speedup_vs_rowwise`: a straightforward per-row Python plan, timed on a sample and scaled
linearly, over the core's time (counts on the sample asserted equal to the core's).
Each engine's best of `diff_repeats` runs counts (both are treated the same way).

CRMOffice ids are UUID-shaped here: opaque strings, the costliest join. The emulator's `c-<n>`
ids join faster; `diff_1m_seconds_sandbox_ids` reports the core's time with those.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import duckdb
import pandas as pd

from sync_pipeline.core import PairPlan, load_field_map, plan_pair_sync
from sync_pipeline_tests.bench.config import BenchConfig
from sync_pipeline_tests.bench.diff_data import DiffFrames, build_frames
from sync_pipeline_tests.bench.diff_duckdb import duckdb_plan, plan_sql
from sync_pipeline_tests.bench.diff_rowwise import rowwise_counts, rowwise_plan
from sync_pipeline_tests.bench.harness import Figures

FIGURES = ("diff_1m_seconds", "diff_vs_duckdb_ratio", "diff_speedup_vs_rowwise")
COMPARED = ("updates_to_crmoffice", "updates_to_webcrm", "conflicts", "shadow_moves")
PAIR = "persons_contacts"
T = TypeVar("T")


def empty_intents(fields: tuple[str, ...]) -> pd.DataFrame:
    """No open create intents, in the store's frame format."""
    frame = pd.DataFrame(
        {
            "intent_id": pd.Series([], dtype="int64"),
            "direction": pd.Series([], dtype="str"),
            "source_id": pd.Series([], dtype="str"),
            "created_at": pd.Series([], dtype="datetime64[ns, UTC]"),
        }
    )
    for name in fields:
        frame[name] = pd.Series([], dtype="str")
    return frame


def core_plan(frames: DiffFrames) -> PairPlan:
    """The project's plan of one pair over complete snapshots."""
    pair = load_field_map().pairs[PAIR]
    return plan_pair_sync(
        pair,
        frames.webcrm,
        frames.crmoffice,
        frames.links,
        empty_intents(pair.field_names),
        complete=True,
        now=datetime.now(UTC),
    )


def best_of(repeats: int, run: Callable[[], T]) -> tuple[float, T]:
    """The shortest of `repeats` timed calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(max(1, repeats)):
        gc.collect()
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    assert result is not None
    return best, result


def _same_counts(ours: dict[str, int], theirs: dict[str, int], what: str) -> None:
    mine = {k: ours[k] for k in COMPARED}
    other = {k: theirs[k] for k in COMPARED}
    if mine != other:
        raise AssertionError(f"core plan and {what} disagree: {mine} vs {other}")


def _rowwise_seconds_scaled(config: BenchConfig) -> float:
    sample = build_frames(min(config.rowwise_sample, config.diff_rows), seed=1)
    seconds, plan = best_of(1, lambda: rowwise_plan(sample))
    _same_counts(core_plan(sample).counts(), rowwise_counts(plan), "the per-row plan")
    return seconds * config.diff_rows / len(sample.links)


def _core_and_duckdb(config: BenchConfig) -> tuple[float, float]:
    """Best times of the core plan and of the DuckDB query on the same frames."""
    frames = build_frames(config.diff_rows)
    ours, plan = best_of(config.diff_repeats, lambda: core_plan(frames))
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    sql = plan_sql(frames.fields)
    theirs, duck = best_of(config.diff_repeats, lambda: duckdb_plan(frames, sql, con))
    _same_counts(plan.counts(), duck.counts(), "the DuckDB query")
    return ours, theirs


def _core_with_sandbox_ids(config: BenchConfig) -> float:
    """The core plan again with CRMOffice ids shaped as the sandbox makes them (`c-<n>`)."""
    frames = build_frames(config.diff_rows, crmoffice_ids="sandbox")
    return best_of(config.diff_repeats, lambda: core_plan(frames))[0]


def measure_diff(config: BenchConfig) -> Figures:
    """Time the core plan, DuckDB and the per-row loop on the same rule."""
    ours, theirs = _core_and_duckdb(config)
    rowwise = _rowwise_seconds_scaled(config)
    sandbox_ids = _core_with_sandbox_ids(config)
    return {
        "diff_1m_seconds": round(ours, 3),
        "diff_vs_duckdb_ratio": round(ours / theirs, 2),
        "diff_speedup_vs_rowwise": round(rowwise / ours, 1),
        "diff_duckdb_seconds": round(theirs, 3),
        "diff_rowwise_seconds_scaled": round(rowwise, 2),
        "diff_1m_seconds_sandbox_ids": round(sandbox_ids, 3),
    }
