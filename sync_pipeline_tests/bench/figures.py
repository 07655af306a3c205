"""The registry of figure groups: the names each must produce, in `make bench` order."""

from __future__ import annotations

from sync_pipeline_tests.bench import (
    fig_diff,
    fig_extract,
    fig_latency,
    fig_memory,
    fig_rate_limit,
    fig_shared_budget,
    fig_store_pg,
    fig_sync_group,
)
from sync_pipeline_tests.bench.harness import Group

GROUPS: dict[str, Group] = {
    "extract": Group("extract", fig_extract.FIGURES, fig_extract.measure_extract),
    "rate_limit": Group("rate_limit", fig_rate_limit.FIGURES, fig_rate_limit.measure_rate_limit),
    "diff": Group("diff", fig_diff.FIGURES, fig_diff.measure_diff),
    "memory": Group("memory", fig_memory.FIGURES, fig_memory.measure_memory),
    "sync": Group("sync", fig_sync_group.FIGURES, fig_sync_group.measure_sync),
    "shared_budget": Group(
        "shared_budget", fig_shared_budget.FIGURES, fig_shared_budget.measure_shared_budget
    ),
    "store_pg": Group("store_pg", fig_store_pg.FIGURES, fig_store_pg.measure_store_pg),
    "latency": Group("latency", fig_latency.FIGURES, fig_latency.measure_latency),
}
