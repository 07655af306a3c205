"""Run the figure groups, print the machine and every figure as `name: value` lines."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TextIO

from sync_pipeline_tests.bench.config import BenchConfig

Figures = dict[str, float]
FigureGroup = Callable[[BenchConfig], Figures]


@dataclass(frozen=True)
class Group:
    """One figure group: the names it must produce and the function that measures them."""

    name: str
    figures: tuple[str, ...]
    measure: FigureGroup


def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo (or the platform's guess)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_lines() -> list[str]:
    """Header lines naming the machine the figures come from."""
    return [
        f"# machine: {cpu_model()}, nproc {os.cpu_count()}, "
        f"{platform.system()} {platform.release()}",
        f"# python: {platform.python_version()} ({sys.executable})",
    ]


def load_line(when: str) -> str:
    """The 1/5/15-minute load averages: other work on the machine skews every timing."""
    one, five, fifteen = os.getloadavg()
    return f"# load average {when}: {one:.2f} {five:.2f} {fifteen:.2f}"


def config_lines(config: BenchConfig) -> list[str]:
    """Header lines with the sizes used."""
    return [
        f"# sizes: diff_rows={config.diff_rows} rowwise_sample={config.rowwise_sample} "
        f"memory_rows={config.memory_rows} extract_persons={config.extract_persons} "
        f"persons={config.persons} edit_share={config.edit_share} pg_links={config.pg_links}",
        f"# rate limit: {config.rate_limit} per {config.rate_window:g} s window, "
        f"{config.rate_total} requests per system",
        f"# shared budget: two concurrent runs, seed {config.budget_persons}, WebCRM "
        f"{config.budget_limit} per {config.rate_window:g} s window on one token",
    ]


def format_value(value: float) -> str:
    """Integers as integers, others with three significant decimals."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.3f}" if abs(value) >= 0.01 else f"{value:.3g}"


def run_groups(
    config: BenchConfig, groups: Mapping[str, Group], out: TextIO = sys.stdout
) -> tuple[Figures, list[str]]:
    """Run the selected groups in order (progress as `#` lines on `out`). A failing group is
    reported and the others still run: returns the figures and one line per failure."""
    figures: Figures = {}
    failures: list[str] = []
    print(load_line("at start"), file=out, flush=True)
    for name in config.groups:
        group = groups[name]
        start = time.perf_counter()
        print(f"# running {name} ...", file=out, flush=True)
        try:
            measured = group.measure(config)
        except Exception as exc:
            traceback.print_exc(file=out)
            failures.append(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
            continue
        missing = sorted(set(group.figures) - set(measured))
        if missing:
            failures.append(f"{name}: did not produce {', '.join(missing)}")
        figures.update(measured)
        print(f"# {name} took {time.perf_counter() - start:.1f} s", file=out, flush=True)
    return figures, failures


def report(
    config: BenchConfig, figures: Figures, failures: list[str], out: TextIO = sys.stdout
) -> None:
    """The machine header, one `name: value` line per figure, failures (and the JSON file)."""
    for line in [*machine_lines(), load_line("at end"), *config_lines(config)]:
        print(line, file=out)
    for name, value in figures.items():
        print(f"{name}: {format_value(value)}", file=out)
    for failure in failures:
        print(f"# FAILED {failure}", file=out)
    out.flush()
    if config.json_path is not None:
        document = {
            "machine": machine_lines(),
            "sizes": config_lines(config),
            "figures": figures,
            "failures": failures,
        }
        config.json_path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
