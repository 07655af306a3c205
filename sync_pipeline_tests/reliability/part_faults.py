"""Part 1: the whole sync at realistic size against CRMs that fail one request in five.

Both sandboxes inject 429, 500, 503, stalls longer than the client timeout, dropped connections
and writes applied before the connection drops; tokens expire every few seconds. After an
initial sync (run until quiet) come random edits over both sides, then syncs until quiet.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from sync_pipeline.sandbox.crmoffice_state import CrmofficeState
from sync_pipeline.sandbox.seed import seed_sandbox
from sync_pipeline.sandbox.server import SandboxSettings
from sync_pipeline_tests.reliability.checks import (
    Inventory,
    count_duplicates,
    count_mismatches,
    integrity_problems,
)
from sync_pipeline_tests.reliability.edits import (
    Target,
    count_lost_updates,
    make_edits,
    pick_targets,
)
from sync_pipeline_tests.reliability.figures import Part
from sync_pipeline_tests.reliability.harness import InProcessPipeline
from sync_pipeline_tests.reliability.sandbox_host import UNLIMITED, HostedSandbox, hosted_sandbox

CONTACT_FIELDS = ("givenName", "familyName", "mobilePhone", "directPhone", "email", "title")


@dataclass(frozen=True)
class FaultSize:
    """How big and how hostile part 1 is."""

    persons: int = 1000  # the seed also makes persons/20 users and persons/4 products
    contacts: int = 300
    edits: int = 200
    conflicts: int = 10
    fault_rate: float = 0.2
    token_ttl: float = 8.0
    client_timeout: float = 1.5
    stall_seconds: float = 2.0
    max_runs: int = 8
    seed: int = 20240914


FULL = FaultSize()
FAST = FaultSize(persons=60, contacts=20, edits=12, conflicts=3, token_ttl=3.0)


def fill(sandbox: HostedSandbox, size: FaultSize) -> None:
    """Seeded persons, users and products in WebCRM; `contacts` seeded contacts in CRMOffice."""
    spare = CrmofficeState()
    seed_sandbox(sandbox.webcrm, spare, size.persons)
    for contact in spare.records("contacts")[: size.contacts]:
        sandbox.crmoffice.insert("contacts", {k: contact.get(k) for k in CONTACT_FIELDS})


def sync_until_quiet(pipeline: InProcessPipeline, max_runs: int, part: Part, label: str) -> int:
    """Runs until one plans nothing; how many runs did work before it (max_runs+1 if never)."""
    for run in range(max_runs):
        result = pipeline.sync()
        if not result.success:
            part.note(f"{label} run {run + 1} failed: {pipeline.why(result)}")
        elif pipeline.planned_nothing(result):
            return run
    part.note(f"{label}: not quiet after {max_runs} runs")
    return max_runs + 1


def run_faults(folder: Path, size: FaultSize = FULL) -> Part:
    """Part 1; figures runs_to_converge, duplicates, lost_updates, mismatched_fields."""
    part = Part("faults")
    settings = SandboxSettings(
        webcrm_rate_limit=UNLIMITED,
        crmoffice_rate_limit=UNLIMITED,
        fault_rate=size.fault_rate,
        fault_seed=size.seed,
        fault_stall_seconds=size.stall_seconds,
        token_ttl=size.token_ttl,
    )
    rng = random.Random(size.seed)
    with hosted_sandbox(settings) as sandbox:
        fill(sandbox, size)
        before = Inventory.take(sandbox)
        pipeline = InProcessPipeline(sandbox, folder, timeout_seconds=size.client_timeout)
        try:
            initial = sync_until_quiet(pipeline, size.max_runs, part, "initial sync")
            part.figure("initial_runs_to_converge", initial)
            with pipeline.store() as store:
                targets = pick_targets(store, size.edits, rng)
            expected = make_edits(sandbox, targets, rng, size.conflicts)
            part.figure("edits", len(targets) + min(size.conflicts, len(targets)))
            part.figure(
                "runs_to_converge", sync_until_quiet(pipeline, size.max_runs, part, "edits")
            )
            _final_figures(part, sandbox, pipeline, before, expected)
        finally:
            pipeline.close()
    return part


def _final_figures(
    part: Part,
    sandbox: HostedSandbox,
    pipeline: InProcessPipeline,
    before: Inventory,
    expected: dict[Target, str],
) -> None:
    with pipeline.store() as store:
        part.counted("duplicates", count_duplicates(sandbox, store, before))
        part.counted("lost_updates", count_lost_updates(sandbox, expected))
        part.counted("mismatched_fields", count_mismatches(sandbox, store))
        part.counted("store_integrity_errors", (len(p := integrity_problems(store)), p))
    faults = sandbox.stats()
    part.figure(
        "faults_injected",
        sum(sum(faults[s]["faults"].values()) for s in ("webcrm", "crmoffice")),
    )
