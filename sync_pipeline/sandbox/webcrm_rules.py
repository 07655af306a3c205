"""What the live WebCRM refuses beyond the spec's types (`reference/webcrm-live-evidence.md`).

Driven by `systems.yaml`: an entity's `create_requires` properties must carry a value on create
(persons: `PersonLastName`, evidence 7, and `PersonOrganisationId`, evidence 8). A required
property naming another declared entity by its id (`<Prefix>Id` of that entity's DTO, e.g.
`PersonOrganisationId` → Organisations) is a reference: it must name an existing record (the
stricter reading of evidence 8: no organisation at all fails too) and it cannot be changed
through the API (evidence 8).

Creating entities quickly can fail on id generation, per item; a retry succeeds (evidence 9):
with `--webcrm-create-failure-rate F` every API create draws from a random stream seeded by
`--fault-seed`, and fails with probability F.

Each check returns the refusal's message (a 400 for POST/PUT, the item's result string in a
bulk PATCH) or None. UI edits and seeding (the state handle) are not checked.
"""

from __future__ import annotations

import random
import threading
from functools import cache
from typing import Any

from sync_pipeline.core.systems import packaged_systems
from sync_pipeline.sandbox.webcrm_dto import ENTITIES
from sync_pipeline.sandbox.webcrm_state import WebcrmState


@cache
def required(entity: str) -> tuple[str, ...]:
    """The properties a new record of `entity` must carry (systems.yaml `create_requires`)."""
    return packaged_systems().webcrm.entity(entity).create_requires


@cache
def required_references() -> dict[tuple[str, str], str]:
    """`(entity, property)` → the entity a required reference names, e.g.
    `("Persons", "PersonOrganisationId")` → `"Organisations"`."""
    found: dict[tuple[str, str], str] = {}
    for entity in ENTITIES:
        for prop in required(entity):
            for target, spec in ENTITIES.items():
                if target != entity and prop.endswith(spec.id_field):
                    found[entity, prop] = target
    return found


def create_refusal(state: WebcrmState, entity: str, values: dict[str, Any]) -> str | None:
    """Why a new record with `values` (coerced; None = unset) cannot be created, or None."""
    for prop in required(entity):
        target = required_references().get((entity, prop))
        value = values.get(prop)
        if target is None and not value:
            return f"{prop} is required."
        if target is not None and (not value or not state.exists(target, value)):
            return f"{ENTITIES[target].prefix} with id {value or 0} was not found."
    return None


def update_refusal(
    state: WebcrmState, entity: str, record_id: int, values: dict[str, Any], *, whole: bool
) -> str | None:
    """Why `values` cannot be written to an existing record (a PUT when `whole`), or None."""
    current = state.get(entity, record_id) if required(entity) else None
    if current is None:
        return None
    for prop in required(entity):
        if (entity, prop) in required_references() and (whole or prop in values):
            if (values.get(prop) or 0) != (current.get(prop) or 0):
                return f"{prop} cannot be changed."
        elif whole and not values.get(prop):
            return f"{prop} is required."
    return None


class CreateFailures:
    """Seeded per-item id-generation failures on API creates (evidence 9)."""

    def __init__(self, rate: float, seed: int) -> None:
        self._rate = rate
        self._random = random.Random(f"webcrm-create-failures-{seed}")
        self._lock = threading.Lock()

    def refusal(self, entity: str) -> str | None:
        """The failure message for this create, or None when it may go ahead."""
        if self._rate <= 0:
            return None
        with self._lock:
            failed = self._random.random() < self._rate
        if not failed:
            return None
        return f"Could not generate an id for the new {ENTITIES[entity].prefix}. Please try again."


def default_reference(state: WebcrmState) -> tuple[str, int] | None:
    """The first record of the first entity a required reference names (the sandbox's
    `WEBCRM_DEFAULT_ORGANISATION_ID`), as (entity, id); None when there is none."""
    for target in required_references().values():
        records = state.records(target)
        if records:
            return target, int(records[0][ENTITIES[target].id_field])
    return None
