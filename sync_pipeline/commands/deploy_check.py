"""The check of `deploy-local --check`, through the webserver's GraphQL API (the API the UI
uses; https://docs.dagster.io/api/graphql): the incremental schedule's first tick runs under
the daemon, then a backfill of job `sync_window` (the pairs' `backfill` assets) over yesterday
and today, then a WebCRM hook (`commands.deploy_check_hooks`).

The first two go through the run queue; their runs must succeed and carry the token tags the
queue limits runs by (`deployment.TOKEN_TAGS`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from sync_pipeline import deployment
from sync_pipeline.clients import CrmClientError
from sync_pipeline.store import StoreError

REPOSITORY = {"repositoryName": "__repository__", "repositoryLocationName": deployment.LOCATION}
SCHEDULE = "incremental_every_15_minutes"
SENSORS = ("webcrm_changes", "crmoffice_changes")
WINDOW_JOB = "sync_window"
TIMEOUT = 900.0
DONE = {"SUCCESS", "FAILURE", "CANCELED"}


class CheckFailedError(RuntimeError):
    """The deployment did not do what the check asked (one line why)."""


def graphql(url: str, query: str, **variables: Any) -> dict[str, Any]:
    """POST one GraphQL document to the webserver; its `data` (CheckFailedError on errors)."""
    response = httpx.post(
        f"{url}/graphql", json={"query": query, "variables": variables}, timeout=60.0
    )
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise CheckFailedError(f"GraphQL error: {body['errors'][0].get('message')}")
    data: dict[str, Any] = body["data"]
    return data


START_SCHEDULE = """
mutation($selector: ScheduleSelector!) {
  startSchedule(scheduleSelector: $selector) {
    __typename
    ... on ScheduleStateResult { scheduleState { id status } }
    ... on PythonError { message }
  }
}"""

STOP_SCHEDULE = """
mutation($id: String) {
  stopRunningSchedule(id: $id) { __typename ... on PythonError { message } }
}"""

RUNS = """
query($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    ... on Runs { results { runId status jobName tags { key value } } }
  }
}"""

LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on Error { message }
  }
}"""

BACKFILL = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    ... on PartitionBackfill { status runs { runId status jobName tags { key value } } }
  }
}"""


def start_incremental_schedule(url: str) -> str:
    """Turn the incremental schedule on (a no-op when it already runs); its state id."""
    selector = {**REPOSITORY, "scheduleName": SCHEDULE}
    result = graphql(url, START_SCHEDULE, selector=selector)["startSchedule"]
    if result["__typename"] == "ScheduleStateResult":
        return str(result["scheduleState"]["id"])
    if "already running" in result.get("message", ""):
        return ""
    raise CheckFailedError(f"could not start {SCHEDULE}: {result.get('message')}")


START_SENSOR = """
mutation($selector: SensorSelector!) {
  startSensor(sensorSelector: $selector) {
    __typename
    ... on Sensor { name sensorState { status } }
    ... on PythonError { message }
    ... on Error { message }
  }
}"""


def start_sensors(url: str, names: tuple[str, ...] = SENSORS) -> None:
    """Turn the change sensors on (near-real-time sync; a no-op for one already running)."""
    for name in names:
        result = graphql(url, START_SENSOR, selector={**REPOSITORY, "sensorName": name})
        answer = result["startSensor"]
        if answer["__typename"] != "Sensor" and "already running" not in answer.get("message", ""):
            raise CheckFailedError(f"could not start {name}: {answer.get('message')}")


def wait_for(
    what: str,
    poll: Callable[[], Any],
    alive: Callable[[], str | None],
    timeout: float = TIMEOUT,
    every: float = 2.0,
) -> Any:
    """Call `poll` every `every` s until it returns a value; CheckFailedError after `timeout`
    s or when a process of the deployment died."""
    deadline = time.monotonic() + timeout
    while (value := poll()) is None:
        if (name := alive()) is not None:
            raise CheckFailedError(f"{name} exited while waiting for {what}")
        if time.monotonic() > deadline:
            raise CheckFailedError(f"{what} did not finish in {timeout:.0f} s")
        time.sleep(every)
    return value


def _finished(runs: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    return runs if runs and all(r["status"] in DONE for r in runs) else None


def _verify(what: str, runs: list[dict[str, Any]]) -> None:
    """Every run succeeded and carries both token tags."""
    for run in runs:
        if run["status"] != "SUCCESS":
            raise CheckFailedError(f"{what}: run {run['runId'][:8]} ended {run['status']}")
        keys = {tag["key"] for tag in run["tags"]}
        missing = set(deployment.TOKEN_TAGS.values()) - keys
        if missing:
            raise CheckFailedError(f"{what}: run {run['runId'][:8]} lacks tags {sorted(missing)}")


def _scheduled_run(url: str, alive: Callable[[], str | None]) -> dict[str, Any]:
    """The schedule's first run, once finished."""
    tag = {"key": "dagster/schedule_name", "value": SCHEDULE}

    def poll() -> list[dict[str, Any]] | None:
        data = graphql(url, RUNS, filter={"pipelineName": "incremental_sync", "tags": [tag]})
        runs = data["runsOrError"].get("results", [])
        return _finished(runs[-1:])  # the oldest: the first tick

    runs: list[dict[str, Any]] = wait_for("the scheduled incremental run", poll, alive)
    return runs[0]


def _backfill(url: str, alive: Callable[[], str | None]) -> tuple[str, list[dict[str, Any]]]:
    """Launch a backfill of job `sync_window` (every pair's `backfill` asset) over yesterday
    and today; its id and runs once it completed. Launched from the job's partition set, its
    runs carry the job's tags (an asset backfill's runs would carry only the backfill's)."""
    today = datetime.now(UTC).date()
    days = [(today - timedelta(days=1)).isoformat(), today.isoformat()]
    partition_set = {"partitionSetName": f"{WINDOW_JOB}_partition_set"}
    params = {
        "selector": {**partition_set, "repositorySelector": REPOSITORY},
        "partitionNames": days,
        "title": "deploy-local --check",
    }
    launched = graphql(url, LAUNCH_BACKFILL, params=params)["launchPartitionBackfill"]
    if launched["__typename"] != "LaunchBackfillSuccess":
        raise CheckFailedError(f"backfill refused: {launched.get('message')}")
    backfill_id = str(launched["backfillId"])

    def poll() -> dict[str, Any] | None:
        backfill = graphql(url, BACKFILL, id=backfill_id)["partitionBackfillOrError"]
        running = backfill["status"] in ("REQUESTED", "CANCELING", "FAILING")
        return None if running or _finished(backfill["runs"]) is None else backfill

    backfill = wait_for(f"backfill {backfill_id}", poll, alive)
    if backfill["status"] not in ("COMPLETED", "COMPLETED_SUCCESS"):
        raise CheckFailedError(f"backfill {backfill_id} ended {backfill['status']}")
    return backfill_id, backfill["runs"]


def run_check(
    url: str, alive: Callable[[], str | None], schedule_id: str, env: Mapping[str, str]
) -> int:
    """The scheduled run, then (the schedule `schedule_id` stopped, so no tick competes for
    the pairs) the backfill, then a WebCRM edit synced through its hook (the deployment's
    `env`: the sandbox's URLs, the link store); one summary line; 0 when all three succeeded."""
    # Imported here: that module uses this one's GraphQL helpers.
    from sync_pipeline.commands.deploy_check_hooks import hook_triggered_run

    started = time.monotonic()
    try:
        scheduled = _scheduled_run(url, alive)
        _verify("scheduled run", [scheduled])
        graphql(url, STOP_SCHEDULE, id=schedule_id)
        scheduled_at = time.monotonic() - started
        backfill_id, runs = _backfill(url, alive)
        _verify(f"backfill {backfill_id}", runs)
        hooked = hook_triggered_run(url, alive, env)
    except (CheckFailedError, httpx.HTTPError, CrmClientError, StoreError) as error:
        print(f"prod check: FAILED after {time.monotonic() - started:.0f} s: {error}")
        return 1
    tags = {t["key"]: t["value"] for t in scheduled["tags"]}
    token = tags.get(deployment.TOKEN_TAGS["webcrm"], "?")
    print(
        f"prod check: ok in {time.monotonic() - started:.0f} s: scheduled incremental run "
        f"{scheduled['runId'][:8]} SUCCESS after {scheduled_at:.0f} s; backfill {backfill_id} "
        f"({len(runs)} run(s)) SUCCESS; runs queued under {deployment.TOKEN_TAGS['webcrm']}="
        f"{token}; {hooked}"
    )
    return 0
