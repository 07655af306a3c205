"""New work between crash trials: fresh records on both sides and edits of a few links."""

from __future__ import annotations

import random

from sync_pipeline.sandbox.server import RunningSandbox
from sync_pipeline.store import LinkStore
from sync_pipeline_tests.reliability.checks import Inventory
from sync_pipeline_tests.reliability.edits import NAMES, PHONES


def _phone(rng: random.Random) -> str:
    return f"{rng.choice(PHONES)} {rng.randrange(100, 999)}"


def add_records(
    sandbox: RunningSandbox, inventory: Inventory, rng: random.Random, persons: int, contacts: int
) -> None:
    """Insert new persons, contacts and one product, as users of each CRM would."""
    for _ in range(persons):
        record = {
            "PersonFirstName": rng.choice(NAMES),
            "PersonLastName": f"Trial-{rng.randrange(10**6)}",
            "PersonMobilePhone": _phone(rng),
            "PersonEmail": "kept@example.dk",
        }
        inventory.add("webcrm", "Persons", str(sandbox.webcrm.insert("Persons", record)))
    for _ in range(contacts):
        record = {
            "givenName": rng.choice(NAMES),
            "familyName": f"Kontakt-{rng.randrange(10**6)}",
            "directPhone": _phone(rng),
            "title": "Kept",
        }
        inventory.add("crmoffice", "contacts", sandbox.crmoffice.insert("contacts", record))
    product = {"ProductCombined": f"Vare {rng.randrange(10**6)}"}
    inventory.add("webcrm", "Products", str(sandbox.webcrm.insert("Products", product)))


def edit_links(sandbox: RunningSandbox, store: LinkStore, rng: random.Random, count: int) -> int:
    """Change one field on either side of up to `count` persons_contacts links; how many."""
    links = store.links_frame("persons_contacts", ["givenName"])
    pairs = list(zip(links["webcrm_id"], links["crmoffice_id"], strict=True))
    chosen = rng.sample(pairs, min(count, len(pairs)))
    for webcrm_id, crmoffice_id in chosen:
        name = f"{rng.choice(NAMES)}-{rng.randrange(1000)}"
        if rng.random() < 0.5:
            sandbox.webcrm.edit("Persons", int(webcrm_id), {"PersonFirstName": name})
        else:
            sandbox.crmoffice.edit("contacts", str(crmoffice_id), {"givenName": name})
    return len(chosen)
