"""Part: full reads against a CRMOffice that pages smaller than asked (issue 9, kind 3).

CRMOffice serves at most 10 contacts per page (`--crmoffice-max-page-size 10`) while the
pipeline asks for 500. Persons are synced to contacts, then a `--full` run reads everything:
no record was deleted, so every link it orphans is a false orphan (`false_orphans`, target 0).
A later edit of a contact beyond the first page must still reach WebCRM (`lost_edits_after_full`).
"""

from __future__ import annotations

from pathlib import Path

from sync_pipeline.sandbox.server import SandboxSettings
from sync_pipeline_tests.reliability.figures import Part
from sync_pipeline_tests.reliability.harness import PAIRS, InProcessPipeline
from sync_pipeline_tests.reliability.sandbox_host import UNLIMITED, hosted_sandbox

PAGE_CAP = 10
PERSON = {"PersonLastName": "Kjærgaard", "PersonMobilePhone": "+45 20 30 40 50"}


def run_reads(folder: Path, persons: int = 45) -> Part:
    """`persons` persons synced, a full run, then one contact edit; the figures above."""
    part = Part("reads")
    settings = SandboxSettings(
        seed=None,
        empty=True,
        webcrm_rate_limit=UNLIMITED,
        crmoffice_rate_limit=UNLIMITED,
        crmoffice_max_page_size=PAGE_CAP,
    )
    with hosted_sandbox(settings) as sandbox:
        pipeline = InProcessPipeline(sandbox, folder)
        try:
            ids = [
                sandbox.webcrm.insert("Persons", {**PERSON, "PersonFirstName": f"Navn {n}"})
                for n in range(persons)
            ]
            for full in (False, True):
                result = pipeline.sync(full=full)
                if not result.success:
                    part.note(f"{'full' if full else 'first'} run failed: {pipeline.why(result)}")
            store = pipeline.store()
            orphaned = sum(store.count_links(pair, status="orphaned") for pair in PAIRS)
            part.figure("false_orphans", orphaned)
            part.figure("links", sum(store.count_links(pair) for pair in PAIRS))
            [link] = [x for x in store.find_links(str(ids[-1])) if x["pair"] == "persons_contacts"]
            sandbox.crmoffice.edit("contacts", str(link["crmoffice_id"]), {"givenName": "Senere"})
            pipeline.sync()
            person = sandbox.webcrm.get("Persons", ids[-1]) or {}
            part.figure("lost_edits_after_full", int(person.get("PersonFirstName") != "Senere"))
        finally:
            pipeline.close()
    return part
