"""`make bench` cannot rot: a tiny run of the whole harness prints every figure (no timings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sync_pipeline_tests.bench.api_minimum import minimum_requests
from sync_pipeline_tests.bench.figures import GROUPS

# The figures issues 5 and 11 ask for, by name.
ISSUE_FIGURES = {
    "diff_1m_seconds",
    "diff_vs_duckdb_ratio",
    "diff_speedup_vs_rowwise",
    "requests_ratio_initial",
    "requests_ratio_incremental",
    "noop_requests",
    "rate_limit_utilisation_webcrm",
    "rate_limit_utilisation_crmoffice",
    "throttled_429s",
    "noop_sync_seconds_10k",
    "noop_over_dagster_floor",
    "peak_rss_mb_1m",
    "extract_records_per_second",
    "links_frame_1m_pg_over_sqlite",  # issue 11
    # issue 12 (near-real-time, polling)
    "edit_to_sync_p50_seconds",
    "edit_to_sync_p95_seconds",
    "echo_runs",
    "idle_requests_per_min_webcrm",
    "idle_requests_per_min_crmoffice",
    # issue 12, with WebCRM hooks on
    "edit_to_sync_p50_seconds_hooks",
    "edit_to_sync_p95_seconds_hooks",
    "echo_runs_hooks",
    "idle_requests_per_min_webcrm_hooks",
    "idle_requests_per_min_crmoffice_hooks",
}


def test_every_issue_figure_has_a_group() -> None:
    """The registry promises every figure the issue names."""
    promised = {name for group in GROUPS.values() for name in group.figures}
    assert promised >= ISSUE_FIGURES


def test_api_minimum_counts_pages_logins_and_writes() -> None:
    """10,000 persons cost 11 WebCRM pages (a full last page needs an empty one), 10,000
    contacts 20 CRMOffice pages; 501 WebCRM writes two PATCHes, CRMOffice writes one each."""
    reads = {"Persons": 10_000, "Users": 500, "Products": 2_500, "contacts": 10_000}
    minimum = minimum_requests(reads, {"Persons": 501, "contacts": 7})
    assert minimum == {"webcrm": 1 + 11 + 1 + 3 + 2, "crmoffice": 1 + 20 + 1 + 7}


# Slow (2-3 minutes: every bench group, the latency one with a daemon): `make reliability` runs it.
@pytest.mark.slow
def test_quick_bench_prints_every_figure(tmp_path: Path) -> None:
    """`python -m sync_pipeline_tests.bench --quick` prints `name: value` for every figure and
    writes the same figures as JSON."""
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [sys.executable, "-m", "sync_pipeline_tests.bench", "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=600,  # the shared-budget group runs four Dagster syncs, the latency one a daemon
    )
    assert done.returncode == 0, done.stderr[-4000:]
    lines = [line for line in done.stdout.splitlines() if line and not line.startswith("#")]
    printed = dict(line.split(": ", 1) for line in lines)
    assert set(printed) >= ISSUE_FIGURES
    assert all(float(value) == float(value) for value in printed.values())  # numbers, not NaN
    assert set(json.loads(out.read_text(encoding="utf-8"))["figures"]) >= ISSUE_FIGURES
    assert "# machine:" in done.stdout
