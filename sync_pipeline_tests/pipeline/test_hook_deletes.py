"""Deletions in hooks mode past `MAX_TARGETED_IDS` (issue 12), over real HTTP: WebCRM's Delete
hook events reach `sync-pipeline hooks serve` and the pipeline's SQLite store; each
`webcrm_changes` tick is evaluated with `dg.build_sensor_context` and every run it asks for
executes in process (fixtures and helpers as in test_hook_sensor.py). An incremental run reads by
modification time and never orphans anything, so a deletion must always reach a targeted run."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import httpx

from sync_pipeline.dagster_defs.targeted_assets import IDS_TAG
from sync_pipeline_tests.pipeline.conftest import Pipeline
from sync_pipeline_tests.pipeline.helpers import PERSON
from sync_pipeline_tests.pipeline.test_hook_sensor import Hooked, _stored, hooked
from sync_pipeline_tests.pipeline.test_sensors import _linked, _run_targeted, _tick
from sync_pipeline_tests.test_hooks import SECRET, wait_for

__all__ = ["hooked"]  # the fixture, imported for the tests below
TIME = "2026-11-30T09:40:01.123Z"  # a second Delete event of a record: another time


def _persons(pipeline: Pipeline, n: int, phone: str = "20") -> list[int]:
    return [
        pipeline.sandbox.webcrm.insert(
            "Persons", {**PERSON, "PersonMobilePhone": f"+45 {phone} {k:04d}"}
        )
        for k in range(n)
    ]


def _delete(pipeline: Pipeline, entity: str, ids: list[int]) -> None:
    """Delete `ids` in WebCRM and wait until each one's Delete event is stored."""
    for record_id in ids:
        pipeline.sandbox.webcrm.delete(entity, record_id)
    wait_for(lambda: all(_stored(pipeline, entity, i, "Delete") for i in ids), "Delete events")


def _all_requests(pipeline: Pipeline, cursor: str | None) -> list[Any]:
    """The run requests of ticks until one asks for nothing (one tick reads `HOOK_BATCH`)."""
    requests: list[Any] = []
    while True:
        result, cursor = _tick(pipeline, "webcrm", cursor)
        if not result.run_requests:
            return requests
        requests += result.run_requests


def _tagged(requests: list[Any]) -> Counter[tuple[str, str]]:
    """How often each (pair, WebCRM id) is named by the targeted requests."""
    return Counter(
        (pair, record_id)
        for r in requests
        if r.job_name == "targeted_sync"
        for pair, sides in json.loads(r.tags[IDS_TAG]).items()
        for record_id in sides["webcrm"]
    )


def _statuses(pipeline: Pipeline, pair: str, ids: list[int]) -> set[str]:
    with pipeline.store() as store:
        links = store.links_frame(pair, [], status=None, ids=([str(i) for i in ids], []))
    assert len(links) == len(ids)
    return set(links["status"])


def test_120_deletions_reach_targeted_runs_of_at_most_50_ids_and_orphan_every_link(
    hooked: Hooked,
) -> None:
    """120 Delete events (more than `MAX_TARGETED_IDS`): ceil(120/50) = 3 targeted runs, each
    with its own run key (the same again when a tick is evaluated twice), no incremental run."""
    ids = _persons(hooked, 120)
    hooked.sync("persons_contacts")
    _, cursor = _tick(hooked, "webcrm", None)
    _delete(hooked, "Persons", ids)
    first, _ = _tick(hooked, "webcrm", cursor)
    again, _ = _tick(hooked, "webcrm", cursor)  # a re-evaluated tick
    assert [r.run_key for r in again.run_requests] == [r.run_key for r in first.run_requests]
    requests = _all_requests(hooked, cursor)
    assert [r.job_name for r in requests] == ["targeted_sync"] * 3
    assert len({r.run_key for r in requests}) == 3
    tagged = _tagged(requests)
    assert tagged == Counter({("persons_contacts", str(i)): 1 for i in ids})
    assert all(
        len(json.loads(r.tags[IDS_TAG])["persons_contacts"]["webcrm"]) <= 50 for r in requests
    )
    assert _statuses(hooked, "persons_contacts", ids) == {"active"}
    for request in requests:
        assert _run_targeted(hooked, request).success
    assert _statuses(hooked, "persons_contacts", ids) == {"orphaned"}


def test_deletions_of_two_pairs_with_many_edits_in_one_tick(hooked: Hooked) -> None:
    """In one tick: 20 Persons and 20 Users deleted (two pairs), one Person edited then
    deleted, one Delete event sent again, a Delete of a record never linked, and 51 Persons
    edited (a full probe page). The edits go to one incremental run; every linked deletion
    reaches one targeted run, named once; the unlinked one asks for nothing."""
    persons, edited = _persons(hooked, 20, "21"), _persons(hooked, 51, "22")
    users = [
        hooked.sandbox.webcrm.insert(
            "Users", {"UserName": f"U{k}", "UserMobilePhone": f"+45 23 {k:04d}"}
        )
        for k in range(20)
    ]
    hooked.sync("persons_contacts", "users_contacts")
    _, cursor = _tick(hooked, "webcrm", None)
    hooked.sandbox.webcrm.edit("Persons", persons[0], {"PersonLastName": "Then deleted"})
    wait_for(lambda: _stored(hooked, "Persons", persons[0], "Update"), "the Update event")
    _delete(hooked, "Persons", persons)
    _delete(hooked, "Users", users)
    url = f"{hooked.receiver.url}/webcrm/hooks/{SECRET}"
    for body in (
        {"Entity": "Persons", "EventType": "Delete", "Id": persons[1], "EventTime": TIME},
        {"Entity": "Persons", "EventType": "Delete", "Id": 987_654, "EventTime": TIME},
    ):
        assert httpx.post(url, json=body).json() == {"received": 1, "stored": 1}
    for person_id in edited:
        hooked.sandbox.webcrm.edit("Persons", person_id, {"PersonLastName": "Many"})
    wait_for(lambda: all(_stored(hooked, "Persons", i, "Update") for i in edited), "the edits")
    result, _ = _tick(hooked, "webcrm", cursor)
    requests = list(result.run_requests)
    assert Counter(str(r.job_name) for r in requests) == {"targeted_sync": 1, "incremental_sync": 1}
    assert _tagged(requests) == Counter(
        {("persons_contacts", str(i)): 1 for i in persons}
        | {("users_contacts", str(i)): 1 for i in users}
    )
    for request in requests:
        assert _run_targeted(hooked, request).success
    assert _statuses(hooked, "persons_contacts", persons) == {"orphaned"}
    assert _statuses(hooked, "users_contacts", users) == {"orphaned"}
    assert _statuses(hooked, "persons_contacts", edited) == {"active"}


def test_a_real_delete_after_a_stale_delete_event_is_a_new_run(hooked: Hooked) -> None:
    """A Delete event for a record still there orphans nothing; when the record is deleted
    later, its Delete event asks for a run under a new run key (Dagster would skip the old one)."""
    person_id, _contact_id = _linked(hooked)
    _, cursor = _tick(hooked, "webcrm", None)
    body = {"Entity": "Persons", "EventType": "Delete", "Id": person_id, "EventTime": TIME}
    assert httpx.post(f"{hooked.receiver.url}/webcrm/hooks/{SECRET}", json=body).status_code == 200
    result, cursor = _tick(hooked, "webcrm", cursor)
    (stale,) = result.run_requests
    assert _run_targeted(hooked, stale).success
    assert _statuses(hooked, "persons_contacts", [person_id]) == {"active"}
    _delete(hooked, "Persons", [person_id])
    (real,) = _tick(hooked, "webcrm", cursor)[0].run_requests
    assert real.run_key != stale.run_key
    assert _run_targeted(hooked, real).success
    assert _statuses(hooked, "persons_contacts", [person_id]) == {"orphaned"}
