"""A sync whose pair lease is taken over mid-write stops before its next write (fencing)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from sync_pipeline.commands.sync_report import failure_line
from sync_pipeline.sandbox.server import RunningSandbox, running_sandbox
from sync_pipeline.store import LinkStore
from sync_pipeline.store._engine import write_transaction
from sync_pipeline_tests.pipeline.conftest import Pipeline, empty_sandbox, with_default_organisation
from sync_pipeline_tests.pipeline.helpers import PERSON, contacts

PAIR = "persons_contacts"
PERSONS = 30


@pytest.fixture
def slow_sandbox() -> Iterator[RunningSandbox]:
    """CRMOffice answers about 5 writes a second (its rate limit over a 1 s window)."""
    settings = replace(empty_sandbox(), crmoffice_rate_limit=5, rate_window_seconds=1.0)
    with running_sandbox(settings) as running:
        yield with_default_organisation(running)


def _take_over_after_first_create(
    sandbox: RunningSandbox, url: str, taken: dict[str, int], release: threading.Event
) -> None:
    """Another host's run: once the sink made its first create, the lease is expired (as if
    the holder had stalled past it) and taken; held until `release`."""
    deadline = time.monotonic() + 120
    while sandbox.stats()["crmoffice"]["writes"] < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    with LinkStore(url) as store:
        # why the private engine: the test ends the holder's lease as a stall past it would
        with write_transaction(store._engine) as connection:
            connection.exec_driver_sql(
                "UPDATE locks SET expires_at = '2000-01-01T00:00:00.000000+00:00'"
            )
        with store.pair_lock(PAIR, "other-host-run", ttl_seconds=600):
            taken["links"] = store.count_links(PAIR)
            taken["contacts"] = len(contacts(sandbox))
            release.wait(120)


def test_a_sink_whose_lease_was_taken_stops_before_its_next_write(
    slow_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """Creating 30 contacts, the sink loses its lease after the first: the run fails saying so,
    makes at most the create in flight, writes no link after the takeover; the next run
    completes the pair without a duplicate."""
    pipeline = Pipeline(slow_sandbox, tmp_path, crmoffice_concurrency=1)
    for n in range(PERSONS):
        slow_sandbox.webcrm.insert("Persons", {**PERSON, "PersonFirstName": f"Navn {n}"})
    taken: dict[str, int] = {}
    release = threading.Event()
    other = threading.Thread(
        target=_take_over_after_first_create,
        args=(slow_sandbox, pipeline.state_url, taken, release),
    )
    other.start()
    try:
        result = pipeline.sync(PAIR, expect_success=False)
    finally:
        release.set()
        other.join(60)
    assert not result.success
    assert "lost its lock" in failure_line(result)
    assert taken["contacts"] < PERSONS
    assert len(contacts(slow_sandbox)) <= taken["contacts"] + 1  # the create in flight
    with pipeline.store() as store:
        assert store.count_links(PAIR) == taken["links"]
    pipeline.sync(PAIR)
    assert len(contacts(slow_sandbox)) == PERSONS
