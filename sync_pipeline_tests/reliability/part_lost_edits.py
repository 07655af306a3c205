"""Lost edits (issue 9 kind 4): users edit target records between a run's read and its writes.

Half the edited links are changed in WebCRM, half in CRMOffice; just before each direction's
sink writes, a user edits some of those records' targets again. Every such user edit must
survive (the write leaves it out) and win the conflict on the next run (it is the newest).
Figure `lost_edits`: user edits overwritten (must be 0).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sync_pipeline import sync
from sync_pipeline.sandbox.server import SandboxSettings
from sync_pipeline_tests.reliability.figures import Part
from sync_pipeline_tests.reliability.harness import InProcessPipeline
from sync_pipeline_tests.reliability.sandbox_host import UNLIMITED, HostedSandbox, hosted_sandbox

PAIR = "persons_contacts"
PERSON = {"PersonLastName": "Dahl", "PersonOrganisationId": 1}


@contextmanager
def user_edits_before_writes(
    sandbox: HostedSandbox, edits: dict[str, list[tuple[str, str]]]
) -> Iterator[None]:
    """Before each direction's sink of PAIR writes, apply that direction's user edits once:
    `to_crmoffice` -> (contact id, name) and `to_webcrm` -> (person id, name)."""
    original = sync.apply_direction

    def edit_first(pair: Any, plan: Any, *args: Any, **kwargs: Any) -> sync.ApplyReport:
        for record_id, name in edits.pop(plan.direction, []) if pair.name == PAIR else []:
            if plan.direction == "to_crmoffice":
                sandbox.crmoffice.edit("contacts", record_id, {"givenName": name})
            else:
                sandbox.webcrm.edit("Persons", int(record_id), {"PersonFirstName": name})
        return original(pair, plan, *args, **kwargs)

    sync.apply_direction = edit_first  # the sink asset looks it up at run time
    try:
        yield
    finally:
        sync.apply_direction = original


def run_lost_edits(
    folder: Path, *, links: int = 40, edited: int = 20, interfered: int = 10
) -> Part:
    """Figures `lost_edits`, `lost_edit_trials`."""
    part = Part("lost_edits")
    settings = SandboxSettings(webcrm_rate_limit=UNLIMITED, crmoffice_rate_limit=UNLIMITED)
    rng = random.Random(9)
    with hosted_sandbox(settings) as sandbox:
        ids = [
            str(sandbox.webcrm.insert("Persons", {**PERSON, "PersonFirstName": f"Navn{n}"}))
            for n in range(links)
        ]
        pipeline = InProcessPipeline(sandbox, folder, max_update_share=1.0)
        try:
            pipeline.sync(PAIR)
            with pipeline.store() as store:
                frame = store.links_frame(PAIR, [])
            contact_of = dict(zip(frame["webcrm_id"], frame["crmoffice_id"], strict=True))
            earlier = datetime.now(UTC) - timedelta(seconds=5)
            chosen = rng.sample(ids, edited)
            edits: dict[str, list[tuple[str, str]]] = {"to_crmoffice": [], "to_webcrm": []}
            expected: dict[str, str] = {}
            for n, person_id in enumerate(chosen):
                contact_id = contact_of[person_id]
                if n % 2 == 0:
                    sandbox.webcrm.edit(
                        "Persons", int(person_id), {"PersonFirstName": f"W{n}"}, at=earlier
                    )
                    target = ("to_crmoffice", contact_id)
                else:
                    sandbox.crmoffice.edit(
                        "contacts", contact_id, {"givenName": f"C{n}"}, at=earlier
                    )
                    target = ("to_webcrm", person_id)
                if n < interfered:
                    edits[target[0]].append((target[1], f"User{n}"))
                    expected[person_id] = f"User{n}"
            with user_edits_before_writes(sandbox, edits):
                pipeline.sync(PAIR)
            pipeline.sync(PAIR)
            lost = []
            for person_id, name in expected.items():
                person = sandbox.webcrm.get("Persons", int(person_id)) or {}
                contact = sandbox.crmoffice.get("contacts", contact_of[person_id]) or {}
                if (person.get("PersonFirstName"), contact.get("givenName")) != (name, name):
                    lost.append(
                        f"person {person_id}: {person.get('PersonFirstName')!r} / "
                        f"{contact.get('givenName')!r}, the user wrote {name!r}"
                    )
            part.figure("lost_edit_trials", len(expected))
            part.counted("lost_edits", (len(lost), lost[:5]))
        finally:
            pipeline.close()
    return part
