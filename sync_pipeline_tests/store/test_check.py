"""`check` finds what is wrong and says what a repair would do; `repair` does only the safe part."""

from __future__ import annotations

from datetime import timedelta

from sync_pipeline.store import SCHEMA_VERSION, IntegrityReport, LinkStore, LinkWrite
from sync_pipeline_tests.store.conftest import NOW, execute_sql

PAIR = "persons_contacts"
PAIRS = {PAIR: ("Persons", "contacts"), "users_contacts": ("Users", "contacts")}
LATER = NOW + timedelta(hours=2)


def _linked(store: LinkStore, *pairs: tuple[str, str]) -> None:
    rows = [LinkWrite(w, c, {}, "match") for w, c in pairs]
    store.add_links(PAIR, "contacts", rows, "r0", now=NOW)


def test_healthy_store_is_ok(store: LinkStore) -> None:
    """A fresh store with links and a full read that matches them has no problems."""
    _linked(store, ("1", "c1"))
    report = store.check(
        remote_ids={("webcrm", "Persons"): {"1"}, ("crmoffice", "contacts"): {"c1"}},
        pairs=PAIRS,
        now=LATER,
    )
    assert isinstance(report, IntegrityReport)
    assert report.ok and report.problems == [] and report.repairs == []
    assert report.schema_version == SCHEMA_VERSION


def test_stale_intent_with_possible_record_is_left_open(store: LinkStore) -> None:
    """An old open intent whose target has an unlinked record is reported but not closed."""
    _linked(store, ("1", "c1"))
    [intent] = store.open_intents_for(PAIR, "to_crmoffice", [("2", {})], "dead-run", now=NOW)
    remote = {("crmoffice", "contacts"): {"c1", "c-new"}}
    report = store.check(remote_ids=remote, pairs=PAIRS, now=LATER)
    assert not report.ok
    assert report.problems[0].startswith("1 open intents older than")
    assert f"{intent} ({PAIR} to_crmoffice 2)" in report.problems[0]
    assert report.closable_intents == ()
    assert any("leave 1 intents open" in line for line in report.repairs)
    assert store.repair(report, now=LATER) == []
    assert len(store.open_intents(PAIR, [])) == 1


def test_stale_intent_without_possible_record_is_closed(store: LinkStore) -> None:
    """When every record of the target is linked, the create never happened: closed not_applied."""
    _linked(store, ("1", "c1"))
    [intent] = store.open_intents_for(PAIR, "to_crmoffice", [("2", {})], "dead-run", now=NOW)
    report = store.check(remote_ids={("crmoffice", "contacts"): {"c1"}}, pairs=PAIRS, now=LATER)
    assert report.closable_intents == (intent,)
    assert any("close 1 intents as not_applied" in line for line in report.repairs)
    assert store.repair(report, now=LATER) == ["closed 1 stale intents as not_applied"]
    assert store.open_intents(PAIR, []).empty
    assert store.check(now=LATER).ok


def test_fresh_intent_and_unknown_target_are_not_touched(store: LinkStore) -> None:
    """Intents younger than the window are not stale; without a full read nothing is closable."""
    store.open_intents_for(PAIR, "to_webcrm", [("c9", {})], "live-run", now=LATER)
    assert store.check(now=LATER + timedelta(minutes=5)).ok
    report = store.check(now=LATER + timedelta(hours=1))
    assert not report.ok and report.closable_intents == ()


def test_links_to_records_missing_from_full_read(store: LinkStore) -> None:
    """Active links whose record is absent from a full read are reported, not changed."""
    _linked(store, ("1", "c1"), ("2", "c2"))
    remote = {("webcrm", "Persons"): {"1"}, ("crmoffice", "contacts"): {"c1", "c2"}}
    report = store.check(remote_ids=remote, pairs=PAIRS, now=LATER)
    assert report.problems == [
        f"1 active links point at webcrm Persons records missing from the full read: {PAIR} 2"
    ]
    assert "next full sync marks those 1 links orphaned" in report.repairs[0]
    store.mark_orphaned(PAIR, [("2", "c2", "webcrm")], "r")
    after = store.check(remote_ids=remote, pairs=PAIRS, now=LATER)
    assert after.ok and f"{PAIR}: 1 orphaned links" in after.notes


def test_held_intents_and_duplicate_open_intents_are_problems(store: LinkStore) -> None:
    """A create that could not be linked, or two open intents for one record, is reported."""
    _linked(store, ("1", "c1"))
    [held] = store.open_intents_for(PAIR, "to_crmoffice", [("1", {})], "r", now=LATER)
    store.add_links(
        PAIR, "contacts", [LinkWrite("1", "c7", {}, "create", "to_crmoffice", held)], "r"
    )
    store.open_intents_for(PAIR, "to_webcrm", [("c5", {}), ("c5", {})], "r", now=LATER)
    problems = store.check(now=LATER).problems
    assert any("could not be linked" in p and "1→c7" in p for p in problems)
    assert any(
        f"several open intents for one source record: {PAIR} to_webcrm c5" in p for p in problems
    )


def test_expired_locks_are_repaired(store: LinkStore) -> None:
    """An expired lock (its run died) is a problem, freed by repair (its token stays spent)."""
    dead = store.pair_lock(PAIR, "dead-run", ttl_seconds=60, now=NOW)
    dead.__enter__()  # never exited, like a run that was killed
    report = store.check(now=LATER)
    assert not report.ok and report.expired_locks == (PAIR,)
    assert report.problems == [
        f"pair lock {PAIR}: held by dead-run with token 1 for {(LATER - NOW).seconds} s, "
        f"EXPIRED {(LATER - NOW).seconds - 60} s ago (its run is gone; the next run takes it over)"
    ]
    assert store.repair(report, now=LATER) == ["freed 1 expired pair locks"]
    with store.pair_lock(PAIR, "next-run", now=NOW) as lock:
        assert lock.token == 2


def test_held_lock_is_shown_with_holder_token_and_age(store: LinkStore) -> None:
    """A live lock is a note naming its holder, token and age, not a problem."""
    with store.pair_lock(PAIR, "live-run", ttl_seconds=60, now=NOW):
        report = store.check(now=NOW + timedelta(seconds=20))
    assert report.ok and report.expired_locks == ()
    assert f"pair lock {PAIR}: held by live-run with token 1 for 20 s, expires in 40 s" in (
        report.notes
    )


def test_notes_count_quarantine_and_given_up(store: LinkStore) -> None:
    """Open quarantine entries and given-up failures appear as notes per pair."""
    store.record_failures(PAIR, "to_crmoffice", [("1", "422")], "r", max_attempts=1, now=NOW)
    notes = store.check(now=NOW).notes
    assert f"{PAIR}: 1 open quarantine entries" in notes
    assert f"{PAIR}: 1 given-up failures" in notes


def test_wrong_schema_version_is_a_problem(store: LinkStore, store_url: str) -> None:
    """A wrong schema version in meta is a problem."""
    execute_sql(store_url, "UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    report = store.check(now=NOW)
    assert report.problems == [f"schema version is 0, expected {SCHEMA_VERSION}"]
