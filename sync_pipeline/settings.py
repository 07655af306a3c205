"""Configuration from the environment, defaulting to the sandbox (DESIGN.md section 4).

`definitions.py` and the commands read connection settings through here; everything below them
takes plain values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from sync_pipeline.core import FieldMap, Side, Systems, load_field_map
from sync_pipeline.core.create_rules import PLACEHOLDER
from sync_pipeline.core.systems import packaged_systems

SANDBOX_DEFAULTS: dict[str, str] = {
    "WEBCRM_BASE_URL": "http://127.0.0.1:8701",
    "WEBCRM_API_TOKEN": "sandbox-webcrm-token",
    "CRMOFFICE_BASE_URL": "http://127.0.0.1:8702",
    "CRMOFFICE_CLIENT_ID": "sandbox-client",
    "CRMOFFICE_CLIENT_SECRET": "sandbox-secret",
}


def connection(env: Mapping[str, str]) -> dict[str, str]:
    """Plain connection values (for commands that run outside Dagster): env, else sandbox."""
    return {name: env.get(name) or default for name, default in SANDBOX_DEFAULTS.items()}


def state_folder(env: Mapping[str, str], cwd: Path) -> Path:
    """`$DAGSTER_HOME`, else `.sync_state/` in the working directory (created on first write)."""
    home = env.get("DAGSTER_HOME")
    return Path(home) if home else cwd / ".sync_state"


def state_url_from(env: Mapping[str, str], cwd: Path) -> str:
    """`SYNC_STATE_URL`, else a SQLite file in the state folder."""
    if env.get("SYNC_STATE_URL"):
        return env["SYNC_STATE_URL"]
    return f"sqlite:///{state_folder(env, cwd).resolve() / 'sync_state.sqlite'}"


def io_url_from(env: Mapping[str, str], cwd: Path) -> str:
    """Where asset values live between a run's steps: `SYNC_IO_URL` (a path or a URL such as
    `s3://bucket/sync-values`, readable by every machine of a deployment), else the `values`
    folder of the state folder."""
    if env.get("SYNC_IO_URL", "").strip():
        return env["SYNC_IO_URL"].strip()
    return str(state_folder(env, cwd) / "values")


INCREMENTAL_CRON = "*/15 * * * *"


def incremental_cron(env: Mapping[str, str]) -> str:
    """The incremental schedule's cron: `SYNC_INCREMENTAL_CRON`, else every 15 minutes."""
    return env.get("SYNC_INCREMENTAL_CRON", "").strip() or INCREMENTAL_CRON


class SettingsError(ValueError):
    """An environment variable holds a value the product cannot use (one line naming it)."""


def rate_limits(env: Mapping[str, str], systems: Systems | None = None) -> dict[Side, int]:
    """Requests per minute in force per system: `{"webcrm": 250, "crmoffice": 600}`.

    The variable `systems.yaml` names for a system (`WEBCRM_RATE_LIMIT_PER_MIN`,
    `CRMOFFICE_RATE_LIMIT_PER_MIN`) overrides the declared limit when set and non-empty; it must
    be a positive integer, else `SettingsError` names the variable and the value.
    """
    systems = packaged_systems() if systems is None else systems
    limits: dict[Side, int] = {}
    for side in ("webcrm", "crmoffice"):
        limit = systems[side].rate_limit
        raw = env.get(limit.env, "").strip()
        if not raw:
            limits[side] = limit.per_minute
            continue
        if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
            raise SettingsError(
                f"{limit.env}={raw!r}: expected a positive whole number of requests per minute"
            )
        limits[side] = int(raw)
    return limits


def configured_field_map(env: Mapping[str, str]) -> FieldMap:
    """The field map in force: the file `SYNC_FIELD_MAP` names (with a `systems.yaml` beside it,
    if any), else the package's `fieldmap.yaml`, with its create defaults' `${NAME}`s filled
    from `env` (see `resolve_create_defaults`). Raises `FieldMapError` (one line)."""
    path = env.get("SYNC_FIELD_MAP", "").strip()
    return resolve_create_defaults(load_field_map(Path(path) if path else None), env)


def resolve_create_defaults(field_map: FieldMap, env: Mapping[str, str]) -> FieldMap:
    """`field_map` with every `${NAME}` in the pairs' `create_defaults` replaced by the variable
    (e.g. `WEBCRM_DEFAULT_ORGANISATION_ID`). An unset or empty variable is left as written, so
    the plan holds the creates that need it with a reason naming it (core.create_holds)."""

    def value(text: str) -> str:
        return PLACEHOLDER.sub(lambda m: env.get(m.group(1), "").strip() or m.group(0), text)

    pairs = {
        name: replace(
            pair,
            create_defaults={
                d: {prop: value(v) for prop, v in defaults.items()}
                for d, defaults in pair.create_defaults.items()
            },
        )
        for name, pair in field_map.pairs.items()
    }
    return replace(field_map, pairs=pairs)


# Near-real-time polling (issue 12): seconds between change probes, and the share of each API's
# rate limit the probes may use (the interval grows until they fit).
POLL_SECONDS, PROBE_BUDGET_SHARE = 5.0, 0.10


def poll_settings(env: Mapping[str, str]) -> tuple[float, float]:
    """`(poll_seconds, budget_share)`: `SYNC_POLL_SECONDS` (a positive number, default 5) and
    `SYNC_PROBE_BUDGET_SHARE` (a fraction in (0, 1], default 0.10); `SettingsError` otherwise."""
    values = []
    for name, default, top in (
        ("SYNC_POLL_SECONDS", POLL_SECONDS, float("inf")),
        ("SYNC_PROBE_BUDGET_SHARE", PROBE_BUDGET_SHARE, 1.0),
    ):
        raw = env.get(name, "").strip()
        try:
            value = float(raw) if raw else default
        except ValueError:
            value = -1.0
        if not 0 < value <= top:
            raise SettingsError(f"{name}={raw!r}: expected a number in (0, {top}]")
        values.append(value)
    return values[0], values[1]


# `SYNC_SENSORS=running` starts the change sensors with the code location (`make dev` sets it);
# otherwise they start stopped and are turned on in the UI or through GraphQL (`make prod`).
SENSORS_ENV = "SYNC_SENSORS"


def sensors_running(env: Mapping[str, str]) -> bool:
    """Whether the change sensors' default status is RUNNING (`SYNC_SENSORS=running`)."""
    return env.get(SENSORS_ENV, "").strip().lower() == "running"


# Hooks mode of the WebCRM sensor (issue 12): `SYNC_WEBCRM_HOOKS=on` makes `webcrm_changes` read
# the hook events `sync-pipeline hooks serve` stored instead of probing each entity every tick,
# with one safety probe per entity every `SYNC_HOOKS_SAFETY_SECONDS` (default 300).
HOOKS_ENV, HOOKS_SAFETY_ENV = "SYNC_WEBCRM_HOOKS", "SYNC_HOOKS_SAFETY_SECONDS"
HOOKS_SAFETY_SECONDS = 300.0


def webcrm_hooks(env: Mapping[str, str]) -> float | None:
    """The safety probe interval in seconds when `SYNC_WEBCRM_HOOKS=on`, None when off (unset,
    `off`); `SettingsError` for any other value, or a `SYNC_HOOKS_SAFETY_SECONDS` that is not
    a positive number."""
    mode = env.get(HOOKS_ENV, "").strip().lower()
    if mode not in ("", "on", "off"):
        raise SettingsError(f"{HOOKS_ENV}={mode!r}: expected on or off")
    raw = env.get(HOOKS_SAFETY_ENV, "").strip()
    try:
        seconds = float(raw) if raw else HOOKS_SAFETY_SECONDS
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise SettingsError(f"{HOOKS_SAFETY_ENV}={raw!r}: expected a positive number of seconds")
    return seconds if mode == "on" else None
