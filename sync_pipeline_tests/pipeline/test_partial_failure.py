"""A run whose writes partly fail: the failed records are retried on the very next run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from sync_pipeline.sandbox.server import running_sandbox
from sync_pipeline.sync import ApplyReport
from sync_pipeline_tests.pipeline.conftest import BOTH_BACKENDS, Pipeline, empty_sandbox
from sync_pipeline_tests.pipeline.helpers import PERSON, contacts, persons

PERSONS = 40


@pytest.fixture
def faulty(tmp_path: Path, state_url: str) -> Iterator[Pipeline]:
    """The pipeline against a sandbox that faults 20 % of API requests (seeded, short stalls)."""
    settings = empty_sandbox(fault_rate=0.2, fault_seed=3, fault_stall_seconds=1.0)
    with running_sandbox(settings) as sandbox:
        yield Pipeline(
            sandbox, tmp_path, client_timeout=0.5, crmoffice_concurrency=1, state_url=state_url
        )


def _report(result: dg.ExecuteInProcessResult) -> ApplyReport:
    report = result.asset_value(dg.AssetKey(["persons_contacts", "apply_to_crmoffice"]))
    assert isinstance(report, ApplyReport)
    return report


@BOTH_BACKENDS
def test_failed_creates_are_retried_on_the_next_run(faulty: Pipeline) -> None:
    """At fault rate 0.2 every person reaches CRMOffice by the second run, with no duplicate."""
    sandbox = faulty.sandbox
    for n in range(PERSONS):
        sandbox.webcrm.insert("Persons", {**PERSON, "PersonFirstName": f"Person {n}"})
    first = _report(faulty.sync("persons_contacts"))
    assert first.failed > 0, "the seeded faults should fail some creates"
    second = faulty.sync("persons_contacts")
    plan = second.asset_value(dg.AssetKey(["persons_contacts", "plan_links"])).plan
    counts = plan.counts()
    assert counts["adopts"] + counts["creates_to_crmoffice"] == first.failed
    names = sorted(c["givenName"] for c in contacts(sandbox))
    assert names == sorted(f"Person {n}" for n in range(PERSONS))
    assert len(persons(sandbox)) == PERSONS
    store = faulty.store()
    assert store.count_links("persons_contacts") == PERSONS
