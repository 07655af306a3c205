"""What the live WebCRM refuses beyond the spec's types (`reference/webcrm-live-evidence.md`).

- A person needs a last name (evidence 7) and an existing organisation (evidence 8: the
  stricter reading of an undocumented case, so a person with no organisation fails too).
- `PersonOrganisationId` cannot be changed through the API (evidence 8).
- Creating entities quickly can fail on id generation, per item; a retry succeeds (evidence 9):
  with `--webcrm-create-failure-rate F` every API create draws from a random stream seeded by
  `--fault-seed`, and fails with probability F.

Each check returns the refusal's message (a 400 for POST/PUT, the item's result string in a
bulk PATCH) or None. UI edits and seeding (the state handle) are not checked.
"""

from __future__ import annotations

import random
import threading
from typing import Any

from sync_pipeline.sandbox.webcrm_state import WebcrmState

PERSONS = "Persons"
ORGANISATION_ID = "PersonOrganisationId"
LAST_NAME = "PersonLastName"


def create_refusal(state: WebcrmState, entity: str, values: dict[str, Any]) -> str | None:
    """Why a new record with `values` (coerced; None = unset) cannot be created, or None."""
    if entity != PERSONS:
        return None
    if not values.get(LAST_NAME):
        return f"{LAST_NAME} is required."
    organisation = values.get(ORGANISATION_ID)
    if not organisation or not state.exists("Organisations", organisation):
        return f"Organisation with id {organisation or 0} was not found."
    return None


def update_refusal(
    state: WebcrmState, entity: str, record_id: int, values: dict[str, Any], *, whole: bool
) -> str | None:
    """Why `values` cannot be written to an existing record (a PUT when `whole`), or None."""
    if entity != PERSONS or (not whole and ORGANISATION_ID not in values):
        return None
    current = state.get(entity, record_id)
    if current is None:
        return None
    if (values.get(ORGANISATION_ID) or 0) != (current.get(ORGANISATION_ID) or 0):
        return f"{ORGANISATION_ID} cannot be changed."
    if whole and not values.get(LAST_NAME):
        return f"{LAST_NAME} is required."
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
        return f"Could not generate an id for the new {entity[:-1]}. Please try again."
