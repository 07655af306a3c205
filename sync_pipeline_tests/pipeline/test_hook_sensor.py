"""`webcrm_changes` in hooks mode (`SYNC_WEBCRM_HOOKS=on`), over real HTTP: the sandbox's WebCRM
delivers hook events to `sync-pipeline hooks serve` (a child process), which stores them in the
pipeline's own store; each sensor tick is evaluated with `dg.build_sensor_context`, and the
targeted run it asks for executes in process (as in test_sensors.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import httpx
import pytest

from sync_pipeline.core.hook_payload import HookEvent
from sync_pipeline.dagster_defs.sensors import AFTER, PROBED
from sync_pipeline.dagster_defs.targeted_assets import IDS_TAG
from sync_pipeline.sandbox.server import RunningSandbox
from sync_pipeline.settings import SettingsError, webcrm_hooks
from sync_pipeline.sync.hook_events import HOOK_GETS
from sync_pipeline_tests.pipeline.conftest import Pipeline
from sync_pipeline_tests.pipeline.helpers import PERSON, contact
from sync_pipeline_tests.pipeline.test_sensors import PERSONS, _linked, _run_targeted, _tick
from sync_pipeline_tests.test_hooks import SECRET, Receiver, hooks_cli, register, wait_for


class Hooked(Pipeline):
    """The pipeline and the receiver storing into its store."""

    receiver: Receiver


@pytest.fixture
def hooked(
    sandbox: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Hooked]:
    """The pipeline with `SYNC_WEBCRM_HOOKS=on`, a receiver storing into its SQLite store, and
    our hooks registered in the sandbox for that receiver."""
    monkeypatch.setenv("SYNC_WEBCRM_HOOKS", "on")
    pipeline = Hooked(sandbox, tmp_path)
    pipeline.receiver = Receiver(pipeline.state_url, tmp_path / "receiver.log")
    pipeline.receiver.start()
    try:
        register(sandbox, pipeline.receiver)
        yield pipeline
    finally:
        pipeline.receiver.stop()


def _stored(pipeline: Pipeline, entity: str, record_id: object, event_type: str) -> bool:
    with pipeline.store() as store:
        events, _ = store.events_after(0, limit=10_000)
    return (entity, str(record_id), event_type) in {
        (e.entity, e.record_id, e.event_type) for e in events
    }


def _families(pipeline: Pipeline, system: str) -> set[str]:
    """Request families `system` served since the last reset (logins left out)."""
    return {f for f in pipeline.sandbox.stats()[system]["requests"] if "auth" not in f.lower()}


def _status(pipeline: Pipeline, person_id: int) -> str:
    with pipeline.store() as store:
        links = store.links_frame("persons_contacts", [], status=None, ids=([str(person_id)], []))
    (status,) = links["status"]
    return str(status)


def test_an_edit_is_read_from_its_hook_event_without_probing(hooked: Pipeline) -> None:
    person_id, contact_id = _linked(hooked)
    first, cursor = _tick(hooked, "webcrm", None)  # a new cursor: every entity probed once
    assert "hooks mode" in str(first.skip_message)
    hooked.sandbox.webcrm.edit("Persons", person_id, {"PersonLastName": "Hooked"})
    wait_for(lambda: _stored(hooked, "Persons", person_id, "Update"), "the Update event")
    hooked.sandbox.reset_stats()
    result, cursor = _tick(hooked, "webcrm", cursor)
    (request,) = result.run_requests
    assert request.job_name == "targeted_sync"
    assert json.loads(request.tags[IDS_TAG]) == {"persons_contacts": {"webcrm": [str(person_id)]}}
    assert _families(hooked, "webcrm") == {"GET /Persons/{id}"}  # no `/Queries` probe
    assert _run_targeted(hooked, request).success
    assert contact(hooked.sandbox, contact_id)["familyName"] == "Hooked"
    hooked.sandbox.reset_stats()
    idle, _ = _tick(hooked, "webcrm", cursor)
    assert idle.run_requests == [] and _families(hooked, "webcrm") == set()


def test_our_own_write_comes_back_as_an_echo_event_and_requests_nothing(hooked: Pipeline) -> None:
    """A CRMOffice edit synced to WebCRM: WebCRM's Update hook for our write is an echo."""
    person_id, contact_id = _linked(hooked)
    _, web_cursor = _tick(hooked, "webcrm", None)
    _, crm_cursor = _tick(hooked, "crmoffice", None)
    hooked.sandbox.crmoffice.edit("contacts", contact_id, {"givenName": "Kirsten"})
    (request,) = _tick(hooked, "crmoffice", crm_cursor)[0].run_requests
    assert _run_targeted(hooked, request).success
    wait_for(lambda: _stored(hooked, "Persons", person_id, "Update"), "the echo's Update event")
    echo, web_cursor = _tick(hooked, "webcrm", web_cursor)
    assert echo.run_requests == []
    assert "Persons 1 Update" in str(echo.skip_message)


def test_a_delete_event_orphans_the_link_once_the_targeted_run_confirms_it(
    hooked: Pipeline,
) -> None:
    person_id, _contact_id = _linked(hooked)
    _, cursor = _tick(hooked, "webcrm", None)
    hooked.sandbox.webcrm.delete("Persons", person_id)
    wait_for(lambda: _stored(hooked, "Persons", person_id, "Delete"), "the Delete event")
    result, _ = _tick(hooked, "webcrm", cursor)
    (request,) = result.run_requests
    assert json.loads(request.tags[IDS_TAG]) == {"persons_contacts": {"webcrm": [str(person_id)]}}
    assert _status(hooked, person_id) == "active"  # the event alone orphans nothing
    hooked.sandbox.reset_stats()
    assert _run_targeted(hooked, request).success
    assert _status(hooked, person_id) == "orphaned"
    # Read by id (404), then confirmed by a second GET (404) before the link was orphaned.
    assert hooked.sandbox.stats()["webcrm"]["requests"]["GET /Persons/{id}"] >= 2


def test_a_delete_event_for_a_record_still_there_orphans_nothing(hooked: Hooked) -> None:
    """A Delete event whose record a GET still finds (a forged or stale event) leaves the link."""
    person_id, _contact_id = _linked(hooked)
    _, cursor = _tick(hooked, "webcrm", None)
    body = {"Entity": "Persons", "EventType": "Delete", "Id": person_id}
    posted = httpx.post(f"{hooked.receiver.url}/webcrm/hooks/{SECRET}", json=body)
    assert posted.status_code == 200
    (request,) = _tick(hooked, "webcrm", cursor)[0].run_requests
    assert _run_targeted(hooked, request).success
    assert _status(hooked, person_id) == "active"


def test_the_safety_probe_catches_an_edit_whose_hook_was_lost(hooked: Pipeline) -> None:
    """Hooks removed (the event is never sent): no tick finds the edit until the entity's safety
    probe is due; that probe requests the run."""
    person_id, _contact_id = _linked(hooked)
    _, cursor = _tick(hooked, "webcrm", None)
    assert hooks_cli(hooked.sandbox, "unregister").returncode == 0
    hooked.sandbox.webcrm.edit("Persons", person_id, {"PersonLastName": "Lost"})
    missed, cursor = _tick(hooked, "webcrm", cursor)
    assert missed.run_requests == []
    marks = json.loads(str(cursor))
    marks[PROBED + "Persons"] = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    caught, cursor = _tick(hooked, "webcrm", json.dumps(marks))
    (request,) = caught.run_requests
    assert json.loads(request.tags[IDS_TAG]) == {"persons_contacts": {"webcrm": [str(person_id)]}}
    assert json.loads(str(cursor))[PROBED + "Persons"] > marks[PROBED + "Persons"]


def test_hooks_mode_shows_in_the_sensor_and_is_off_by_default(hooked: Pipeline) -> None:
    sensor = hooked.defs.resolve_sensor_def("webcrm_changes")
    assert str(sensor.description).startswith("Hooks mode")
    assert webcrm_hooks({}) is None and webcrm_hooks({"SYNC_WEBCRM_HOOKS": "off"}) is None
    assert webcrm_hooks({"SYNC_WEBCRM_HOOKS": "on", "SYNC_HOOKS_SAFETY_SECONDS": "60"}) == 60
    with pytest.raises(SettingsError, match="SYNC_WEBCRM_HOOKS"):
        webcrm_hooks({"SYNC_WEBCRM_HOOKS": "yes"})
    assert AFTER == "hooks/after" and isinstance(sensor, dg.SensorDefinition)


def test_events_wait_while_a_run_of_their_pair_is_in_flight(hooked: Hooked) -> None:
    """The event cursor stops before the events of a busy entity; they are read once it ends."""
    person_id, _contact_id = _linked(hooked)
    _, cursor = _tick(hooked, "webcrm", None)
    job = hooked.defs.resolve_job_def("targeted_sync")
    running = hooked.instance.create_run_for_job(
        job, status=dg.DagsterRunStatus.STARTED, asset_selection=frozenset({PERSONS})
    )
    hooked.sandbox.webcrm.edit("Persons", person_id, {"PersonLastName": "Meanwhile"})
    wait_for(lambda: _stored(hooked, "Persons", person_id, "Update"), "the Update event")
    busy, cursor = _tick(hooked, "webcrm", cursor)
    assert busy.run_requests == [] and "waiting on runs: Persons" in str(busy.skip_message)
    hooked.instance.delete_run(running.run_id)
    (request,) = _tick(hooked, "webcrm", cursor)[0].run_requests
    assert json.loads(request.tags[IDS_TAG]) == {"persons_contacts": {"webcrm": [str(person_id)]}}


def test_many_events_of_one_entity_are_read_with_one_probe(hooked: Hooked) -> None:
    """More than HOOK_GETS edited records in one tick: one `/Queries` probe, not a GET each."""
    ids = [
        hooked.sandbox.webcrm.insert("Persons", {**PERSON, "PersonMobilePhone": f"+45 20 {n:04d}"})
        for n in range(HOOK_GETS + 1)
    ]
    hooked.sync("persons_contacts")
    _, cursor = _tick(hooked, "webcrm", None)
    for person_id in ids:
        hooked.sandbox.webcrm.edit("Persons", person_id, {"PersonLastName": "Many"})
    wait_for(lambda: all(_stored(hooked, "Persons", i, "Update") for i in ids), "the events")
    hooked.sandbox.reset_stats()
    (request,) = _tick(hooked, "webcrm", cursor)[0].run_requests
    assert json.loads(request.tags[IDS_TAG]) == {
        "persons_contacts": {"webcrm": sorted(str(i) for i in ids)}
    }
    assert _families(hooked, "webcrm") == {"GET /Queries"}


def test_an_event_whose_record_the_api_refuses_is_skipped_not_blocking(hooked: Pipeline) -> None:
    """A stored event naming a record WebCRM refuses to GET for good (400 here: an id it cannot
    parse) is logged and skipped, and the events after it still sync. Before, every tick raised
    on it, the event cursor never moved, and no WebCRM change synced again."""
    person_id, _ = _linked(hooked)
    _, cursor = _tick(hooked, "webcrm", None)
    bad = HookEvent("Persons", "99999999999999999999", "Update", datetime.now(UTC))
    with hooked.store() as store:
        store.add_hook_events("webcrm", [bad])
    hooked.sandbox.webcrm.edit("Persons", person_id, {"PersonLastName": "After"})
    wait_for(lambda: _stored(hooked, "Persons", person_id, "Update"), "the Update event")
    result, cursor = _tick(hooked, "webcrm", cursor)
    (request,) = result.run_requests
    assert json.loads(request.tags[IDS_TAG]) == {"persons_contacts": {"webcrm": [str(person_id)]}}
    with hooked.store() as store:
        assert json.loads(str(cursor))[AFTER] == str(store.last_hook_event_id())
