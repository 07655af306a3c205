"""Figure 4: a no-op incremental sync through Dagster, CLI start to exit, against Dagster's floor.

`noop_sync_seconds_10k`: `sync-pipeline sync` (the console script, default settings) as a fresh
process over a fully linked sandbox, from start to exit. `noop_over_dagster_floor`: that over
the same asset graph with empty bodies (`floor_graph`), run the same way -- a fresh process,
its own persistent instance, the same job, tags, partition and selection. The runs alternate
(real, floor, real, floor, ...) so load on the machine hits both alike; medians count. The floor
runs once untimed first to create its instance, as the real one already has.
Every real run is also priced (requests and records written; a no-op writes nothing).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from sync_pipeline_tests.bench.graph_shape import graph_shape
from sync_pipeline_tests.bench.harness import Figures
from sync_pipeline_tests.bench.sandbox_process import SandboxProcess

FIGURES = ("noop_sync_seconds_10k", "noop_over_dagster_floor")
CLI = Path(sys.executable).with_name("sync-pipeline")
RUN_TIMEOUT = 300


def timed_process(args: list[str], env: Mapping[str, str]) -> float:
    """Seconds from start to exit of one process; raises with its output if it fails."""
    start = time.perf_counter()
    done = subprocess.run(args, env=dict(env), capture_output=True, text=True, timeout=RUN_TIMEOUT)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return elapsed


def _cli_noop(sandbox: SandboxProcess, env: Mapping[str, str]) -> tuple[float, int, int]:
    """One timed CLI run: seconds, requests made, records written."""
    sandbox.call("mark", name="noop")
    sandbox.reset_stats()
    seconds = timed_process([str(CLI), "sync"], env)
    stats = sandbox.stats()
    written = sum(sandbox.call("changed_since_mark", name="noop").values())
    return seconds, sum(int(stats[s]["requests_total"]) for s in stats), written


def measure_overhead(
    sandbox: SandboxProcess,
    env: Mapping[str, str],
    floor_home: Path,
    repeats: int,
    *,
    warm_up: bool = True,
) -> Figures:
    """Alternate timed real and floor runs; medians and the no-op's price."""
    shape_file = floor_home / "shape.json"
    shape_file.write_text(json.dumps(graph_shape()), encoding="utf-8")
    floor_env = {**env, "DAGSTER_HOME": str(floor_home)}
    floor = [sys.executable, "-m", "sync_pipeline_tests.bench.floor_graph", str(shape_file)]
    if warm_up:
        timed_process(floor, floor_env)  # creates the floor's instance, like the real one's
    real_runs, floor_runs = [], []
    for _ in range(max(1, repeats)):
        real_runs.append(_cli_noop(sandbox, env))
        floor_runs.append(timed_process(floor, floor_env))
    real = statistics.median(r[0] for r in real_runs)
    floor_seconds = statistics.median(floor_runs)
    return {
        "noop_sync_seconds_10k": round(real, 2),
        "noop_over_dagster_floor": round(real / floor_seconds, 2),
        "dagster_floor_seconds": round(floor_seconds, 2),
        "noop_requests": max(r[1] for r in real_runs),
        "noop_records_written": max(r[2] for r in real_runs),
    }
