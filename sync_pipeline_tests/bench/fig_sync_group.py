"""The `sync` figure group: figure 2 (requests) then figure 4 (no-op overhead), one world."""

from __future__ import annotations

import tempfile
from pathlib import Path

from sync_pipeline_tests.bench import fig_overhead
from sync_pipeline_tests.bench.config import BenchConfig
from sync_pipeline_tests.bench.fig_sync import measure_requests, sync_env
from sync_pipeline_tests.bench.harness import Figures
from sync_pipeline_tests.bench.sandbox_process import SandboxSpec, sandbox_process

FIGURES = (
    "requests_ratio_initial",
    "requests_ratio_incremental",
    "noop_requests",
    *fig_overhead.FIGURES,
)


def measure_sync(config: BenchConfig) -> Figures:
    """Seed a sandbox, price the initial, incremental and no-op runs, then time the no-op."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-sync-") as folder,
        sandbox_process(SandboxSpec(seed=config.persons)) as sandbox,
    ):
        home, floor_home = Path(folder) / "dagster_home", Path(folder) / "floor_home"
        home.mkdir()
        floor_home.mkdir()
        env = sync_env(sandbox, str(home))
        figures = measure_requests(sandbox, env, config.edit_share, settle=not config.quick)
        thorough = not config.quick
        repeats = config.noop_repeats
        if thorough:  # right after the edits: the read overlap still re-reads them
            figures.update(
                fig_overhead.measure_overhead(
                    sandbox, env, floor_home, repeats, thorough=True, suffix="_recent"
                )
            )
        sandbox.call("age", seconds=3600)  # the store gone quiet (see `fig_overhead`)
        figures.update(
            fig_overhead.measure_overhead(sandbox, env, floor_home, repeats, thorough=thorough)
        )
    return figures
