"""Runs of the jobs and schedules carry the non-secret keys of their credentials, the tags the
production run queue limits runs per API token by (`deployment.TOKEN_TAGS`)."""

from __future__ import annotations

import dagster as dg
import pytest

from sync_pipeline import deployment
from sync_pipeline.core import load_field_map
from sync_pipeline.definitions import build_definitions
from sync_pipeline.settings import SANDBOX_DEFAULTS

JOBS = ("incremental_sync", "full_resync", "dry_run", "sync_window")
SCHEDULES = ("incremental_every_15_minutes", "nightly_full_resync")


def test_every_job_and_schedule_tags_its_runs_with_the_token_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each job's tags and each schedule's run request hold the SHA-256 prefixes of the WebCRM
    token and the CRMOffice client id in force, never the credentials themselves."""
    monkeypatch.setenv("WEBCRM_API_TOKEN", "a-real-looking-token")
    monkeypatch.delenv("CRMOFFICE_CLIENT_ID", raising=False)
    expected = {
        "sync/webcrm_token": deployment.token_key("a-real-looking-token"),
        "sync/crmoffice_client": deployment.token_key(SANDBOX_DEFAULTS["CRMOFFICE_CLIENT_ID"]),
    }
    defs = build_definitions(load_field_map())
    for name in JOBS:
        assert expected.items() <= defs.resolve_job_def(name).tags.items(), name
    for name in SCHEDULES:
        tick = defs.resolve_schedule_def(name).evaluate_tick(dg.build_schedule_context())
        assert tick.run_requests and expected.items() <= tick.run_requests[0].tags.items(), name
    assert "a-real-looking-token" not in str(expected)


def test_the_incremental_cron_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """`SYNC_INCREMENTAL_CRON` sets the incremental schedule's cron; unset, every 15 minutes."""
    default = build_definitions(load_field_map()).resolve_schedule_def(SCHEDULES[0])
    assert default.cron_schedule == "*/15 * * * *"
    monkeypatch.setenv("SYNC_INCREMENTAL_CRON", "* * * * *")
    every_minute = build_definitions(load_field_map()).resolve_schedule_def(SCHEDULES[0])
    assert every_minute.cron_schedule == "* * * * *"
