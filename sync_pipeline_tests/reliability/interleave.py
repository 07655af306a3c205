"""Two runs of one pair, the second applying while the first is between its reads and sinks.

Started together as processes, this interleaving happens now and then (part 6); here it is
forced in one process: the first run's plan step lets a whole second run apply, either after
the first run read the records and before it plans, or after it planned and before it stamps
the plan and hands it to its sinks.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sync_pipeline import sync
from sync_pipeline.sandbox.seed import seed_sandbox
from sync_pipeline.sandbox.server import SandboxSettings
from sync_pipeline_tests.reliability.checks import Inventory, count_duplicates
from sync_pipeline_tests.reliability.figures import Part
from sync_pipeline_tests.reliability.harness import InProcessPipeline
from sync_pipeline_tests.reliability.sandbox_host import UNLIMITED, hosted_sandbox
from sync_pipeline_tests.reliability.wire import written_records
from sync_pipeline_tests.reliability.work import add_records


@contextmanager
def other_run_at_plan(other: InProcessPipeline, pair: str, *, before: bool) -> Iterator[list[bool]]:
    """While active, a whole run of `other` happens right before (after the records were
    read) or right after the first planning of `pair`."""
    original = sync.plan_pair
    fired: list[bool] = []

    def plan_then_other_run(spec: Any, *args: Any, **kwargs: Any) -> sync.PlannedPair:
        now = spec.name == pair and not fired
        if now:
            fired.append(True)
        if now and before:
            other.sync()
        plan = original(spec, *args, **kwargs)
        if now and not before:
            other.sync()
        return plan

    # The plan asset looks sync.plan_pair up at run time; the wrapper's signature is looser.
    sync.plan_pair = plan_then_other_run  # type: ignore[assignment]
    try:
        yield fired
    finally:
        sync.plan_pair = original


def run_interleaved(folder: Path, *, before: bool = False, seed_records: int = 20) -> Part:
    """Figures interleaved_double_writes, interleaved_duplicates, interleaved_lost_updates."""
    part = Part("interleaved")
    settings = SandboxSettings(webcrm_rate_limit=UNLIMITED, crmoffice_rate_limit=UNLIMITED)
    with hosted_sandbox(settings) as sandbox:
        seed_sandbox(sandbox.webcrm, sandbox.crmoffice, seed_records)
        inventory = Inventory.take(sandbox)
        first = InProcessPipeline(sandbox, folder / "first", max_update_share=1.0)
        second = InProcessPipeline(
            sandbox, folder / "second", state_url=first.state_url, max_update_share=1.0
        )
        try:
            first.sync()
            rng = random.Random(5)
            add_records(sandbox, inventory, rng, 2, 2)
            with first.store() as store:
                links = store.links_frame("persons_contacts", ["givenName"])
            edited = {str(c): f"Edited-{i}" for i, c in enumerate(links["crmoffice_id"][:3])}
            for contact_id, name in edited.items():
                sandbox.crmoffice.edit("contacts", contact_id, {"givenName": name})
            sandbox.webcrm_writes.clear()
            sandbox.crmoffice_writes.clear()
            with other_run_at_plan(second, "persons_contacts", before=before) as fired:
                result = first.sync()
            part.figure("interleaved", int(bool(fired)))
            part.note(f"first run: {first.why(result) or 'succeeded'}")
            entries = sandbox.webcrm_writes.snapshot() + sandbox.crmoffice_writes.snapshot()
            twice = [k for k, n in written_records(entries).items() if n > 1]
            part.figure("interleaved_double_writes", len(twice))
            part.notes += [f"written twice: {k[:150]}" for k in twice[:5]]
            with first.store() as store:
                part.counted("interleaved_duplicates", count_duplicates(sandbox, store, inventory))
            lost = [
                f"contact {c}: {name!r} became {got!r}"
                for c, name in edited.items()
                if (got := (sandbox.crmoffice.get("contacts", c) or {}).get("givenName")) != name
            ]
            part.counted("interleaved_lost_updates", (len(lost), lost))
        finally:
            first.close()
            second.close()
    return part
