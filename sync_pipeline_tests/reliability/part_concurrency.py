"""Part 6: two `sync-pipeline sync` processes of the same pair started together.

One must apply; the other must wait or exit with a clear message. The sandboxes' write logs
then show whether any record was written twice: a create of the same source twice, or one
record changed by both runs. With the store on PostgreSQL (`backend`), the second process runs
as on another host: its own hostname (`unshare --uts`) and a clock 6 minutes ahead
(`faketime`). A run told it lost its lock mid-run was taken over before its lease ended.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from sync_pipeline.sandbox.seed import seed_sandbox
from sync_pipeline.sandbox.server import SandboxSettings
from sync_pipeline.store import LinkStore
from sync_pipeline_tests.reliability import cli
from sync_pipeline_tests.reliability.backends import other_host, state_url
from sync_pipeline_tests.reliability.checks import Inventory, count_duplicates
from sync_pipeline_tests.reliability.figures import Part
from sync_pipeline_tests.reliability.harness import dagster_home
from sync_pipeline_tests.reliability.interleave import run_interleaved
from sync_pipeline_tests.reliability.sandbox_host import UNLIMITED, HostedSandbox, hosted_sandbox
from sync_pipeline_tests.reliability.wire import written_records
from sync_pipeline_tests.reliability.work import add_records, edit_links

PAIR = "persons_contacts"
CLEAR_LOSER = ("is being synced by run", "another run wrote to this pair")
LEASE_LOST = "lost its lock"


def race(
    sandbox: HostedSandbox,
    home: Path,
    log: cli.OutputLog,
    label: str,
    *extra: str,
    url: str | None = None,
    second: list[str] | None = None,
) -> list[cli.CliResult]:
    """Start two syncs of the pair at once (the second behind the `second` prefix, if given;
    store at `url`, default SQLite in `home`); both results."""
    env = cli.sync_env(sandbox.env(), home, state_url=url)
    args = ["sync", "--pair", PAIR, *extra]
    started = time.monotonic()
    processes = [cli.start(args, env), cli.start(args, env, second or [])]
    results = [cli.finish(p, args, started) for p in processes]
    for number, result in enumerate(results, start=1):
        log.keep(f"{label}-{number}", result)
    return results


def judge(results: list[cli.CliResult], part: Part, label: str) -> None:
    """One applied; the other succeeded too (it waited) or failed with a clear message."""
    codes = [r.returncode for r in results]
    losers = [r for r in results if r.returncode != 0]
    clear = all(any(c in r.stderr for c in CLEAR_LOSER) for r in losers)
    ok = 0 in codes and clear
    part.add("races", 1)
    part.add("races_resolved_cleanly", int(ok))
    part.add("lock_takeovers_before_lease_end", sum(LEASE_LOST in r.stderr for r in results))
    last = [r.stderr.strip().splitlines()[-1:] for r in losers]
    part.note(f"{label}: exit codes {codes}; loser said {last}")


def fresh_home_race(
    sandbox: HostedSandbox, folder: Path, log: cli.OutputLog, part: Part, attempts: int
) -> None:
    """Two dry runs at once on a new DAGSTER_HOME (`attempts` times, each on its own new home):
    both must run, and the instance must stay usable for the next run."""
    broken = 0
    for attempt in range(attempts):
        home = dagster_home(folder / f"fresh-{attempt}")
        racers = race(sandbox, home, log, f"fresh-home-race-{attempt}", "--dry-run")
        env = cli.sync_env(sandbox.env(), home)
        after = cli.run(["sync", "--dry-run"], env, log, f"fresh-after-{attempt}")
        results = [*racers, after]
        broken += any(r.returncode for r in results)
        for result in results:
            errors = [line for line in result.stderr.splitlines() if "Error:" in line]
            if result.returncode:
                part.note(f"fresh DAGSTER_HOME race: exit {result.returncode}: {errors[-1:]}")
    part.figure("fresh_home_races", attempts)
    part.figure("fresh_home_races_broken", broken)


def run_concurrency(
    folder: Path,
    rounds: int = 3,
    seed_records: int = 40,
    *,
    interleave: bool = True,
    fresh_homes: int = 3,
    backend: str = "sqlite",
) -> Part:
    """Part 6 with the link store on `backend`; figures double_writes,
    lock_takeovers_before_lease_end."""
    part = Part("concurrency" if backend == "sqlite" else f"concurrency_{backend}")
    names = ("races", "races_resolved_cleanly", "double_writes", "lock_takeovers_before_lease_end")
    for name in names:
        part.figure(name, 0)
    with state_url(backend, folder) as url:
        second, what = other_host("racer-two") if backend != "sqlite" else ([], "same host")
        part.note(f"second racer: {what}")
        _races(folder, part, rounds, seed_records, fresh_homes, url, second)
    if interleave:
        add_interleaved(folder, part)
    return part


def _races(
    folder: Path,
    part: Part,
    rounds: int,
    seed_records: int,
    fresh_homes: int,
    url: str,
    second: list[str],
) -> None:
    home = dagster_home(folder)
    log = cli.OutputLog(folder / "outputs")
    settings = SandboxSettings(webcrm_rate_limit=UNLIMITED, crmoffice_rate_limit=UNLIMITED)
    rng = random.Random(11)
    with hosted_sandbox(settings) as sandbox:
        seed_sandbox(sandbox.webcrm, sandbox.crmoffice, seed_records)
        inventory = Inventory.take(sandbox)
        fresh_home_race(sandbox, folder, log, part, fresh_homes)
        # The races below are about the pair, so they start from an initialised instance.
        env = cli.sync_env(sandbox.env(), home, state_url=url)
        cli.run(["sync", "--dry-run"], env, log, "warm-up")
        for number in range(rounds):
            if number:  # later rounds race over updates and new records, not the first load
                with LinkStore(url) as store:
                    edit_links(sandbox, store, rng, 3)
                add_records(sandbox, inventory, rng, 3, 2)
            for writes in (sandbox.webcrm_writes, sandbox.crmoffice_writes):
                writes.clear()
            results = race(sandbox, home, log, f"race{number + 1}", url=url, second=second)
            judge(results, part, f"race {number + 1}")
            entries = sandbox.webcrm_writes.snapshot() + sandbox.crmoffice_writes.snapshot()
            twice = [key for key, n in written_records(entries).items() if n > 1]
            part.add("double_writes", len(twice))
            part.notes += [f"race {number + 1}: written twice: {key[:120]}" for key in twice[:5]]
        with LinkStore(url) as store:
            part.counted("duplicates", count_duplicates(sandbox, store, inventory))


def add_interleaved(folder: Path, part: Part) -> None:
    """The forced interleavings: their double writes and duplicates count in this part's."""
    for before in (True, False):
        forced = run_interleaved(
            folder / f"interleaved-{'before' if before else 'after'}", before=before
        )
        label = "before_plan" if before else "after_plan"
        for name in ("double_writes", "duplicates", "lost_updates"):
            value = int(forced.figures[f"interleaved_{name}"])
            part.figure(f"run_applied_{label}_{name}", value)
            if name != "lost_updates":
                part.add(name, value)
        part.notes += [f"other run applied {label}: {n}" for n in forced.notes]
