"""What the benchmark asks of a running sandbox, acting as its users: census, edits, ageing.

Runs inside the sandbox's own process (see `sandbox_process`), on the state handles, so none of
it is counted in the API statistics.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sync_pipeline.core import EntitySpec, load_field_map
from sync_pipeline.core.systems import packaged_systems
from sync_pipeline.sandbox.server import RunningSandbox
from sync_pipeline_tests.bench.api_minimum import synced_entities

# The entities the package's pairs sync, with their id and updated-at property (systems.yaml).
WEBCRM = {e.name: e for e in synced_entities(load_field_map(), "webcrm")}
CRMOFFICE = {e.name: e for e in synced_entities(load_field_map(), "crmoffice")}
# What a user changes per entity: a mapped field where the entity has one.
EDITED_FIELD = {
    "Persons": "PersonMobilePhone",
    "Users": "UserTelephone",
    "Products": "ProductStockStatus",
    "contacts": "directPhone",
    "companies": "name",
}
Census = dict[str, dict[str, str]]


def _webcrm_updated(record: dict[str, Any], spec: EntitySpec) -> float:
    return datetime.fromisoformat(record[spec.updated_at]).timestamp()


def _crmoffice_updated(record: dict[str, Any], spec: EntitySpec) -> float:
    return datetime.fromisoformat(record[spec.updated_at].replace("Z", "+00:00")).timestamp()


def _fingerprint(record: dict[str, Any]) -> str:
    """A digest of a record's values, leaving out the stamps every write moves."""
    kept = {k: v for k, v in record.items() if not k.endswith(("UpdatedAt", "UpdatedBy"))}
    kept.pop("updatedAt", None)
    return hashlib.blake2b(
        json.dumps(kept, sort_keys=True, default=str).encode(), digest_size=12
    ).hexdigest()


def census(sandbox: RunningSandbox) -> Census:
    """Per entity: record id -> fingerprint of its values."""
    result: Census = {}
    for entity, spec in WEBCRM.items():
        records = sandbox.webcrm.records(entity)
        result[entity] = {str(r[spec.id]): _fingerprint(r) for r in records}
    for entity, spec in CRMOFFICE.items():
        records = sandbox.crmoffice.records(entity)
        result[entity] = {str(r[spec.id]): _fingerprint(r) for r in records}
    return result


def changed_since(before: Census, after: Census) -> dict[str, int]:
    """Per entity: records created, or whose values changed, between two censuses."""
    return {
        entity: sum(1 for rid, digest in rows.items() if before.get(entity, {}).get(rid) != digest)
        for entity, rows in after.items()
    }


def counts(sandbox: RunningSandbox) -> dict[str, int]:
    """Records per entity."""
    result = {e: len(sandbox.webcrm.records(e)) for e in WEBCRM}
    result.update({e: len(sandbox.crmoffice.records(e)) for e in CRMOFFICE})
    return result


def updated_since(sandbox: RunningSandbox, epoch: float) -> dict[str, int]:
    """Per entity: records whose updated-at is at or after `epoch` (whole seconds for WebCRM)."""
    result = {
        e: sum(1 for r in sandbox.webcrm.records(e) if _webcrm_updated(r, s) >= int(epoch))
        for e, s in WEBCRM.items()
    }
    for entity, spec in CRMOFFICE.items():
        records = sandbox.crmoffice.records(entity)
        result[entity] = sum(1 for r in records if _crmoffice_updated(r, spec) >= epoch)
    return result


def _new_value(entity: str, rng: random.Random) -> str:
    if entity == "companies":
        return f"Benchmark Firma {rng.randrange(10**6)}"
    if entity == "Products":
        return rng.choice(("På lager", "Bestilt", "Udsolgt")) + f" {rng.randrange(100)}"
    pairs = " ".join(f"{rng.randrange(100):02d}" for _ in range(3))
    return f"+45 {rng.randrange(20, 99)} {pairs}"


def edit(sandbox: RunningSandbox, share: float, seed: int) -> dict[str, int]:
    """Edit `share` of every entity's records (at least one) as a user would; counts per entity."""
    rng = random.Random(seed)
    done: dict[str, int] = {}
    for entity, spec in WEBCRM.items():
        ids = [r[spec.id] for r in sandbox.webcrm.records(entity)]
        picked = rng.sample(ids, min(len(ids), max(1, round(share * len(ids)))))
        for rid in picked:
            sandbox.webcrm.edit(entity, rid, {EDITED_FIELD[entity]: _new_value(entity, rng)})
        done[entity] = len(picked)
    for entity, spec in CRMOFFICE.items():
        ids = [r[spec.id] for r in sandbox.crmoffice.records(entity)]
        picked = rng.sample(ids, min(len(ids), max(1, round(share * len(ids)))))
        for rid in picked:
            sandbox.crmoffice.edit(entity, rid, {EDITED_FIELD[entity]: _new_value(entity, rng)})
        done[entity] = len(picked)
    return done


def age(sandbox: RunningSandbox, seconds: float) -> dict[str, int]:
    """Move every record updated in the last `seconds` back by `seconds`, values untouched.

    Lets an hour pass between two runs without waiting for it: later runs see these records as
    long settled, beyond any incremental overlap window.
    """
    horizon, moved = time.time() - seconds, {}
    for entity, spec in WEBCRM.items():
        n = 0
        author = spec.updated_at.removesuffix("At") + "By"  # PersonUpdatedAt -> PersonUpdatedBy
        for r in sandbox.webcrm.records(entity):
            at = _webcrm_updated(r, spec)
            if at >= horizon - 1:
                sandbox.webcrm.update(entity, r[spec.id], {}, r[author], at - seconds)
                n += 1
        moved[entity] = n
    for entity, spec in CRMOFFICE.items():
        n = 0
        for r in sandbox.crmoffice.records(entity):
            at = _crmoffice_updated(r, spec)
            if at >= horizon - 1:
                sandbox.crmoffice.update(entity, r[spec.id], {}, at - seconds)
                n += 1
        moved[entity] = n
    return moved


def populate(sandbox: RunningSandbox, persons: int, contacts: int) -> None:
    """Insert plain persons and contacts (the seed data is for the sync figures)."""
    for i in range(persons):
        sandbox.webcrm.insert(
            "Persons",
            {
                "PersonFirstName": f"Sørine{i % 997}",
                "PersonLastName": f"Ærøskøbing{i % 89}",
                "PersonMobilePhone": f"+45 {20 + i % 79} {i % 100:02d} {i // 100 % 100:02d} 11",
                "PersonEmail": f"person{i}@example.dk",
            },
        )
    for i in range(contacts):
        sandbox.crmoffice.insert("contacts", {"givenName": f"Åse{i}", "familyName": "Løvås"})


def webcrm_ids(sandbox: RunningSandbox, entity: str) -> list[int]:
    """The ids of a WebCRM entity's records (any entity `systems.yaml` declares), read from the
    state: not counted, and not in the rate limit's window."""
    spec = packaged_systems().webcrm.entity(entity)
    return [int(r[spec.id]) for r in sandbox.webcrm.records(entity)]


COMMANDS: dict[str, Callable[..., Any]] = {
    "stats": lambda sandbox: sandbox.stats(),
    "arrivals": lambda sandbox: sandbox.arrivals(),
    "webcrm_ids": webcrm_ids,
    "reset_stats": lambda sandbox: sandbox.reset_stats(),
    "counts": counts,
    "updated_since": updated_since,
    "edit": edit,
    "age": age,
}
