"""`sync-pipeline doctor`: a read-only preflight, one line per check, exit 0 ready / 1 not."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sync_pipeline.clients import Probe
from sync_pipeline.commands.doctor import mapped_properties
from sync_pipeline.core import load_field_map
from sync_pipeline.sandbox.server import RunningSandbox, SandboxSettings, running_sandbox

CLI = str(Path(sys.executable).parent / "sync-pipeline")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    """A small seeded sandbox on ephemeral ports."""
    settings = SandboxSettings(webcrm_port=0, crmoffice_port=0, seed=40)
    with running_sandbox(settings) as running:
        yield running


def _doctor(
    sandbox: RunningSandbox, tmp_path: Path, **extra: str
) -> subprocess.CompletedProcess[str]:
    organisation = sandbox.webcrm.records("Organisations")[0]["OrganisationId"]
    env = {
        **os.environ,
        "WEBCRM_BASE_URL": sandbox.webcrm_url,
        "CRMOFFICE_BASE_URL": sandbox.crmoffice_url,
        "SYNC_STATE_URL": f"sqlite:///{tmp_path / 'state.sqlite'}",
        "WEBCRM_DEFAULT_ORGANISATION_ID": str(organisation),
        **extra,
    }
    return subprocess.run([CLI, "doctor"], env=env, capture_output=True, text=True, timeout=120)


def _lines(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """check name -> status."""
    return {
        line[6:].split(":", 1)[0]: line.split()[0]
        for line in done.stdout.splitlines()
        if line.split() and line.split()[0] in ("ok", "warn", "fail")
    }


def test_doctor_passes_against_the_sandbox_and_writes_nothing(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """Every check is ok against the seeded sandbox; exit 0; no write reaches either system."""
    before = {side: stats["writes"] for side, stats in sandbox.stats().items()}
    done = _doctor(sandbox, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = _lines(done)
    assert set(lines.values()) == {"ok"}, done.stdout
    for name in (
        "WebCRM login",
        "CRMOffice login",
        "WebCRM Persons",
        "CRMOffice contacts",
        "WebCRM time zone",
        "clocks",
        "create defaults",
        "rate limits",
        "link store",
    ):
        assert name in lines, f"{name} missing from:\n{done.stdout}"
    assert {side: stats["writes"] for side, stats in sandbox.stats().items()} == before


def test_doctor_fails_on_a_wrong_token_without_printing_it(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A refused token is one `fail  WebCRM login` line naming the variable; exit 1."""
    done = _doctor(sandbox, tmp_path, WEBCRM_API_TOKEN="not-the-token-123")
    assert done.returncode == 1
    assert _lines(done)["WebCRM login"] == "fail"
    assert "WEBCRM_API_TOKEN" in done.stdout
    assert "not-the-token-123" not in done.stdout + done.stderr


def test_doctor_fails_when_the_default_organisation_is_missing(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A WEBCRM_DEFAULT_ORGANISATION_ID that names no organisation fails `create defaults`."""
    done = _doctor(sandbox, tmp_path, WEBCRM_DEFAULT_ORGANISATION_ID="987654")
    assert done.returncode == 1
    assert _lines(done)["create defaults"] == "fail"
    assert "987654" in done.stdout


def test_a_mapped_property_absent_from_the_records_fails_naming_it() -> None:
    """Records that lack a property the field map reads fail the entity's line, naming it."""
    field_map = load_field_map()
    record = {
        "PersonId": 1,
        "PersonUpdatedAt": "2024-09-14T10:00:00+01:00",
        "PersonFirstName": "A",
        "PersonLastName": "B",
        "PersonMobilePhone": "",
    }
    check = mapped_properties(
        field_map, "webcrm", "Persons", Probe([record], None, datetime.now(UTC))
    )
    assert check.status == "fail"
    assert "PersonDirectPhone" in check.detail
