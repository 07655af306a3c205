"""Part 2: SIGKILL the real `sync-pipeline sync` process at seeded instants, then re-run it.

The sandbox runs in this process; each sync is a subprocess with its own DAGSTER_HOME and link
store (a SQLite file, or a PostgreSQL server of the part's own: `backend`). Before each trial
some new records and edits give the run creates and updates to die in. Most kills use the
crash points (SYNC_PIPELINE_CRASH_AT: between a create's response and its link write, after
the intents, ...); a few are wall-clock kills at a random instant. After the first kills that
leave a pair locked, the part times how long a run of another host (which cannot see that the
holder died) stays blocked: `crashed_holder_block_seconds`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from sync_pipeline.sandbox.seed import seed_sandbox
from sync_pipeline.sandbox.server import SandboxSettings
from sync_pipeline.store import LinkStore
from sync_pipeline_tests.reliability import cli
from sync_pipeline_tests.reliability.backends import blocked_seconds, expire_locks, state_url
from sync_pipeline_tests.reliability.checks import (
    Inventory,
    count_duplicates,
    count_mismatches,
    integrity_problems,
)
from sync_pipeline_tests.reliability.figures import Part
from sync_pipeline_tests.reliability.harness import dagster_home
from sync_pipeline_tests.reliability.sandbox_host import UNLIMITED, HostedSandbox, hosted_sandbox
from sync_pipeline_tests.reliability.work import add_records, edit_links

# (crash point, highest pass count to draw from); every pass count up to it is reached by a
# trial's work (5 extract assets; creates and updates of every pair).
INSTANTS = (
    ("after_extract", 5),
    ("after_plan", 3),
    ("after_intents", 3),
    ("after_create_response", 6),
    ("after_create_response", 6),
    ("after_update_response", 3),
    ("after_links", 3),
)


@dataclass(frozen=True)
class CrashSize:
    """How many trials, how much seed data and work per trial."""

    trials: int = 20
    wall_clock_kills: int = 4
    seed_records: int = 60
    persons_per_trial: int = 6
    contacts_per_trial: int = 4
    edits_per_trial: int = 4
    seed: int = 7
    points: tuple[str, ...] = ()  # fixed instants instead of seeded ones
    state_check_cli: bool = True
    # After this many kills that left a pair locked, wait as a run of another host must (it
    # cannot prove the holder dead) and time how long the pair stays blocked.
    block_probes: int = 2


FULL = CrashSize()
FAST = CrashSize(
    trials=1,
    wall_clock_kills=0,
    seed_records=20,
    persons_per_trial=3,
    points=("after_create_response:2",),
    state_check_cli=False,
    block_probes=0,
)


def plan_instants(size: CrashSize, rng: random.Random) -> list[str | float]:
    """Crash point specs (`point:n`) and wall-clock kills (share of a clean run), shuffled."""
    if size.points:
        return list(size.points)
    points: list[str | float] = []
    for i in range(size.trials - size.wall_clock_kills):
        point, top = INSTANTS[i % len(INSTANTS)]
        points.append(f"{point}:{rng.randint(1, top)}")
    # wall-clock kills: a share of a clean run's duration (measured as the trials go)
    points += [round(rng.uniform(0.3, 0.9), 2) for _ in range(size.wall_clock_kills)]
    rng.shuffle(points)
    return points


class CrashBench:
    """One sandbox, one state folder, and the CLI runs against them."""

    def __init__(
        self, sandbox: HostedSandbox, folder: Path, part: Part, size: CrashSize, url: str
    ) -> None:
        self.sandbox = sandbox
        self.size = size
        self.home = dagster_home(folder)
        self.log = cli.OutputLog(folder / "outputs")
        self.part = part
        self.state_url = url
        self.inventory = Inventory.take(sandbox)
        self.clean_seconds = 5.0  # how long the last clean sync took
        self.probes_left = size.block_probes

    def env(self, crash_at: str | None = None) -> dict[str, str]:
        """Environment of one sync process."""
        return cli.sync_env(self.sandbox.env(), self.home, crash_at, self.state_url)

    def probe_block(self, label: str) -> None:
        """Right after a kill: if it left a pair locked, how long another host must wait."""
        if self.probes_left <= 0:
            return
        seconds = blocked_seconds(self.state_url)
        if seconds is None:
            return
        self.probes_left -= 1
        worst = max(float(self.part.figures.get("crashed_holder_block_seconds", 0)), seconds)
        self.part.figure("crashed_holder_block_seconds", round(worst, 1))
        self.part.note(f"{label}: the dead run's lock blocked another host for {seconds:.1f} s")

    def sync(self, label: str, instant: str | float | None = None) -> cli.CliResult:
        """One `sync-pipeline sync`, killed at `instant` when given."""
        crash_at = instant if isinstance(instant, str) else None
        kill_after = instant * self.clean_seconds if isinstance(instant, float) else None
        result = cli.run(["sync"], self.env(crash_at), self.log, label, kill_after=kill_after)
        if instant is None and result.returncode == 0:
            self.clean_seconds = result.seconds
        return result

    def rerun(self, label: str) -> cli.CliResult:
        """Re-run after a kill; a refusal for the dead run's pair lock is counted, then the
        lock is expired by hand (what an operator would otherwise wait for) and it runs again."""
        result = self.sync(label)
        if result.returncode != 0 and "is being synced by run" in result.stderr:
            self.part.add("reruns_refused_by_dead_lock", 1)
            self.part.note(f"{label}: {result.stderr.strip().splitlines()[-1][:200]}")
            expire_locks(self.state_url)
            result = self.sync(f"{label}-after-lock-expiry")
        if result.returncode != 0:
            self.part.add("failed_reruns", 1)
            self.part.note(f"{label} failed: {result.stderr.strip().splitlines()[-1:]}")
        return result

    def check(self, label: str, *, settled: bool) -> None:
        """Count store problems now, and duplicates once a re-run has settled the intents."""
        with LinkStore(self.state_url) as store:
            count, samples = count_duplicates(self.sandbox, store, self.inventory)
            problems = integrity_problems(store)
        if not settled:  # a create between its response and its link is expected here
            count, samples = 0, []
        self.part.add("duplicates", count)
        self.part.add("store_integrity_errors", len(problems))
        self.part.notes += [f"{label}: {line}" for line in samples + problems]


def run_trial(bench: CrashBench, number: int, instant: str | float, rng: random.Random) -> None:
    """New work, a killed sync, the store checked as the kill left it, a re-run, checks."""
    size = bench.size
    with LinkStore(bench.state_url) as store:
        edit_links(bench.sandbox, store, rng, size.edits_per_trial)
    add_records(
        bench.sandbox, bench.inventory, rng, size.persons_per_trial, size.contacts_per_trial
    )
    killed = bench.sync(f"trial{number:02d}-kill-{instant}", instant)
    if killed.killed:
        bench.part.add("crash_trials", 1)
    else:
        bench.part.note(f"trial {number}: {instant} was not reached (exit {killed.returncode})")
    bench.check(f"trial {number} right after the kill", settled=False)
    if killed.killed:
        bench.probe_block(f"trial {number}")
    bench.rerun(f"trial{number:02d}-rerun")
    bench.check(f"trial {number} after the re-run", settled=True)


def run_crashes(folder: Path, size: CrashSize = FULL, backend: str = "sqlite") -> Part:
    """Part 2 with the link store on `backend` (`sqlite`, or `postgresql` on a server of the
    part's own); figures crash_trials, duplicates, store_integrity_errors,
    crashed_holder_block_seconds (when probed)."""
    part = Part("crashes" if backend == "sqlite" else f"crashes_{backend}")
    with state_url(backend, folder) as url:
        _run_crashes(folder, size, url, part)
    return part


def _run_crashes(folder: Path, size: CrashSize, url: str, part: Part) -> None:
    part.figure("crash_trials", 0)
    for name in (
        "duplicates",
        "store_integrity_errors",
        "reruns_refused_by_dead_lock",
        "failed_reruns",
    ):
        part.figure(name, 0)
    rng = random.Random(size.seed)
    settings = SandboxSettings(webcrm_rate_limit=UNLIMITED, crmoffice_rate_limit=UNLIMITED)
    with hosted_sandbox(settings) as sandbox:
        seed_sandbox(sandbox.webcrm, sandbox.crmoffice, size.seed_records)
        bench = CrashBench(sandbox, folder, part, size, url)
        if bench.sync("initial").returncode != 0:
            part.note("the initial sync failed")
        for number, instant in enumerate(plan_instants(size, rng), start=1):
            run_trial(bench, number, instant, rng)
        final = bench.sync("final-full")
        with LinkStore(url) as store:
            part.counted("mismatched_fields", count_mismatches(sandbox, store))
        if size.state_check_cli:
            check = cli.run(["state", "check"], bench.env(), bench.log, "state-check")
            part.figure("state_check_exit", check.returncode)
        part.figure("final_sync_exit", final.returncode)
