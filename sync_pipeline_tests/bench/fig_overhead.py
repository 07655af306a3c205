"""Figure 4: a no-op incremental sync through Dagster, CLI start to exit, against Dagster's floor.

`noop_sync_seconds_10k`: `sync-pipeline sync` (the console script, default settings) as a fresh
process over a fully linked sandbox, from start to exit. `noop_over_dagster_floor`: that over
the same asset graph with empty bodies (`floor_graph --io`: same keys, data edges, plain deps,
partitions, pools and checks; outputs `None`), run the same way -- a fresh process, its own
persistent instance, the same job, tags, partition and selection.
`noop_over_dagster_floor_deps_only` compares with the leanest run of that graph (every edge a
plain dependency, nothing stored). The runs alternate (real, floor, floor, real, ...) so load on
the machine hits all alike; medians count. Each floor runs once untimed first to create its
instance, as the real one already has.
Every real run is also priced (requests and records written; a no-op writes nothing).
Both load their code from bytecode, as an installed package does (pip compiles it at install;
Dagster's is): the package and the floor are compiled first, since an environment with
PYTHONDONTWRITEBYTECODE set (this machine's) would otherwise compile the package from source
in every timed run (about 0.1 s) and never Dagster.

Two states are timed (`fig_sync_group`): right after the settling run, when the incremental
read still re-reads the edits of the last two minutes (its overlap) and compares them with
their shadows (suffix `_recent`), and once the store is quiet: the sandbox aged an hour, as
after two idle minutes, so the read finds nothing (no suffix: the no-op of DESIGN.md section 6,
what a run costs when there is nothing to do).
"""

from __future__ import annotations

import compileall
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import sync_pipeline
import sync_pipeline_tests
from sync_pipeline_tests.bench.graph_shape import graph_shape
from sync_pipeline_tests.bench.harness import Figures
from sync_pipeline_tests.bench.sandbox_process import SandboxProcess

FIGURES = ("noop_sync_seconds_10k", "noop_over_dagster_floor")
FLOORS = {"": ["--io"], "_deps_only": []}
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


def compile_bytecode() -> None:
    """Write the bytecode of the package and of the floor's modules (`compileall`), as
    `pip install` does; raises if one does not compile."""
    tests = Path(sync_pipeline_tests.__file__ or "").parent
    done = compileall.compile_file(tests / "__init__.py", quiet=1)
    for folder in (Path(sync_pipeline.__file__ or "").parent, tests / "bench"):
        done = compileall.compile_dir(folder, quiet=1) and done
    if not done:
        raise RuntimeError("compileall failed: see its output above")


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
    thorough: bool = True,
    suffix: str = "",
) -> Figures:
    """Alternate timed real and floor runs; medians and the no-op's price, each figure's name
    ending in `suffix`. `thorough=False` (the smoke test) skips the warm-ups and the deps-only
    floor."""
    compile_bytecode()
    shape_file = floor_home / "shape.json"
    shape_file.write_text(json.dumps(graph_shape()), encoding="utf-8")
    floor_env = {**env, "DAGSTER_HOME": str(floor_home)}
    module = [sys.executable, "-m", "sync_pipeline_tests.bench.floor_graph", str(shape_file)]
    floors = {name: [*module, *flags] for name, flags in FLOORS.items() if thorough or not name}
    if thorough:
        for args in floors.values():
            timed_process(args, floor_env)  # creates the floor's instance, like the real one's
    real_runs: list[tuple[float, int, int]] = []
    floor_runs: dict[str, list[float]] = {name: [] for name in floors}
    for _ in range(max(1, repeats)):
        real_runs.append(_cli_noop(sandbox, env))
        for name, args in floors.items():
            floor_runs[name].append(timed_process(args, floor_env))
    real = statistics.median(r[0] for r in real_runs)
    figures: Figures = {f"noop_sync_seconds_10k{suffix}": round(real, 2)}
    for name, runs in floor_runs.items():
        ratio = round(real / statistics.median(runs), 2)
        figures[f"noop_over_dagster_floor{name}{suffix}"] = ratio
        figures[f"dagster_floor_seconds{name}{suffix}"] = round(statistics.median(runs), 2)
    figures[f"noop_requests{suffix}"] = max(r[1] for r in real_runs)
    figures[f"noop_records_written{suffix}"] = max(r[2] for r in real_runs)
    return figures
