"""Configuration from the environment, defaulting to the sandbox (DESIGN.md section 4).

`definitions.py` and the commands read connection settings through here; everything below them
takes plain values.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

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
