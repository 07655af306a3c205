"""Figure 2: requests made over the APIs' minimum for the same work, and a no-op's requests.

A sandbox seeded with N (N persons, N/20 users, N/4 products, N contacts, N/10 companies) runs
in its own process; each sync is a fresh process running the project's Dagster job
(`sync_child`). Per run, the sandbox counts the requests made and which records were created or
changed; `api_minimum` turns the records that had to be read and written into the least requests.

1. Initial full sync: every record must be read once.
2. A settling incremental run: it must read back what the initial run wrote (reported, not a
   target). Then an hour passes (the sandbox ages every record; see `sandbox_control.age`).
3. `edit_share` of every entity edited on each side, then an incremental run: it must read the
   records updated since the previous run started.
4. A settling run. The no-op runs that follow are figure 4's CLI runs (`fig_overhead`), which
   also count their requests (target: one per entity type per system, plus one login each).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass

from sync_pipeline.demo import default_organisation_id
from sync_pipeline_tests.bench.api_minimum import minimum_requests
from sync_pipeline_tests.bench.harness import Figures
from sync_pipeline_tests.bench.sandbox_process import SandboxProcess

SYSTEMS = ("webcrm", "crmoffice")
SYNC_TIMEOUT = 900


@dataclass(frozen=True)
class RunCost:
    """What one sync run cost, and the least it could have."""

    made: dict[str, int]
    minimum: dict[str, int]
    writes: dict[str, int]  # records created or changed, per entity
    launched: float  # epoch seconds

    @property
    def ratio(self) -> float:
        """Requests made over the minimum, both systems together."""
        return sum(self.made.values()) / sum(self.minimum.values())


def sync_env(
    sandbox: SandboxProcess, dagster_home: str, organisation_id: str | None = None
) -> dict[str, str]:
    """The CLI's environment for this sandbox and state folder (sandbox credentials); the
    default organisation is looked up through the API unless `organisation_id` is given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBCRM_", "CRMOFFICE_"))}
    env.update(
        WEBCRM_BASE_URL=sandbox.webcrm_url,
        CRMOFFICE_BASE_URL=sandbox.crmoffice_url,
        DAGSTER_HOME=dagster_home,
    )
    env.pop("SYNC_STATE_URL", None)
    # Persons created from contacts belong to the sandbox's first organisation (an empty
    # sandbox has none, and no reverse creates to make).
    if organisation_id is not None:
        env["WEBCRM_DEFAULT_ORGANISATION_ID"] = organisation_id
        return env
    with contextlib.suppress(RuntimeError):
        env["WEBCRM_DEFAULT_ORGANISATION_ID"] = default_organisation_id(sandbox.webcrm_url)
    return env


def run_sync_child(env: Mapping[str, str], full: bool) -> dict[str, object]:
    """One sync in a fresh process; raises with its output when it fails."""
    args = [sys.executable, "-m", "sync_pipeline_tests.bench.sync_child"]
    done = subprocess.run(
        [*args, *(["--full"] if full else [])],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=SYNC_TIMEOUT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"sync run failed:\n{done.stderr[-3000:]}\n{done.stdout[-1000:]}")
    # why the ignore below: JSON from the child process is untyped
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def measured_run(
    sandbox: SandboxProcess, env: Mapping[str, str], reads: Mapping[str, int], full: bool
) -> RunCost:
    """Run one sync and price it: requests made, and the minimum for the records it had to
    read (`reads`) and the records it created or changed."""
    sandbox.call("mark", name="run")
    sandbox.reset_stats()
    launched = time.time()
    run_sync_child(env, full)
    stats = sandbox.stats()
    writes = sandbox.call("changed_since_mark", name="run")
    return RunCost(
        made={s: int(stats[s]["requests_total"]) for s in SYSTEMS},
        minimum=minimum_requests(reads, writes),
        writes=writes,
        launched=launched,
    )


def _cost_figures(name: str, cost: RunCost) -> Figures:
    figures: Figures = {f"requests_ratio_{name}": round(cost.ratio, 3)}
    for system in SYSTEMS:
        figures[f"requests_{name}_{system}"] = cost.made[system]
        figures[f"requests_minimum_{name}_{system}"] = cost.minimum[system]
    return figures


def _settle(sandbox: SandboxProcess, env: Mapping[str, str], after: RunCost) -> RunCost:
    """An incremental run that reads back what `after` wrote."""
    reads = sandbox.call("updated_since", epoch=after.launched)
    return measured_run(sandbox, env, reads, full=False)


def measure_requests(
    sandbox: SandboxProcess, env: Mapping[str, str], edit_share: float, settle: bool
) -> Figures:
    """Steps 1-4 of the module doc on a freshly seeded sandbox; leaves it fully linked.

    `settle=False` (the smoke test) skips the settling runs: fewer Dagster processes, same
    figure names; the minimum then also counts the initial run's writes read back."""
    initial = measured_run(sandbox, env, sandbox.call("counts"), full=True)
    before = _settle(sandbox, env, initial) if settle else initial
    sandbox.call("age", seconds=3600)
    sandbox.call("edit", share=edit_share, seed=5)
    incremental = _settle(sandbox, env, before)
    if settle:
        _settle(sandbox, env, incremental)
    figures = {
        **_cost_figures("initial", initial),
        **_cost_figures("incremental", incremental),
        "initial_records_written": sum(initial.writes.values()),
        "incremental_records_written": sum(incremental.writes.values()),
    }
    if settle:
        figures.update(_cost_figures("settle", before))
    return figures
