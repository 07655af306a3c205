"""The WebCRM client's `/Queries` windows and timestamps are right whatever zone the account
renders in and reads offset-less literals in (live evidence 11: the zone is not known)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync_pipeline.clients import WebcrmClient
from sync_pipeline.sandbox.server import SandboxSettings, running_sandbox

ZONES = ("Europe/London", "Europe/Copenhagen", "America/New_York")
# Both sides of Europe's autumn change (27 Oct 2024, 01:00Z) and a summer instant.
MOMENTS = (
    datetime(2024, 10, 27, 0, 30, 5, tzinfo=UTC),
    datetime(2024, 10, 27, 1, 30, 5, tzinfo=UTC),
    datetime(2024, 7, 1, 9, 0, 5, tzinfo=UTC),
)


@pytest.mark.parametrize("zone", ZONES)
def test_query_windows_find_exactly_the_changes_inside_them(zone: str) -> None:
    """A one-second window around each change finds it; the windows before and after do not."""
    settings = SandboxSettings(webcrm_port=0, crmoffice_port=0, seed=None, webcrm_timezone=zone)
    with running_sandbox(settings) as sandbox:
        made = {
            moment: sandbox.webcrm.insert("Products", {"ProductCombined": "Z"}, at=moment)
            for moment in MOMENTS
        }
        client = WebcrmClient(
            sandbox.webcrm_url, "sandbox-webcrm-token", rate_limit_per_minute=None
        )
        with client:
            for moment, product_id in made.items():
                second = timedelta(seconds=1)
                inside = client.query_updated("Products", moment, moment + second)
                before = client.query_updated("Products", moment - second, moment)
                after = client.query_updated("Products", moment + second)
                assert [r["ProductId"] for r in inside] == [product_id], (zone, moment)
                assert product_id not in {r["ProductId"] for r in before + after}
                stamp = datetime.fromisoformat(inside[0]["ProductUpdatedAt"])
                assert stamp == moment  # the offset each value carries is read, not assumed
