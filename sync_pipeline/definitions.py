"""The Dagster code location: every asset, check, job, schedule and resource, wired here."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from sync_pipeline import sync
from sync_pipeline.core import SIDES, FieldMap
from sync_pipeline.dagster_defs.extract_assets import extract_assets
from sync_pipeline.dagster_defs.io_manager import RunValuesIOManager, SameRunInputManager
from sync_pipeline.dagster_defs.jobs import sync_jobs, sync_schedules
from sync_pipeline.dagster_defs.pair_assets import SHARED_PLANS, pair_assets
from sync_pipeline.dagster_defs.resources import (
    CrmofficeResource,
    LinkStoreResource,
    SyncPolicy,
    WebcrmResource,
)
from sync_pipeline.dagster_defs.sensors import change_sensor
from sync_pipeline.dagster_defs.targeted_assets import targeted_job
from sync_pipeline.deployment import token_tags
from sync_pipeline.settings import (
    SANDBOX_DEFAULTS,
    configured_field_map,
    incremental_cron,
    io_url_from,
    poll_settings,
    rate_limits,
    sensors_running,
    state_url_from,
    webcrm_hooks,
)


def _env(name: str) -> str | dg.EnvVar:
    """An `EnvVar` when set (Dagster then never shows the value), else the sandbox default."""
    return dg.EnvVar(name) if os.environ.get(name) else SANDBOX_DEFAULTS[name]


def build_resources() -> dict[str, object]:
    """Clients, store and IO manager configured from the environment."""
    limits = rate_limits(os.environ)  # systems.yaml, or *_RATE_LIMIT_PER_MIN when set
    # The store (which also holds the shared rate budgets); from `SYNC_STATE_URL` as an
    # `EnvVar` when set, so the UI never shows the URL's password.
    state_url: str | dg.EnvVar = state_url_from(os.environ, Path.cwd())
    if os.environ.get("SYNC_STATE_URL"):
        state_url = dg.EnvVar("SYNC_STATE_URL")
    return {
        "webcrm": WebcrmResource(
            base_url=_env("WEBCRM_BASE_URL"),
            api_token=_env("WEBCRM_API_TOKEN"),
            rate_limit_per_minute=limits["webcrm"],
            rate_budget_url=state_url,
        ),
        "crmoffice": CrmofficeResource(
            base_url=_env("CRMOFFICE_BASE_URL"),
            client_id=_env("CRMOFFICE_CLIENT_ID"),
            client_secret=_env("CRMOFFICE_CLIENT_SECRET"),
            rate_limit_per_minute=limits["crmoffice"],
            rate_budget_url=state_url,
        ),
        "link_store": LinkStoreResource(url=state_url),
        "sync_policy": SyncPolicy(),
        **value_managers(io_url_from(os.environ, Path.cwd())),
    }


def value_managers(base_dir: str) -> dict[str, object]:
    """Where asset values live between the steps of a run (one folder per run): a local path
    or a URL every machine of the deployment reads (`SYNC_IO_URL`)."""
    return {
        "io_manager": RunValuesIOManager(base_dir=base_dir),
        SHARED_PLANS: SameRunInputManager(base_dir=base_dir),
    }


def build_definitions(
    field_map: FieldMap, resources: dict[str, object] | None = None
) -> dg.Definitions:
    """All pairs of the field map, each in its own asset group. Runs of the jobs and schedules
    are tagged with the credentials' keys (the run queue's per-token limit)."""
    tags = token_tags(os.environ)
    assets = extract_assets(field_map)
    for pair in field_map.pairs.values():
        assets += pair_assets(pair, field_map)
    jobs = [*sync_jobs(field_map, tags), targeted_job(field_map, tags)]
    return dg.Definitions(
        assets=assets,
        jobs=jobs,
        schedules=sync_schedules(tags, incremental_cron(os.environ)),
        sensors=change_sensors(field_map, jobs, tags),
        resources=build_resources() if resources is None else resources,
        executor=dg.in_process_executor,
    )


def change_sensors(
    field_map: FieldMap,
    jobs: list[dg.UnresolvedAssetJobDefinition],
    tags: dict[str, str],
) -> list[dg.SensorDefinition]:
    """`webcrm_changes` and `crmoffice_changes`, each ticking at `SYNC_POLL_SECONDS` or slower,
    so one probe per entity stays within `SYNC_PROBE_BUDGET_SHARE` of the system's limit; with
    `SYNC_WEBCRM_HOOKS=on`, `webcrm_changes` in hooks mode at `SYNC_POLL_SECONDS`."""
    poll_seconds, share = poll_settings(os.environ)
    limits = rate_limits(os.environ)
    targets = [job for job in jobs if job.name in ("targeted_sync", "incremental_sync")]
    sensors = []
    hooks = webcrm_hooks(os.environ)
    for system in SIDES:
        safety = hooks if system == "webcrm" else None
        # Hooks mode probes each entity once per `safety` s only: the tick need not slow down.
        entities = 0 if safety else len(sync.synced_entities(field_map, system))
        interval = sync.probe_interval_seconds(entities, limits[system], share, poll_seconds)
        sensors.append(
            change_sensor(
                field_map,
                system,
                interval,
                targets,
                tags,
                running=sensors_running(os.environ),
                hooks_safety_seconds=safety,
            )
        )
    return sensors


field_map = configured_field_map(os.environ)
defs = build_definitions(field_map)
