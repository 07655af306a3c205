"""The guards around the sinks: blocking checks, stale plans, the pair lock, and read windows."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from sync_pipeline.commands.sync_report import failure_line
from sync_pipeline.sandbox.server import RunningSandbox
from sync_pipeline.sync import StalePlanError, apply_links_step
from sync_pipeline.sync.run_guard import lock_owner
from sync_pipeline_tests.pipeline.conftest import Pipeline
from sync_pipeline_tests.pipeline.helpers import PERSON, contact, contacts, partner, persons

SINKS = ("apply_links", "apply_to_crmoffice", "apply_to_webcrm")
SIDES = ("webcrm", "crmoffice")


def _persons(pipeline: Pipeline, count: int) -> list[int]:
    return [
        pipeline.sandbox.webcrm.insert("Persons", {**PERSON, "PersonFirstName": f"Navn {n}"})
        for n in range(count)
    ]


def test_mass_change_breaker_stops_the_sinks(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """Editing every linked person trips the breaker: nothing is written, the CLI line says why."""
    pipeline = Pipeline(sandbox, tmp_path, max_update_share=0.2, min_updates_for_breaker=5)
    ids = _persons(pipeline, 10)
    pipeline.sync("persons_contacts")
    for person_id in ids:
        sandbox.webcrm.edit("Persons", person_id, {"PersonTitle": "x", "PersonLastName": "Ny"})
    before = pipeline.writes()
    result = pipeline.sync("persons_contacts", expect_success=False)
    assert not result.success
    assert "mass_change" in failure_line(result) and "10 of 10" in failure_line(result)
    assert pipeline.writes() == before


def test_too_many_bad_rows_stop_the_pair(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """Above the bad-row threshold the blocking check stops the pair's sinks."""
    pipeline = Pipeline(sandbox, tmp_path)
    _persons(pipeline, 3)
    for _ in range(2):
        sandbox.webcrm.insert("Persons", {**PERSON, "PersonDirectPhone": "☎ ring ring"})
    result = pipeline.sync("persons_contacts", expect_success=False)
    assert not result.success
    assert "valid_rows" in failure_line(result)
    assert contacts(sandbox) == []


def test_sinks_never_apply_a_plan_from_another_run(pipeline: Pipeline) -> None:
    """Materialising only the sinks (after a dry run and a real run) applies nothing."""
    _persons(pipeline, 3)
    pipeline.sync("persons_contacts", dry_run=True)
    pipeline.sync("persons_contacts")
    assert len(contacts(pipeline.sandbox)) == 3
    sinks = [dg.AssetKey(["persons_contacts", name]) for name in SINKS]
    job = pipeline.defs.resolve_job_def("incremental_sync")
    result = job.execute_in_process(
        instance=pipeline.instance,
        asset_selection=sinks,
        raise_on_error=False,
    )
    assert not result.success
    assert "was not materialised in this run" in failure_line(result)
    assert len(contacts(pipeline.sandbox)) == 3


def test_a_plan_is_applied_only_by_its_run_and_on_its_basis(pipeline: Pipeline) -> None:
    """A plan stamped by another run, or made before the pair changed, raises StalePlanError."""
    _persons(pipeline, 2)
    result = pipeline.sync("persons_contacts", dry_run=True)
    planned = result.asset_value(dg.AssetKey(["persons_contacts", "plan_links"]))
    webcrm, crmoffice = (
        result.asset_value(dg.AssetKey(["persons_contacts", f"{s}_rows"])) for s in SIDES
    )
    pair = pipeline.field_map.pairs["persons_contacts"]
    with pytest.raises(StalePlanError, match="applied only by the run that made it"):
        apply_links_step(pair, planned, webcrm, crmoffice, pipeline.store(), "some-other-run")
    pipeline.sync("persons_contacts")
    with pytest.raises(StalePlanError, match="another run wrote to this pair"):
        apply_links_step(pair, planned, webcrm, crmoffice, pipeline.store(), planned.run.run_id)
    assert len(contacts(pipeline.sandbox)) == 2


def test_pair_lock_keeps_a_second_writer_out(pipeline: Pipeline) -> None:
    """While another run holds the pair's lock, a sync of that pair writes nothing."""
    _persons(pipeline, 2)
    store = pipeline.store()
    with store.pair_lock("persons_contacts", "another-run"):
        result = pipeline.sync("persons_contacts", expect_success=False)
    assert not result.success
    assert "being synced by run another-run" in failure_line(result)
    assert contacts(pipeline.sandbox) == []
    pipeline.sync("persons_contacts")
    assert len(contacts(pipeline.sandbox)) == 2


def test_backfill_window_resyncs_exactly_the_records_modified_then(pipeline: Pipeline) -> None:
    """A window run (a backfill) syncs records modified in the window and nothing else."""
    inside = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
    outside = datetime(2024, 3, 20, 12, 0, tzinfo=UTC)
    early = pipeline.sandbox.webcrm.insert(
        "Persons", {**PERSON, "PersonFirstName": "Marts"}, at=inside
    )
    pipeline.sandbox.webcrm.insert("Persons", {**PERSON, "PersonFirstName": "Senere"}, at=outside)
    pipeline.sync("persons_contacts", since=date(2024, 3, 9), until=date(2024, 3, 11))
    assert [c["givenName"] for c in contacts(pipeline.sandbox)] == ["Marts"]
    assert partner(pipeline.store(), "persons_contacts", early)
    backfill = dg.AssetKey(["persons_contacts", "backfill"])
    assert pipeline.instance.get_materialized_partitions(backfill) == {"2024-03-09", "2024-03-10"}


def test_only_backfills_are_partitioned(pipeline: Pipeline) -> None:
    """Incremental and full runs materialise the unpartitioned sync graph; the days a backfill
    re-synced are the only partitions ever filled."""
    _persons(pipeline, 1)
    pipeline.sync("persons_contacts")
    pipeline.sync("persons_contacts", full=True)
    graph = pipeline.defs.resolve_asset_graph()
    partitioned = {
        key.to_user_string() for key in graph.get_all_asset_keys() if graph.get(key).partitions_def
    }
    assert partitioned == {f"{pair}/backfill" for pair in pipeline.field_map.pairs}
    sink = dg.AssetKey(["persons_contacts", "apply_to_webcrm"])
    assert pipeline.instance.get_latest_materialization_event(sink) is not None


def _rows_read(result: dg.ExecuteInProcessResult, system: str, entity: str) -> int:
    (event,) = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey([system, entity])
    ]
    return int(event.materialization.metadata["dagster/row_count"].value)  # type: ignore[arg-type]


def test_a_quiet_entity_is_read_from_the_last_run_not_from_its_last_edit(
    pipeline: Pipeline,
) -> None:
    """The cursor moves to where each read began on the source's clock (`Snapshot.cursor`),
    not to the newest record read: once a burst of edits is older than the read overlap, no-op
    runs read nothing again (before: every run re-read the records of the last two minutes
    before the newest edit, however long ago that was)."""
    stamped = datetime.now(UTC) - timedelta(minutes=10)
    for n in range(5):
        person = {**PERSON, "PersonFirstName": f"N{n}"}
        pipeline.sandbox.webcrm.insert("Persons", person, at=stamped)
    assert _rows_read(pipeline.sync("persons_contacts"), "webcrm", "persons") == 5
    started = datetime.now(UTC)
    assert _rows_read(pipeline.sync("persons_contacts"), "webcrm", "persons") == 0
    cursor = pipeline.store().pair_state("persons_contacts", ["webcrm/Persons"]).cursors
    assert cursor["webcrm/Persons"] is not None
    assert cursor["webcrm/Persons"] >= started - timedelta(seconds=5)


def test_incremental_run_reads_changes_only(pipeline: Pipeline) -> None:
    """After a first run, incremental runs query by modification time (WebCRM /Queries,
    CRMOffice updatedSince) and a no-op run makes one read per entity plus the logins.

    An entity that was empty gets its cursor from the source's clock at the first read
    (`Snapshot.cursor`), so it too is queried by modification time, never listed in full."""
    _persons(pipeline, 3)
    pipeline.sync()
    pipeline.sandbox.reset_stats()
    pipeline.sync()
    stats = pipeline.sandbox.stats()
    webcrm, crmoffice = stats["webcrm"]["requests"], stats["crmoffice"]["requests"]
    assert webcrm.get("GET /Queries") == 3
    assert not {"GET /Persons", "GET /Users", "GET /Products"} & set(webcrm)
    assert crmoffice.get("GET /contacts") == 1 and crmoffice.get("GET /companies") == 1
    assert stats["webcrm"]["requests_total"] + stats["crmoffice"]["requests_total"] <= 7


def test_update_to_a_deleted_person_orphans_the_link(pipeline: Pipeline) -> None:
    """A contact edit whose WebCRM person is gone marks the link orphaned, once, and the
    cursors move on (no endless retries)."""
    [person_id] = _persons(pipeline, 1)
    pipeline.sync("persons_contacts")
    contact_id = partner(pipeline.store(), "persons_contacts", person_id)
    pipeline.sandbox.webcrm.delete("Persons", person_id)
    pipeline.sandbox.crmoffice.edit("contacts", contact_id, {"givenName": "Efter"})
    pipeline.sync("persons_contacts")
    assert [link["status"] for link in pipeline.store().find_links(contact_id)] == ["orphaned"]
    pipeline.sandbox.reset_stats()
    pipeline.sync("persons_contacts")
    assert "PATCH /Persons" not in pipeline.sandbox.stats()["webcrm"]["requests"]
    assert pipeline.sandbox.webcrm.records("Persons") == []


def test_contact_awaiting_another_pairs_intent_spawns_no_person(pipeline: Pipeline) -> None:
    """After a crash between a user's contact create and its link write, a run of
    persons_contacts alone leaves that contact to users_contacts, which adopts it."""
    sandbox = pipeline.sandbox
    user_id = sandbox.webcrm.insert(
        "Users", {"UserName": "U", "UserMobilePhone": "+45 61 61 61 61"}
    )
    payload = {"mobilePhone": "+45 61 61 61 61", "directPhone": ""}
    store = pipeline.store()
    store.open_intents_for("users_contacts", "to_crmoffice", [(str(user_id), payload)], "crashed")
    contact_id = sandbox.crmoffice.insert("contacts", {"mobilePhone": "+45 61 61 61 61"})
    pipeline.sync("persons_contacts", full=True)
    assert persons(sandbox) == []
    pipeline.sync("users_contacts", full=True)
    assert partner(pipeline.store(), "users_contacts", user_id) == contact_id
    assert len(contacts(sandbox)) == 1


def test_one_bad_row_in_an_incremental_window_does_not_stop_the_pair(pipeline: Pipeline) -> None:
    """The bad-row share is taken over the linked records too: one bad edit among 30 links
    is a warning, and the good edit next to it syncs."""
    ids = _persons(pipeline, 30)
    pipeline.sync("persons_contacts")
    pipeline.sandbox.webcrm.edit("Persons", ids[0], {"PersonMobilePhone": "☎☎☎"})
    pipeline.sandbox.webcrm.edit("Persons", ids[1], {"PersonLastName": "Fjord"})
    pipeline.sync("persons_contacts")
    contact_id = partner(pipeline.store(), "persons_contacts", ids[1])
    assert contact(pipeline.sandbox, contact_id)["familyName"] == "Fjord"


def test_a_lock_left_by_a_killed_process_is_taken_over(pipeline: Pipeline) -> None:
    """A pair lock whose holder (a process of this kernel and pid namespace) is gone does not
    block the next run."""
    _persons(pipeline, 1)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    owner = lock_owner("killed-run", pid=gone.pid)
    lock = pipeline.store().pair_lock("persons_contacts", owner)
    lock.__enter__()  # never released: the holder was SIGKILLed
    pipeline.sync("persons_contacts")
    assert len(contacts(pipeline.sandbox)) == 1


def test_bad_contacts_of_one_pair_do_not_block_the_pair_sharing_them(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """Contacts are read by persons_contacts and users_contacts: bad contacts linked to persons
    count against persons_contacts only, so users_contacts (and after it persons_contacts,
    whose plan waits on it) keeps syncing."""
    # No overlap: the last window holds just the edited contacts (2 bad of 3 read).
    pipeline = Pipeline(sandbox, tmp_path, overlap_seconds=0)
    ids = _persons(pipeline, 30)  # 2 bad of 30: within persons_contacts' 10 %
    user_id = pipeline.sandbox.webcrm.insert(
        "Users", {"UserName": "U", "UserMobilePhone": "+45 61 61 61 61"}
    )
    pipeline.sync()
    pipeline.sync()  # reads our own writes once
    for person_id in ids[:2]:
        contact_id = partner(pipeline.store(), "persons_contacts", person_id)
        pipeline.sandbox.crmoffice.edit("contacts", contact_id, {"directPhone": "call me maybe"})
    pipeline.sandbox.webcrm.edit("Users", user_id, {"UserMobilePhone": "+45 62 62 62 62"})
    pipeline.sandbox.webcrm.edit("Persons", ids[5], {"PersonLastName": "Fjord"})
    pipeline.sync()
    user_contact = partner(pipeline.store(), "users_contacts", user_id)
    assert contact(pipeline.sandbox, user_contact)["mobilePhone"] == "+45 62 62 62 62"
    person_contact = partner(pipeline.store(), "persons_contacts", ids[5])
    assert contact(pipeline.sandbox, person_contact)["familyName"] == "Fjord"


def test_a_scoped_incremental_plan_weighs_its_changes_against_every_link(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """An incremental plan reads only the links of the records it read (28 here), but the
    mass-change breaker (20 %) still weighs its changes against all 150 of the pair's links:
    28 edits go through, as they did when the plan read the whole table."""
    pipeline = Pipeline(sandbox, tmp_path, max_update_share=0.2, overlap_seconds=1)
    ids = _persons(pipeline, 150)
    # Every pair runs (the contacts' cursor is the oldest of the two pairs reading them).
    # Past the one-second overlap, the `Date` header's second and `updatedSince`'s whole
    # seconds each time: the second run reads back the contacts the first one created, the
    # third sees the edits only.
    pipeline.sync()
    time.sleep(4)
    pipeline.sync()
    time.sleep(4)
    for person_id in ids[:28]:
        sandbox.webcrm.edit("Persons", person_id, {"PersonLastName": "Bulk"})
    pipeline.sync()
    store = pipeline.store()
    assert all(
        contact(sandbox, partner(store, "persons_contacts", i))["familyName"] == "Bulk"
        for i in ids[:28]
    )


def test_an_edit_reaches_a_record_our_own_run_wrote_a_minute_ago(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A run whose read of the target side is empty (nobody touched it since the last run)
    still updates a contact our own run wrote seconds ago: a target change counts as made after
    the read from where the read began on the target's clock. (Before, with our clock less two
    minutes, the update was refused as "changed in the target after this run read it" on every
    run for two minutes.)"""
    pipeline = Pipeline(sandbox, tmp_path, overlap_seconds=1)
    (person_id,) = _persons(pipeline, 1)
    pipeline.sync()
    time.sleep(4)
    pipeline.sync()  # reads back the contact the first run created
    time.sleep(4)
    sandbox.webcrm.edit("Persons", person_id, {"PersonLastName": "Later"})
    result = pipeline.sync()
    assert "changed in the target" not in str(result.get_asset_materialization_events())
    assert (
        contact(sandbox, partner(pipeline.store(), "persons_contacts", person_id))["familyName"]
        == "Later"
    )
