"""WebCRM /Queries on an account rendering Copenhagen time (`--webcrm-timezone Europe/Copenhagen`):
the UpdatedAt filter across the offset change, paging, strict scripts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from sync_pipeline.sandbox import RunningSandbox, running_sandbox
from sync_pipeline_tests.sandbox.conftest import quick_settings

CPH = ZoneInfo("Europe/Copenhagen")
WINTER = datetime(2023, 1, 15, 10, 0, 0, tzinfo=CPH)  # CET, 09:00Z
SUMMER = datetime(2023, 7, 15, 10, 0, 0, tzinfo=CPH)  # CEST, 08:00Z
BEFORE_SPRING_FORWARD = datetime(2023, 3, 26, 1, 30, tzinfo=CPH)  # 00:30Z
AFTER_SPRING_FORWARD = datetime(2023, 3, 26, 3, 30, tzinfo=CPH)  # 01:30Z


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    """A seeded sandbox whose account renders (and reads literals in) Copenhagen time."""
    with running_sandbox(quick_settings(webcrm_timezone="Europe/Copenhagen")) as running:
        yield running


@pytest.fixture(scope="module")
def dated(sandbox: RunningSandbox) -> dict[str, int]:
    """Persons last changed at known instants on both sides of the DST offsets."""
    moments = {
        "winter": WINTER,
        "summer": SUMMER,
        "before_dst": BEFORE_SPRING_FORWARD,
        "after_dst": AFTER_SPRING_FORWARD,
    }
    return {
        name: sandbox.webcrm.insert("Persons", {"PersonFirstName": name}, at=moment)
        for name, moment in moments.items()
    }


def _ids(client: httpx.Client, script: str) -> set[int]:
    response = client.get("/Queries", params={"script": script, "Size": 1000})
    assert response.status_code == 200, response.text
    return {row["PersonId"] for row in response.json()}


def test_updated_at_is_rendered_with_the_season_offset(
    webcrm: httpx.Client, dated: dict[str, int]
) -> None:
    """The same wall-clock time renders +01:00 in winter and +02:00 in summer."""
    winter = webcrm.get(f"/Persons/{dated['winter']}").json()["PersonUpdatedAt"]
    summer = webcrm.get(f"/Persons/{dated['summer']}").json()["PersonUpdatedAt"]
    assert (winter, summer) == ("2023-01-15T10:00:00+01:00", "2023-07-15T10:00:00+02:00")


@pytest.mark.parametrize(
    ("literal", "winter_hit", "summer_hit"),
    [
        ("2023-01-15 10:00:00", True, True),  # naive = Copenhagen local time, >= is inclusive
        ("2023-01-15 10:00:01", False, True),
        ("2023-07-15 10:00:00", False, True),
        ("2023-07-15 10:00:01", False, False),
        ("2023-07-15T08:00:00+00:00", False, True),  # an offset literal is converted
        ("2023-07-15T08:00:01Z", False, False),
        ("2023-01-15T10:00:00+01:00", True, True),
        ("2023-01-15T09:00:01Z", False, True),
    ],
)
def test_since_filter_uses_copenhagen_local_time(
    webcrm: httpx.Client, dated: dict[str, int], literal: str, winter_hit: bool, summer_hit: bool
) -> None:
    """`>=` compares instants: naive literals are Copenhagen time, offset literals converted."""
    script = f"SELECT * FROM Person WHERE PersonUpdatedAt >= '{literal}'"
    found = _ids(webcrm, script)
    assert (dated["winter"] in found, dated["summer"] in found) == (winter_hit, summer_hit)


def test_window_across_the_spring_forward_gap(webcrm: httpx.Client, dated: dict[str, int]) -> None:
    """A local-time window spanning 02:00→03:00 finds records on both sides, upper bound open."""
    script = (
        "select * from Person where PersonUpdatedAt >= '2023-03-26 01:00:00' "
        "and PersonUpdatedAt < '2023-03-26 03:30:00'"
    )
    found = _ids(webcrm, script)
    assert dated["before_dst"] in found and dated["after_dst"] not in found
    wider = script.replace("03:30:00", "03:30:01")
    assert {dated["before_dst"], dated["after_dst"]} <= _ids(webcrm, wider)


def test_query_pages(webcrm: httpx.Client) -> None:
    """Page and Size page through the rows; [] past the end; Size bounds as for lists."""
    script = "SELECT * FROM Person WHERE PersonUpdatedAt >= '2000-01-01'"
    everything = _ids(webcrm, script)
    pages: list[int] = []
    for page in range(1, 100):
        params: dict[str, str | int] = {"script": script, "Page": page, "Size": 9}
        rows = webcrm.get("/Queries", params=params).json()
        if not rows:
            break
        pages += [row["PersonId"] for row in rows]
    assert pages == sorted(everything)
    assert webcrm.get("/Queries", params={"script": script, "Size": 1001}).status_code == 400


@pytest.mark.parametrize(
    "script",
    [
        "",
        "SELECT FROM Person",
        "SELECT PersonNope FROM Person WHERE PersonUpdatedAt >= '2024-01-01'",
        "SELECT * FROM Opportunity WHERE OpportunityUpdatedAt >= '2024-01-01'",
        "SELECT * FROM Person p JOIN Organisation o ON (p.PersonOrganisationId = o.OrganisationId)",
        "SELECT * FROM Person WHERE UserUpdatedAt >= '2024-01-01'",
        "SELECT * FROM Person WHERE LOWER(PersonFirstName) = 'a'",
        "SELECT * FROM Person ORDER BY PersonFirstName SIDEWAYS",
        "SELECT * FROM Person WHERE PersonUpdatedAt >= 'yesterday'",
        "SELECT * FROM Person WHERE PersonUpdatedAt >= '2024-01-01' OR 1=1",
        "SELECT * FROM Person WHERE PersonUpdatedAt >= '2024-01-01'; DROP TABLE Person",
    ],
)
def test_anything_else_is_400(webcrm: httpx.Client, script: str) -> None:
    """Scripts outside the emulated subset (JOIN, OR, functions, unknown names) are refused."""
    response = webcrm.get("/Queries", params={"script": script})
    assert response.status_code == 400
    assert response.json()["Type"] == "BadRequestException"


def test_users_and_products_tables(webcrm: httpx.Client) -> None:
    """User and Product tables filter on their own UpdatedAt."""
    for table in ("User", "Product"):
        script = f"SELECT * FROM {table} WHERE {table}UpdatedAt >= '2000-01-01 00:00:00'"
        rows = webcrm.get("/Queries", params={"script": script, "Size": 1000}).json()
        assert rows and all(f"{table}Id" in row for row in rows)
