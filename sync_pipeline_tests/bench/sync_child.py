"""One sync run through Dagster, exactly as `sync-pipeline sync` does it, with unthrottled clients.

The request-count figures do not depend on the rate limit, but an initial load of 10,000 records
at the default 600 writes a minute would take most of the benchmark's budget. So this entry
builds the project's own definitions with the client resources' limits raised and runs the
command's `execute_sync`. Configuration comes from the same environment variables as the CLI.
Prints the run's table on stderr and one JSON line on stdout.

The shared-budget figure (`fig_shared_budget`) runs two of these at once and sets, optionally:
`BENCH_SYNC_PAIRS` (comma-separated pairs to run, default all), `BENCH_WEBCRM_RATE_LIMIT`
(WebCRM requests per `BENCH_RATE_WINDOW` seconds, default unthrottled) and `BENCH_SHARED_BUDGET`
(`1`: both clients draw on the store's shared budget, as `build_resources` wires them).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

UNLIMITED_PER_MINUTE = 10**9


def main() -> int:
    """`python -m sync_pipeline_tests.bench.sync_child [--full]`."""
    start = time.perf_counter()
    from sync_pipeline.commands.sync import _instance, execute_sync
    from sync_pipeline.commands.sync_report import failure_line, sync_table
    from sync_pipeline.dagster_defs.resources import CrmofficeResource, WebcrmResource
    from sync_pipeline.definitions import build_definitions, build_resources, field_map
    from sync_pipeline.settings import state_url_from

    resources = build_resources()
    window = float(os.environ.get("BENCH_RATE_WINDOW", "60"))
    shared = os.environ.get("BENCH_SHARED_BUDGET") == "1"
    budget_url = state_url_from(os.environ, Path.cwd()) if shared else None  # the run's store
    resources["webcrm"] = WebcrmResource(
        base_url=os.environ["WEBCRM_BASE_URL"],
        api_token=os.environ.get("WEBCRM_API_TOKEN", "sandbox-webcrm-token"),
        rate_limit_per_minute=int(os.environ.get("BENCH_WEBCRM_RATE_LIMIT", UNLIMITED_PER_MINUTE)),
        rate_window_seconds=window,
        rate_budget_url=budget_url,
    )
    resources["crmoffice"] = CrmofficeResource(
        base_url=os.environ["CRMOFFICE_BASE_URL"],
        client_id=os.environ.get("CRMOFFICE_CLIENT_ID", "sandbox-client"),
        client_secret=os.environ.get("CRMOFFICE_CLIENT_SECRET", "sandbox-secret"),
        rate_limit_per_minute=UNLIMITED_PER_MINUTE,
        rate_window_seconds=window,
        rate_budget_url=budget_url,
    )
    defs = build_definitions(field_map, resources)
    selected = os.environ.get("BENCH_SYNC_PAIRS", "")
    pairs = [p for p in selected.split(",") if p] or list(field_map.pairs)
    with _instance() as instance:
        result = execute_sync(defs, field_map, instance, pairs, full="--full" in sys.argv)
    print(sync_table(result, pairs, dry_run=False), file=sys.stderr)
    outcome: dict[str, object] = {"success": result.success}
    outcome["seconds"] = time.perf_counter() - start
    if not result.success:
        outcome["failure"] = failure_line(result)
    print(json.dumps(outcome), flush=True)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
