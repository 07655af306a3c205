"""The hooks part of `deploy-local --check`: a WebCRM edit reaches a run through its hook.

After the scheduled run and the backfill, the check turns `webcrm_changes` on (hooks mode:
`processes.start_hooks` set `SYNC_WEBCRM_HOOKS=on`, and the check's safety probe interval,
`SYNC_HOOKS_SAFETY_SECONDS=3600`, is far beyond the wait), waits for its first tick (which
pins the sensor's cursors), edits the last name of a linked WebCRM person through the
sandbox's API, and waits up to `HOOK_WAIT` seconds until the receiver stored the hook event and
a run the sensor requested for that person (`sync/trigger=webcrm_changes`, the id in
`sync/ids`) succeeded. Within that time no probe of Persons runs, so the run came from the
hook. Dagster GraphQL: https://docs.dagster.io/api/graphql.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sync_pipeline.commands.connect import open_webcrm
from sync_pipeline.commands.deploy_check import (
    REPOSITORY,
    RUNS,
    SENSORS,
    CheckFailedError,
    graphql,
    start_sensors,
    wait_for,
)
from sync_pipeline.dagster_defs.targeted_assets import IDS_TAG, TRIGGER_TAG
from sync_pipeline.settings import configured_field_map
from sync_pipeline.store import LinkStore

HOOK_WAIT = 60.0  # seconds, for the first tick and again for the hook's run
SENSOR = SENSORS[0]  # webcrm_changes
ENTITY, FIELD = "Persons", "PersonLastName"

SENSOR_TICKS = """
query($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    ... on Sensor { sensorState { ticks(limit: 1) { status error { message } } } }
  }
}"""


def hook_triggered_run(url: str, alive: Callable[[], str | None], env: Mapping[str, str]) -> str:
    """Edit a linked person once `webcrm_changes` has ticked; the summary of the run its hook
    triggered (CheckFailedError with one line when none succeeds in `HOOK_WAIT` s)."""
    start_sensors(url, (SENSOR,))
    wait_for(f"a first tick of {SENSOR}", lambda: _ticked(url), alive, HOOK_WAIT, 1.0)
    person = _linked_person(env)
    value = f"Hook{secrets.randbelow(10**6)}"
    edited = datetime.now(UTC)
    with open_webcrm(env) as client:
        client.bulk_upsert(ENTITY, [{"PersonId": int(person), FIELD: value}])

    def poll() -> dict[str, Any] | None:
        return _run_for(url, person, edited) if _stored(env, person, edited) else None

    what = f"a hook-triggered run for {ENTITY} {person}"
    run = wait_for(what, poll, alive, HOOK_WAIT, 1.0)
    seconds = (datetime.now(UTC) - edited).total_seconds()
    return (
        f"WebCRM edit -> hook stored -> run {run['runId'][:8]} ({TRIGGER_TAG}={SENSOR}) "
        f"SUCCESS within {seconds:.0f} s"
    )


def _ticked(url: str) -> bool | None:
    """True once the sensor's latest tick finished; CheckFailedError when it failed."""
    selector = {**REPOSITORY, "sensorName": SENSOR}
    sensor = graphql(url, SENSOR_TICKS, selector=selector)["sensorOrError"]
    ticks = (sensor.get("sensorState") or {}).get("ticks") or []
    if ticks and ticks[0]["status"] == "FAILURE":
        raise CheckFailedError(f"{SENSOR} tick failed: {(ticks[0]['error'] or {}).get('message')}")
    return True if ticks and ticks[0]["status"] != "STARTED" else None


def _linked_person(env: Mapping[str, str]) -> str:
    """The smallest WebCRM id of an active link of the pair syncing Persons."""
    pairs = configured_field_map(env).pairs.values()
    pair = next(p.name for p in pairs if p.webcrm_entity == ENTITY)
    with LinkStore(env["SYNC_STATE_URL"]) as store:
        linked = store.linked_webcrm_ids(pair, "active")
    if not linked:
        raise CheckFailedError(f"no linked {ENTITY} to edit after the backfill")
    return min(linked, key=int)


def _stored(env: Mapping[str, str], person: str, edited: datetime) -> bool:
    """Whether the receiver stored an event of `person` since `edited`."""
    with LinkStore(env["SYNC_STATE_URL"]) as store:
        events, _ = store.events_after(0, limit=10_000)
    return any(
        e.entity == ENTITY and e.record_id == person and e.received_at >= edited for e in events
    )


def _run_for(url: str, person: str, edited: datetime) -> dict[str, Any] | None:
    """The sensor's succeeded run created since `edited` naming `person`; CheckFailedError when
    such a run failed."""
    tag = {"key": TRIGGER_TAG, "value": SENSOR}
    filter_ = {"tags": [tag], "createdAfter": edited.timestamp()}
    runs = graphql(url, RUNS, filter=filter_)["runsOrError"].get("results", [])
    for run in runs:
        tags = {t["key"]: t["value"] for t in run["tags"]}
        named = json.loads(tags.get(IDS_TAG, "{}"))
        if not any(person in sides.get("webcrm", []) for sides in named.values()):
            continue
        if run["status"] in ("FAILURE", "CANCELED"):
            raise CheckFailedError(f"hook-triggered run {run['runId'][:8]} ended {run['status']}")
        if run["status"] == "SUCCESS":
            return dict(run)
    return None
