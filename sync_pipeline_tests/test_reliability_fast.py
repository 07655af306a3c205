"""Fast versions of the reliability parts 2-7 (the full sizes run in `make reliability`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync_pipeline_tests.reliability import part_bad_input, part_crashes
from sync_pipeline_tests.reliability.bad_corpus import CORPUS
from sync_pipeline_tests.reliability.figures import TARGETS, Part, headline, misses
from sync_pipeline_tests.reliability.interleave import run_interleaved
from sync_pipeline_tests.reliability.part_concurrency import run_concurrency
from sync_pipeline_tests.reliability.part_convergence import (
    core_property,
    run_property,
    store_property,
)
from sync_pipeline_tests.reliability.part_durability import run_durability
from sync_pipeline_tests.reliability.part_reads import run_reads
from sync_pipeline_tests.reliability.part_secrets import run_secrets


def explain(part: Part) -> str:
    """The figures and notes, for a failing assertion."""
    return f"{part.figures}\n" + "\n".join(part.notes)


@pytest.fixture(scope="module")
def crashes(tmp_path_factory: pytest.TempPathFactory) -> Part:
    """One SIGKILL between a create's response and its link write, then a re-run."""
    return part_crashes.run_crashes(tmp_path_factory.mktemp("crashes"), part_crashes.FAST)


@pytest.fixture(scope="module")
def bad_input(tmp_path_factory: pytest.TempPathFactory) -> Part:
    """The whole corpus synced, then a flood of bad persons over the threshold."""
    size = part_bad_input.BadInputSize(seed_records=300, flood=40)
    return part_bad_input.run_bad_input(tmp_path_factory.mktemp("bad_input"), size)


@pytest.fixture(scope="module")
def secrets(tmp_path_factory: pytest.TempPathFactory) -> Part:
    """Wrong credentials, a verbose sync, and a scan of every file they produced."""
    return run_secrets(tmp_path_factory.mktemp("secrets"), seed_records=15, syncs=1)


def test_killed_sync_reruns_without_duplicates_or_store_damage(crashes: Part) -> None:
    """SIGKILL between a create's response and its link write, re-run: no duplicate, clean store."""
    assert crashes.figures["crash_trials"] == part_crashes.FAST.trials, explain(crashes)
    assert crashes.figures["duplicates"] == 0, explain(crashes)
    assert crashes.figures["store_integrity_errors"] == 0, explain(crashes)
    assert crashes.figures["mismatched_fields"] == 0, explain(crashes)
    assert crashes.figures["final_sync_exit"] == 0, explain(crashes)
    assert crashes.figures["failed_reruns"] == 0, explain(crashes)


def test_killed_sync_leaves_no_lock_that_blocks_the_rerun(crashes: Part) -> None:
    """A re-run right after a SIGKILL mid-apply is not refused for the dead run's pair lock."""
    assert crashes.figures["reruns_refused_by_dead_lock"] == 0, explain(crashes)


def test_store_backed_histories_converge() -> None:
    """Random edit histories with syncs converge, with links kept in a real LinkStore."""
    part = Part("convergence")
    run_property(store_property(25), 25, part, "store_property")
    run_property(core_property(25), 25, part, "core_property")
    assert part.figures["store_property_failures"] == 0, explain(part)
    assert part.figures["core_property_failures"] == 0, explain(part)


def test_bad_input_runs_never_fail(bad_input: Part) -> None:
    """Syncing the corpus (under the threshold) never fails a run."""
    assert bad_input.figures["bad_input_kinds"] == len(CORPUS) >= 25
    assert bad_input.figures["bad_input_run_failures"] == 0, explain(bad_input)


def test_bad_input_never_reaches_the_other_crm(bad_input: Part) -> None:
    """No bad record, nor its values, reaches the other CRM; each is handled as its kind says."""
    assert bad_input.figures["bad_input_leaks"] == 0, explain(bad_input)
    assert bad_input.figures["bad_input_handled"] == len(CORPUS), explain(bad_input)


def test_bad_rows_over_the_threshold_stop_the_sink_and_say_why(bad_input: Part) -> None:
    """Above the bad-row threshold the persons sink writes nothing and the run says why."""
    assert bad_input.figures["threshold_stops_sink"] == 1, explain(bad_input)
    assert bad_input.figures["threshold_writes"] == 0, explain(bad_input)


def test_no_secret_in_any_output(secrets: Part) -> None:
    """Tokens and secrets appear in no stdout, stderr, event log, value file or store."""
    assert int(secrets.figures["secrets_watched"]) >= 4, explain(secrets)
    assert secrets.figures["leaked_secrets"] == 0, explain(secrets)


def test_wrong_credentials_fail_fast_naming_the_variable(secrets: Part) -> None:
    """A wrong token or client secret: exit 1 within seconds, last line names the variable."""
    assert secrets.figures["wrong_credentials_failed_fast_and_clear"] == 2, explain(secrets)


def test_wrong_credentials_print_one_line(secrets: Part) -> None:
    """A run with wrong credentials prints exactly one line on stderr (no event-log dump)."""
    assert secrets.figures["wrong_credentials_stderr_lines"] == 1, explain(secrets)


@pytest.fixture(scope="module")
def races(tmp_path_factory: pytest.TempPathFactory) -> tuple[Part, Path]:
    """Two syncs of one pair started together, twice; before that, twice two on fresh homes."""
    folder = tmp_path_factory.mktemp("race")
    part = run_concurrency(folder, rounds=2, seed_records=20, interleave=False, fresh_homes=2)
    return part, folder


def test_two_syncs_on_a_fresh_dagster_home_leave_it_usable(races: tuple[Part, Path]) -> None:
    """Two syncs started at once on a new DAGSTER_HOME both run and leave the instance usable."""
    assert races[0].figures["fresh_home_races_broken"] == 0, explain(races[0])


def test_two_syncs_started_together_write_nothing_twice(races: tuple[Part, Path]) -> None:
    """Of two simultaneous syncs of a pair one applies, the other says why; nothing twice."""
    part = races[0]
    assert part.figures["double_writes"] == 0, explain(part)
    assert part.figures["duplicates"] == 0, explain(part)
    assert part.figures["races_resolved_cleanly"] == part.figures["races"], explain(part)


@pytest.mark.parametrize("before", [True, False], ids=["before-plan", "after-plan"])
def test_a_run_applying_while_another_plans_causes_no_double_write(
    before: bool, tmp_path: Path
) -> None:
    """A whole run applying between another run's reads and its sinks: nothing written twice."""
    part = run_interleaved(tmp_path, before=before)
    assert part.figures["interleaved"] == 1, explain(part)
    assert part.figures["interleaved_double_writes"] == 0, explain(part)
    assert part.figures["interleaved_duplicates"] == 0, explain(part)
    assert part.figures["interleaved_lost_updates"] == 0, explain(part)


def test_store_survives_sigkill_and_state_round_trips(
    races: tuple[Part, Path], tmp_path: Path
) -> None:
    """A SIGKILL mid-transaction loses only the open transaction; export/import is lossless."""
    durable = run_durability(tmp_path, races[1] / "dagster_home", 1)
    assert durable.figures["round_trip_mismatches"] == 0, explain(durable)
    assert durable.figures["sigkill_mid_transaction_failures"] == 0, explain(durable)
    assert int(durable.figures["round_trip_links"]) > 0, explain(durable)


def test_full_reads_of_capped_pages_orphan_nothing(tmp_path: Path) -> None:
    """CRMOffice pages capped at 10: a full run orphans no link, a later edit still syncs."""
    part = run_reads(tmp_path, persons=25)
    assert part.figures["false_orphans"] == 0, explain(part)
    assert part.figures["links"] == 25, explain(part)
    assert part.figures["lost_edits_after_full"] == 0, explain(part)


def test_a_part_that_raised_is_off_target_even_when_every_figure_is() -> None:
    """`make reliability` passed once while its two PostgreSQL parts raised before measuring
    anything: a crashed part must fail the run, whatever the other parts measured."""
    on_target = Part("everything")
    for name, target in TARGETS.items():
        on_target.figure(name, target)
    crashed = Part("crashes_postgresql")
    crashed.figure("part_crashed", 1)
    assert misses(headline([on_target])) == []
    assert misses(headline([on_target, crashed])) == [
        "crashes_postgresql.part_crashed: 1 (the part raised; see its note)"
    ]
