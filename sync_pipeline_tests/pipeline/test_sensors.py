"""Near-real-time change sensors and targeted runs, over real HTTP against the sandbox.

Each sensor tick is evaluated with `dg.build_sensor_context` on the pipeline's resources and
instance; the targeted run it asks for is executed in process like `sync-pipeline sync` runs.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg

from sync_pipeline import sync
from sync_pipeline.core import load_field_map
from sync_pipeline.dagster_defs.targeted_assets import IDS_TAG, TRIGGER_TAG, ids_tag
from sync_pipeline.definitions import change_sensors
from sync_pipeline.sandbox.server import RunningSandbox
from sync_pipeline.sync.changes import PROBE_OVERLAP
from sync_pipeline_tests.pipeline.conftest import Pipeline
from sync_pipeline_tests.pipeline.helpers import PERSON, contact, partner, person

PERSONS = dg.AssetKey(["persons_contacts", "targeted"])


def _tick(pipeline: Pipeline, system: str, cursor: str | None) -> tuple[Any, str | None]:
    """One evaluation of `<system>_changes`: its result and its new cursor."""
    sensor = pipeline.defs.resolve_sensor_def(f"{system}_changes")
    with dg.build_sensor_context(
        instance=pipeline.instance,
        cursor=cursor,
        resources=pipeline.defs.resources,
        definitions=pipeline.defs,
    ) as context:
        result = sensor.evaluate_tick(context)
    return result, result.cursor


def _linked(pipeline: Pipeline) -> tuple[int, str]:
    person_id = pipeline.sandbox.webcrm.insert("Persons", dict(PERSON))
    pipeline.sync()
    return person_id, partner(pipeline.store(), "persons_contacts", person_id)


def _probe_requests(pipeline: Pipeline) -> dict[str, int]:
    stats = pipeline.sandbox.stats()
    return {
        system: sum(n for family, n in stats[system]["requests"].items() if "auth" not in family)
        for system in ("webcrm", "crmoffice")
    }


def _run_targeted(pipeline: Pipeline, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    assert request.asset_selection is not None
    return pipeline.defs.resolve_job_def(str(request.job_name)).execute_in_process(
        instance=pipeline.instance,
        tags=request.tags,
        asset_selection=list(request.asset_selection),
    )


def test_an_edit_in_webcrm_requests_one_targeted_run_of_its_pair_and_id(
    pipeline: Pipeline,
) -> None:
    person_id, _contact_id = _linked(pipeline)
    _, cursor = _tick(pipeline, "webcrm", None)
    pipeline.sandbox.webcrm.edit("Persons", person_id, {"PersonLastName": "Edited"})
    result, _ = _tick(pipeline, "webcrm", cursor)
    assert len(result.run_requests) == 1
    request = result.run_requests[0]
    assert request.job_name == "targeted_sync"
    assert list(request.asset_selection) == [PERSONS]
    assert json.loads(request.tags[IDS_TAG]) == {"persons_contacts": {"webcrm": [str(person_id)]}}
    assert request.tags[TRIGGER_TAG] == "webcrm_changes"
    assert request.run_key


def test_our_own_write_is_an_echo_and_requests_nothing(pipeline: Pipeline) -> None:
    """A sync writes the contact; the CRMOffice probe sees it and finds it equal to the shadow."""
    person_id, contact_id = _linked(pipeline)
    _, web_cursor = _tick(pipeline, "webcrm", None)
    _, crm_cursor = _tick(pipeline, "crmoffice", None)
    pipeline.sandbox.webcrm.edit("Persons", person_id, {"PersonLastName": "Edited"})
    result, web_cursor = _tick(pipeline, "webcrm", web_cursor)
    assert _run_targeted(pipeline, result.run_requests[0]).success
    assert contact(pipeline.sandbox, contact_id)["familyName"] == "Edited"
    echo, _ = _tick(pipeline, "crmoffice", crm_cursor)
    assert echo.run_requests == []
    again, _ = _tick(pipeline, "webcrm", web_cursor)
    assert again.run_requests == []


def test_nothing_changed_requests_nothing_with_one_request_per_entity(pipeline: Pipeline) -> None:
    _linked(pipeline)
    _, web_cursor = _tick(pipeline, "webcrm", None)
    _, crm_cursor = _tick(pipeline, "crmoffice", None)
    pipeline.sandbox.reset_stats()
    web, _ = _tick(pipeline, "webcrm", web_cursor)
    crm, _ = _tick(pipeline, "crmoffice", crm_cursor)
    assert web.run_requests == [] and crm.run_requests == []
    field_map = pipeline.field_map
    assert _probe_requests(pipeline) == {
        "webcrm": len(sync.synced_entities(field_map, "webcrm")),
        "crmoffice": len(sync.synced_entities(field_map, "crmoffice")),
    }


def test_a_targeted_run_syncs_the_edit_without_reading_the_whole_entity(
    pipeline: Pipeline,
) -> None:
    for n in range(5):
        pipeline.sandbox.webcrm.insert("Persons", {**PERSON, "PersonMobilePhone": f"+45 2{n}"})
    person_id, contact_id = _linked(pipeline)
    _, cursor = _tick(pipeline, "crmoffice", None)
    pipeline.sandbox.crmoffice.edit("contacts", contact_id, {"givenName": "Kirsten"})
    result, _ = _tick(pipeline, "crmoffice", cursor)
    (request,) = result.run_requests
    assert json.loads(request.tags[IDS_TAG]) == {"persons_contacts": {"crmoffice": [contact_id]}}
    pipeline.sandbox.reset_stats()
    assert _run_targeted(pipeline, request).success
    assert person(pipeline.sandbox, person_id)["PersonFirstName"] == "Kirsten"
    families = {
        family
        for system in ("webcrm", "crmoffice")
        for family in pipeline.sandbox.stats()[system]["requests"]
    }
    # By id only: no list of either entity (the sink's check for target edits since the read
    # is one `/Queries` on the modification time, not a read of the entity).
    assert not {"GET /Persons", "GET /contacts"} & families, families
    assert {"GET /Persons/{id}", "GET /contacts/{id}"} <= families, families


def test_the_probe_interval_keeps_probes_within_the_budget_share() -> None:
    """WebCRM 250/min at 10 %: 25 probes a minute over 3 entities -> a tick every 8 s at least."""
    assert sync.probe_interval_seconds(3, 250, 0.10, 1) == 8
    assert sync.probe_interval_seconds(2, 600, 0.10, 5) == 5
    sensors = {s.name: s for s in change_sensors(load_field_map(), [], {})}
    web = sensors["webcrm_changes"].minimum_interval_seconds
    assert web is not None and 3 * 60 / web <= 0.10 * 250
    assert all(s.default_status == dg.DefaultSensorStatus.STOPPED for s in sensors.values())


def test_the_mass_change_breaker_weighs_a_targeted_run_against_every_link(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """26 edits of 150 links (17 %) pass the 20 % breaker; a targeted run of those 26 ids
    reads 26 links only, and must not count them as 100 % of the pair."""
    pipeline = Pipeline(sandbox, tmp_path, max_update_share=0.20)
    ids = [
        sandbox.webcrm.insert("Persons", {**PERSON, "PersonMobilePhone": f"+45 20 00 {n:04d}"})
        for n in range(150)
    ]
    pipeline.sync("persons_contacts")
    for person_id in ids[:26]:
        sandbox.webcrm.edit("Persons", person_id, {"PersonLastName": "Mass"})
    tags = {IDS_TAG: ids_tag({"persons_contacts": {"webcrm": [str(i) for i in ids[:26]]}})}
    result = pipeline.defs.resolve_job_def("targeted_sync").execute_in_process(
        instance=pipeline.instance, tags=tags, asset_selection=[PERSONS], raise_on_error=False
    )
    assert result.success
    assert all(
        contact(sandbox, partner(pipeline.store(), "persons_contacts", i))["familyName"] == "Mass"
        for i in ids[:26]
    )


def test_a_new_cursor_starts_at_the_last_run_so_an_earlier_edit_is_not_missed(
    pipeline: Pipeline,
) -> None:
    """The sensor's first tick reads from the pairs' stored cursors, not from "now": an edit
    made after the last run, older than the probe's overlap when the sensor starts, is found."""
    now = datetime.now(UTC)
    person_id = pipeline.sandbox.webcrm.insert(
        "Persons", dict(PERSON), at=now - timedelta(seconds=60)
    )
    pipeline.sync("persons_contacts")
    pipeline.sandbox.webcrm.edit("Persons", person_id, {"PersonLastName": "Before"})
    time.sleep((PROBE_OVERLAP + timedelta(seconds=2)).total_seconds())
    result, _ = _tick(pipeline, "webcrm", None)
    (request,) = result.run_requests
    assert json.loads(request.tags[IDS_TAG]) == {"persons_contacts": {"webcrm": [str(person_id)]}}


def test_an_edit_while_a_run_is_in_flight_is_found_once_it_ends(pipeline: Pipeline) -> None:
    """The first tick finds the pair busy (a run in flight): the contacts are not probed, but the
    cursor is pinned; the edit made meanwhile is found by the next tick."""
    person_id, contact_id = _linked(pipeline)
    job = pipeline.defs.resolve_job_def("targeted_sync")
    running = pipeline.instance.create_run_for_job(
        job, status=dg.DagsterRunStatus.STARTED, asset_selection=frozenset({PERSONS})
    )
    busy, cursor = _tick(pipeline, "crmoffice", None)
    assert busy.run_requests == []
    pipeline.sandbox.crmoffice.edit("contacts", contact_id, {"familyName": "Meanwhile"})
    pipeline.instance.delete_run(running.run_id)
    result, _ = _tick(pipeline, "crmoffice", cursor)
    (request,) = result.run_requests
    assert json.loads(request.tags[IDS_TAG]) == {"persons_contacts": {"crmoffice": [contact_id]}}
    del person_id
