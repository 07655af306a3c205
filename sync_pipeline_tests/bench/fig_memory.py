"""Figure 5, `peak_rss_mb_1m`: peak resident memory of a process that plans one pair with N
records per entity (both sides and the links).

The parent builds the frames and writes them as Arrow IPC files; a fresh interpreter loads them
(as the plan asset loads its inputs) and plans. Its `VmHWM` -- the kernel's high-water mark of
resident memory, no sampling to miss a peak -- covers imports, the loaded frames and the plan,
but not the throw-away arrays that built the synthetic data. (Not `ru_maxrss`: on Linux that
also carries the high-water mark of the parent's memory the child was spawned from, so it reads
the benchmark process's own size after the diff figure.)
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from sync_pipeline_tests.bench.config import BenchConfig
from sync_pipeline_tests.bench.diff_data import DiffFrames, build_frames
from sync_pipeline_tests.bench.harness import Figures

FIGURES = ("peak_rss_mb_1m",)
PARTS = ("webcrm", "crmoffice", "links")


def _peak_mb() -> float:
    """VmHWM of this process image, in MiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status")


def _current_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def measure_memory(config: BenchConfig) -> Figures:
    """Write the frames, run the child on them, read its JSON line."""
    frames = build_frames(config.memory_rows)
    with tempfile.TemporaryDirectory(prefix="bench-rss-") as folder:
        for part in PARTS:
            getattr(frames, part).to_feather(Path(folder) / f"{part}.arrow")
        del frames
        done = subprocess.run(
            [sys.executable, "-m", "sync_pipeline_tests.bench.fig_memory", folder],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "peak_rss_mb_1m": round(measured["peak_mb"]),
        "rss_mb_frames_loaded": round(measured["loaded_mb"]),
    }


def main() -> None:
    """Child: load the frames, plan, print the memory figures as JSON."""
    from sync_pipeline_tests.bench.fig_diff import core_plan

    folder = Path(sys.argv[1])
    webcrm, crmoffice, links = (pd.read_feather(folder / f"{part}.arrow") for part in PARTS)
    frames = DiffFrames(webcrm, crmoffice, links)
    loaded = _current_mb()
    plan = core_plan(frames)
    assert plan.counts()["updates_to_crmoffice"] > 0
    print(json.dumps({"loaded_mb": loaded, "peak_mb": _peak_mb()}))


if __name__ == "__main__":
    main()
