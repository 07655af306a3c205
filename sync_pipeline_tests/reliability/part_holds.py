"""Part 8: ambiguous matches stay held (issue 9, kind 7); figure `ambiguous_autolinks`.

Groups of identical records made an hour ago (two persons and one contact, or one person and
two contacts) are synced once and held; then, before each of an incremental run of every pair,
a `--pair persons_contacts` run and a `--full` run, an unmapped field of one record of every
group is edited, bringing it alone into the window. `ambiguous_autolinks` counts the links
made and the records created for those groups' records: it must stay 0.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sync_pipeline.sandbox.server import SandboxSettings
from sync_pipeline_tests.reliability.figures import Part
from sync_pipeline_tests.reliability.harness import InProcessPipeline
from sync_pipeline_tests.reliability.sandbox_host import UNLIMITED, HostedSandbox, hosted_sandbox

PAIR = "persons_contacts"
GROUPS = 5


def _person(n: int) -> dict[str, str]:
    return {
        "PersonFirstName": f"Tvilling {n}",
        "PersonLastName": "Ambiguë",
        "PersonMobilePhone": f"+45 40 00 00 {n:02d}",
    }


def _contact(n: int) -> dict[str, str]:
    return {
        "givenName": f"Tvilling {n}",
        "familyName": "Ambiguë",
        "mobilePhone": f"+4540000{n:03d}",
    }


def _fill(sandbox: HostedSandbox) -> tuple[list[int], list[str]]:
    """Per group, two persons + one contact (even n) or one person + two contacts (odd n)."""
    before = datetime.now(UTC) - timedelta(hours=1)
    persons, contacts = [], []
    for n in range(GROUPS):
        twins = 2 if n % 2 == 0 else 1
        persons += [sandbox.webcrm.insert("Persons", _person(n), at=before) for _ in range(twins)]
        contacts += [
            sandbox.crmoffice.insert("contacts", _contact(n), at=before) for _ in range(3 - twins)
        ]
    return persons, contacts


def _autolinks(sandbox: HostedSandbox, pipeline: InProcessPipeline, ids: set[str]) -> int:
    """Links that touch a group's record, plus records beyond the groups' own (creates)."""
    with pipeline.store() as store:
        linked = {
            (str(link["webcrm_id"]), str(link["crmoffice_id"]))
            for record_id in ids
            for link in store.find_links(record_id)
        }
    made = len(sandbox.webcrm.records("Persons")) + len(sandbox.crmoffice.records("contacts"))
    return len(linked) + made - 3 * GROUPS


def run_holds(folder: Path) -> Part:
    """Part 8; figures ambiguous_autolinks, held_records."""
    part = Part("holds")
    settings = SandboxSettings(webcrm_rate_limit=UNLIMITED, crmoffice_rate_limit=UNLIMITED)
    with hosted_sandbox(settings) as sandbox:
        persons, contacts = _fill(sandbox)
        ids = {str(i) for i in persons} | set(contacts)
        pipeline = InProcessPipeline(sandbox, folder)
        try:
            pipeline.sync()
            for n, (pairs, full) in enumerate((((), False), ((PAIR,), False), ((), True))):
                for person in persons[::2]:
                    sandbox.webcrm.edit("Persons", person, {"PersonTitle": f"Titel {n}"})
                result = pipeline.sync(*pairs, full=full)
                if not result.success:
                    part.note(f"run {n}: {pipeline.why(result)}")
            part.figure("ambiguous_autolinks", _autolinks(sandbox, pipeline, ids))
            with pipeline.store() as store:
                part.figure("held_records", len(store.holds_frame(PAIR)))
        finally:
            pipeline.close()
    return part
