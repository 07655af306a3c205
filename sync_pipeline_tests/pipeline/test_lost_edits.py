"""Issue 9 kind 4: an edit made in the target between our read and our write is not lost."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sync_pipeline import sync
from sync_pipeline_tests.pipeline.conftest import Pipeline
from sync_pipeline_tests.pipeline.helpers import PERSON, contact, partner, person


@contextmanager
def before_writes(direction: str, act: Callable[[], None]) -> Iterator[None]:
    """Run `act` once, just before the sink of `direction` starts writing."""
    original = sync.apply_direction
    done: list[bool] = []

    def acting_first(pair: Any, plan: Any, *args: Any, **kwargs: Any) -> sync.ApplyReport:
        if plan.direction == direction and not done and len(plan.updates):
            done.append(True)
            act()
        return original(pair, plan, *args, **kwargs)

    # The sink asset looks sync.apply_direction up at run time.
    sync.apply_direction = acting_first
    try:
        yield
    finally:
        sync.apply_direction = original
    assert done, f"no {direction} updates were written"


def _user_edit_kept_then_settled(
    pipeline: Pipeline,
    direction: str,
    user_edit: Callable[[], None],
    person_id: int,
    contact_id: str,
) -> None:
    """Sync with `user_edit` made just before the `direction` sink writes: the edit (Annie)
    survives that run, and the next run brings both sides to it."""
    sandbox = pipeline.sandbox
    with before_writes(direction, user_edit):
        pipeline.sync("persons_contacts")
    names = (
        person(sandbox, person_id)["PersonFirstName"],
        contact(sandbox, contact_id)["givenName"],
    )
    assert "Annie" in names, f"the user's edit was overwritten: {names}"
    pipeline.sync("persons_contacts")
    assert person(sandbox, person_id)["PersonFirstName"] == "Annie"
    assert contact(sandbox, contact_id)["givenName"] == "Annie"


@pytest.mark.parametrize("target", ["crmoffice", "webcrm"])
def test_an_edit_between_read_and_write_is_kept_and_settled_as_a_conflict(
    pipeline: Pipeline, target: str
) -> None:
    """Anna -> Anne on one side; just before our write, a user sets Annie on the other: our
    write leaves that record out, and the next run settles the conflict (newest: Annie)."""
    sandbox = pipeline.sandbox
    person_id = sandbox.webcrm.insert("Persons", {**PERSON, "PersonFirstName": "Anna"})
    pipeline.sync("persons_contacts")
    contact_id = partner(pipeline.store(), "persons_contacts", person_id)
    earlier = datetime.now(UTC) - timedelta(seconds=5)
    if target == "crmoffice":
        sandbox.webcrm.edit("Persons", person_id, {"PersonFirstName": "Anne"}, at=earlier)
        direction = "to_crmoffice"

        def user_edit() -> None:
            sandbox.crmoffice.edit("contacts", contact_id, {"givenName": "Annie"})
    else:
        sandbox.crmoffice.edit("contacts", contact_id, {"givenName": "Anne"}, at=earlier)
        direction = "to_webcrm"

        def user_edit() -> None:
            sandbox.webcrm.edit("Persons", person_id, {"PersonFirstName": "Annie"})

    _user_edit_kept_then_settled(pipeline, direction, user_edit, person_id, contact_id)
    history = pipeline.store().history_frame(pair="persons_contacts", webcrm_id=str(person_id))
    assert "conflict" in set(history["kind"])


@pytest.mark.parametrize("target", ["crmoffice", "webcrm"])
def test_an_edit_stamped_like_the_record_we_read_is_still_kept(
    pipeline: Pipeline, target: str
) -> None:
    """WebCRM stamps whole seconds: a user's edit after our read, in the second the record read
    was stamped, carries the stamp we read. The re-read then compares values, and our write
    leaves the record out (the stamp is placed with the sandbox's `at`, after the read began)."""
    sandbox = pipeline.sandbox
    person_id = sandbox.webcrm.insert("Persons", {**PERSON, "PersonFirstName": "Anna"})
    pipeline.sync("persons_contacts")
    contact_id = partner(pipeline.store(), "persons_contacts", person_id)
    earlier = datetime.now(UTC) - timedelta(seconds=5)
    # A stamp no read of this run can have begun a whole second after: the record's second
    # is not over when we read it, however slow the machine.
    stamp = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=30)
    if target == "crmoffice":
        sandbox.webcrm.edit("Persons", person_id, {"PersonFirstName": "Anne"}, at=earlier)
        sandbox.crmoffice.edit("contacts", contact_id, {"givenName": "Anna"}, at=stamp)
        direction = "to_crmoffice"

        def user_edit() -> None:
            sandbox.crmoffice.edit("contacts", contact_id, {"givenName": "Annie"}, at=stamp)
    else:
        sandbox.crmoffice.edit("contacts", contact_id, {"givenName": "Anne"}, at=earlier)
        sandbox.webcrm.edit("Persons", person_id, {"PersonFirstName": "Anna"}, at=stamp)
        direction = "to_webcrm"

        def user_edit() -> None:
            sandbox.webcrm.edit("Persons", person_id, {"PersonFirstName": "Annie"}, at=stamp)

    _user_edit_kept_then_settled(pipeline, direction, user_edit, person_id, contact_id)
