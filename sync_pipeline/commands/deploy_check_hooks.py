"""The hooks part of `deploy-local --check`: a WebCRM edit reaches a run through its hook.

After the scheduled run and the backfill, the check turns `webcrm_changes` on (hooks mode:
`processes.start_hooks` set `SYNC_WEBCRM_HOOKS=on`, and the check's safety probe interval,
`SYNC_HOOKS_SAFETY_SECONDS=3600`, is far beyond the wait), waits until it is idle (its first
tick, which pins its cursors and probes once, is done; no run is in flight, since a run that
reads the entity would sync the edit itself; a later tick skipped), edits a mapped field of a
linked WebCRM record through the sandbox's API (`EditTarget`: the field map's first pair with a
field, persons by default), and waits up to `HOOK_WAIT` seconds until the receiver stored the
hook event and a run the sensor requested for that record (`sync/trigger=webcrm_changes`, the
id in `sync/ids`) succeeded. Within that time no probe of the entity runs, so the run came from
the hook. Dagster GraphQL:
https://docs.dagster.io/api/graphql.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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

HOOK_WAIT = 60.0  # seconds, for the sensor to be idle and again for the hook's run
SENSOR = SENSORS[0]  # webcrm_changes


@dataclass(frozen=True)
class EditTarget:
    """What the check edits, from the field map: the first pair with a mapped field, its WebCRM
    entity, that entity's id property and the field's WebCRM property."""

    pair: str
    entity: str
    id_prop: str
    field_prop: str

    @classmethod
    def of(cls, env: Mapping[str, str]) -> EditTarget:
        """The target in the field map `env` configures; CheckFailedError when no pair maps a
        field."""
        field_map = configured_field_map(env)
        pair = next((p for p in field_map.pairs.values() if p.fields), None)
        if pair is None:
            raise CheckFailedError("no pair maps a field: nothing to edit for the hooks check")
        entity = pair.webcrm_entity
        spec = field_map.entities["webcrm"][entity]
        return cls(pair.name, entity, spec.id, pair.fields[0].prop("webcrm"))


IN_FLIGHT = ["QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"]
SENSOR_TICKS = """
query($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    ... on Sensor { sensorState { ticks(limit: 1) { status timestamp error { message } } } }
  }
}"""


def hook_triggered_run(url: str, alive: Callable[[], str | None], env: Mapping[str, str]) -> str:
    """Edit a linked person once `webcrm_changes` has ticked; the summary of the run its hook
    triggered (CheckFailedError with one line when none succeeds in `HOOK_WAIT` s)."""
    start_sensors(url, (SENSOR,))
    _wait_until_idle(url, alive)
    target = EditTarget.of(env)
    person = _linked_record(env, target)
    value = f"Hook{secrets.randbelow(10**6)}"
    edited = datetime.now(UTC)
    with open_webcrm(env) as client:
        client.bulk_upsert(target.entity, [{target.id_prop: int(person), target.field_prop: value}])
    stored: list[bool] = []

    def poll() -> dict[str, Any] | None:
        if not stored and _stored(env, target, person, edited):
            stored.append(True)
        return _run_for(url, person, edited) if stored else None

    try:
        what = f"a hook-triggered run for {target.entity} {person}"
        run = wait_for(what, poll, alive, HOOK_WAIT, 1.0)
    except CheckFailedError:
        if not stored:
            what = f"the receiver stored no hook event for {target.entity} {person}"
            raise CheckFailedError(f"{what} in {HOOK_WAIT:.0f} s") from None
        raise
    seconds = (datetime.now(UTC) - edited).total_seconds()
    return (
        f"WebCRM edit -> hook stored -> run {run['runId'][:8]} ({TRIGGER_TAG}={SENSOR}) "
        f"SUCCESS within {seconds:.0f} s"
    )


def _wait_until_idle(url: str, alive: Callable[[], str | None]) -> None:
    """Until a tick begun while no run was in flight has skipped, and still none is."""
    quiet_since: list[float] = []

    def idle() -> bool | None:
        if _runs_in_flight(url):
            quiet_since.clear()
            return None
        if not quiet_since:
            quiet_since.append(time.time())
        tick = _latest_tick(url)
        if tick is None or tick["timestamp"] < quiet_since[0] or tick["status"] != "SKIPPED":
            return None
        return None if _runs_in_flight(url) else True

    wait_for(f"{SENSOR} to be idle", idle, alive, HOOK_WAIT, 1.0)


def _latest_tick(url: str) -> dict[str, Any] | None:
    """The sensor's latest tick (`status`, `timestamp`: epoch s); CheckFailedError when it
    failed."""
    selector = {**REPOSITORY, "sensorName": SENSOR}
    sensor = graphql(url, SENSOR_TICKS, selector=selector)["sensorOrError"]
    ticks = (sensor.get("sensorState") or {}).get("ticks") or []
    if ticks and ticks[0]["status"] == "FAILURE":
        raise CheckFailedError(f"{SENSOR} tick failed: {(ticks[0]['error'] or {}).get('message')}")
    return dict(ticks[0]) if ticks else None


def _runs_in_flight(url: str) -> bool:
    """Whether any run is queued or running."""
    data = graphql(url, RUNS, filter={"statuses": IN_FLIGHT})
    return bool(data["runsOrError"].get("results"))


def _linked_record(env: Mapping[str, str], target: EditTarget) -> str:
    """The smallest WebCRM id of an active link of the target's pair."""
    with LinkStore(env["SYNC_STATE_URL"]) as store:
        linked = store.linked_webcrm_ids(target.pair, "active")
    if not linked:
        raise CheckFailedError(f"no linked {target.entity} to edit after the backfill")
    return min(linked, key=int)


def _stored(env: Mapping[str, str], target: EditTarget, record: str, edited: datetime) -> bool:
    """Whether the receiver stored an event of `record` since `edited`."""
    with LinkStore(env["SYNC_STATE_URL"]) as store:
        events, _ = store.events_after(0, limit=10_000)
    return any(
        e.entity == target.entity and e.record_id == record and e.received_at >= edited
        for e in events
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
