"""Part: targets that reformat what we write, and bulk writes refused as a whole (issue 9,
kinds 1 and 5).

`flapping_writes`: CRMOffice compacts phones and WebCRM groups them; phones are edited on
both sides, the sync runs until a run writes nothing, then three more runs must write nothing
(target 0). `given_up_valid_items`: WebCRM refuses a whole bulk PATCH when one item breaks a
field rule (a 31-character phone); after as many runs as the give-up cap, every valid update
must have landed and only the bad items be given up (target 0).
"""

from __future__ import annotations

import random
from pathlib import Path

from sync_pipeline.sandbox.server import SandboxSettings
from sync_pipeline_tests.reliability.figures import Part
from sync_pipeline_tests.reliability.harness import InProcessPipeline
from sync_pipeline_tests.reliability.sandbox_host import UNLIMITED, HostedSandbox, hosted_sandbox

PAIR = "persons_contacts"
PERSON = {"PersonLastName": "Dahl", "PersonOrganisationId": 1}
QUIET_RUNS = 3
MAX_RUNS = 6


def _writes(sandbox: HostedSandbox) -> int:
    stats = sandbox.stats()
    return int(stats["webcrm"]["writes"]) + int(stats["crmoffice"]["writes"])


def _links(pipeline: InProcessPipeline) -> dict[str, str]:
    with pipeline.store() as store:
        frame = store.links_frame(PAIR, [])
    return dict(zip(frame["webcrm_id"], frame["crmoffice_id"], strict=True))


def flapping(folder: Path, part: Part, links: int, rng: random.Random) -> None:
    """Edits of phones on both sides against reformatting targets; writes after the quiet run."""
    settings = SandboxSettings(
        webcrm_rate_limit=UNLIMITED,
        crmoffice_rate_limit=UNLIMITED,
        crmoffice_phone_format="compact",
        webcrm_phone_format="grouped",
    )
    with hosted_sandbox(settings) as sandbox:
        for n in range(links):
            phone = f"+45 {20 + n % 70} {rng.randrange(10, 99)} {rng.randrange(10, 99)} 11"
            sandbox.webcrm.insert("Persons", {**PERSON, "PersonMobilePhone": phone})
        pipeline = InProcessPipeline(sandbox, folder / "flapping", max_update_share=1.0)
        try:
            pipeline.sync(PAIR)
            for n, (person_id, contact_id) in enumerate(_links(pipeline).items()):
                if n % 2:
                    sandbox.webcrm.edit(
                        "Persons", int(person_id), {"PersonMobilePhone": f"+45 3{n:07d}"}
                    )
                else:
                    sandbox.crmoffice.edit("contacts", contact_id, {"mobilePhone": f"+47 4{n:07d}"})
            quiet = 0
            for _ in range(MAX_RUNS):
                before = _writes(sandbox)
                pipeline.sync(PAIR)
                quiet = quiet + 1 if _writes(sandbox) == before else 0
                if quiet:
                    break
            before = _writes(sandbox)
            for _ in range(QUIET_RUNS):
                pipeline.sync(PAIR)
            part.figure("flapping_writes", _writes(sandbox) - before)
        finally:
            pipeline.close()


def whole_chunk_refusals(folder: Path, part: Part, links: int) -> None:
    """One bad update per ten among valid ones, against a WebCRM refusing whole chunks."""
    settings = SandboxSettings(
        webcrm_rate_limit=UNLIMITED,
        crmoffice_rate_limit=UNLIMITED,
        webcrm_bulk_rejection="whole-chunk",
    )
    with hosted_sandbox(settings) as sandbox:
        for n in range(links):
            sandbox.webcrm.insert("Persons", {**PERSON, "PersonFirstName": f"Navn{n}"})
        pipeline = InProcessPipeline(sandbox, folder / "chunks", max_update_share=1.0)
        try:
            pipeline.sync(PAIR)
            valid: dict[str, str] = {}
            for n, (person_id, contact_id) in enumerate(_links(pipeline).items()):
                phone = "+45 " + "1" * 27 if n % 10 == 0 else f"+45 5{n:07d}"  # 31 chars: bad
                sandbox.crmoffice.edit("contacts", contact_id, {"directPhone": phone})
                if n % 10:
                    valid[person_id] = phone
            for _ in range(MAX_RUNS):
                pipeline.sync(PAIR)
            with pipeline.store() as store:
                given_up = set(store.failures_frame(PAIR, status="given_up")["record_id"])
            contacts = _links(pipeline)
            missing = [
                p
                for p, phone in valid.items()
                if contacts[p] in given_up
                or "".join(
                    filter(
                        str.isdigit,
                        (sandbox.webcrm.get("Persons", int(p)) or {}).get("PersonDirectPhone")
                        or "",
                    )
                )
                != "".join(filter(str.isdigit, phone))
            ]
            part.figure("valid_items_checked", len(valid))
            part.counted("given_up_valid_items", (len(missing), missing[:5]))
        finally:
            pipeline.close()


def run_untidy(folder: Path, links: int = 40) -> Part:
    """Figures `flapping_writes` and `given_up_valid_items` (both must be 0)."""
    part = Part("untidy")
    flapping(folder, part, links, random.Random(1))
    whole_chunk_refusals(folder, part, links)
    return part
