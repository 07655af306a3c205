"""`sync-pipeline holds list | resolve`: an operator lists and settles held records."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync_pipeline.sandbox.server import RunningSandbox, SandboxSettings, running_sandbox
from sync_pipeline_tests.test_cli import run_cli

TWIN = {"PersonFirstName": "Ole", "PersonLastName": "Hansen", "PersonMobilePhone": "+45 27 27"}
CONTACT = {"givenName": "Ole", "familyName": "Hansen", "mobilePhone": "+45 27 27"}


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    """An empty sandbox on ephemeral ports."""
    settings = SandboxSettings(
        webcrm_port=0,
        crmoffice_port=0,
        seed=None,
        empty=True,
        webcrm_rate_limit=100_000,
        crmoffice_rate_limit=100_000,
    )
    with running_sandbox(settings) as running:
        yield running


def _listed(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """record id -> hold id, from `holds list`."""
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    return {row[3]: row[0] for row in rows if row and row[0].isdigit()}


def test_holds_are_listed_and_resolved_from_the_cli(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """`holds list` shows each held record; `resolve --link` answers in one line (exit 0) and
    the next sync links it; unknown ids and broken rules exit 1 in one line, bad usage 2."""
    first = sandbox.webcrm.insert("Persons", dict(TWIN))
    second = sandbox.webcrm.insert("Persons", dict(TWIN))
    contact = sandbox.crmoffice.insert("contacts", dict(CONTACT))
    synced = run_cli(sandbox, tmp_path, "sync")
    assert synced.returncode == 0, synced.stderr[-2000:]
    assert "held 3" in synced.stdout
    listed = run_cli(sandbox, tmp_path, "holds", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split()[:7] == ["id", "pair", "side", "record", "id", "kind", "reason"]
    holds = _listed(listed)
    assert set(holds) == {str(first), str(second), contact}
    assert "ambiguous match" in listed.stdout
    unknown = run_cli(sandbox, tmp_path, "holds", "resolve", "999", "--ignore")
    assert unknown.returncode == 1 and unknown.stderr.strip().splitlines() == [
        "holds resolve: no hold 999"
    ]
    usage = run_cli(sandbox, tmp_path, "holds", "resolve", holds[str(first)])
    assert usage.returncode == 2
    resolved = run_cli(sandbox, tmp_path, "holds", "resolve", holds[str(first)], "--link", contact)
    assert resolved.returncode == 0, resolved.stderr
    assert len(resolved.stdout.strip().splitlines()) == 1 and "linked" in resolved.stdout
    twice = run_cli(sandbox, tmp_path, "holds", "resolve", holds[str(second)], "--link", contact)
    assert twice.returncode == 1 and len(twice.stderr.strip().splitlines()) == 1
    assert run_cli(sandbox, tmp_path, "sync", "--pair", "persons_contacts").returncode == 0
    shown = run_cli(sandbox, tmp_path, "links", str(first))
    assert shown.returncode == 0 and contact in shown.stdout
    assert set(_listed(run_cli(sandbox, tmp_path, "holds", "list"))) == {str(second)}
    assert len(sandbox.crmoffice.records("contacts")) == 1
