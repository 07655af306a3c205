"""Configuration from the environment, defaulting to the sandbox (DESIGN.md section 4).

This is the one module that reads connection settings from `os.environ`; everything below it
takes plain values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SANDBOX_DEFAULTS: dict[str, str] = {
    "WEBCRM_BASE_URL": "http://127.0.0.1:8701",
    "WEBCRM_API_TOKEN": "sandbox-webcrm-token",
    "CRMOFFICE_BASE_URL": "http://127.0.0.1:8702",
    "CRMOFFICE_CLIENT_ID": "sandbox-client",
    "CRMOFFICE_CLIENT_SECRET": "sandbox-secret",
}
SECRET_VARIABLES = ("WEBCRM_API_TOKEN", "CRMOFFICE_CLIENT_SECRET")


@dataclass(frozen=True)
class Settings:
    """Where the two CRMs and the link store are."""

    webcrm_base_url: str
    webcrm_api_token: str
    crmoffice_base_url: str
    crmoffice_client_id: str
    crmoffice_client_secret: str
    state_url: str

    def __repr__(self) -> str:
        """Never show secrets, not even in a traceback."""
        return (
            f"Settings(webcrm_base_url={self.webcrm_base_url!r}, "
            f"crmoffice_base_url={self.crmoffice_base_url!r}, state_url={self.state_url!r})"
        )


def state_folder(env: Mapping[str, str], cwd: Path) -> Path:
    """`$DAGSTER_HOME`, else `.sync_state/` in the working directory (created if missing)."""
    home = env.get("DAGSTER_HOME")
    folder = Path(home) if home else cwd / ".sync_state"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def state_url_from(env: Mapping[str, str], cwd: Path) -> str:
    """`SYNC_STATE_URL`, else a SQLite file in the state folder."""
    if env.get("SYNC_STATE_URL"):
        return env["SYNC_STATE_URL"]
    return f"sqlite:///{state_folder(env, cwd) / 'sync_state.sqlite'}"


def load_settings(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
    """Read the settings from `env` (default: the process environment)."""
    env = os.environ if env is None else env
    value = {key: env.get(key) or default for key, default in SANDBOX_DEFAULTS.items()}
    return Settings(
        webcrm_base_url=value["WEBCRM_BASE_URL"],
        webcrm_api_token=value["WEBCRM_API_TOKEN"],
        crmoffice_base_url=value["CRMOFFICE_BASE_URL"],
        crmoffice_client_id=value["CRMOFFICE_CLIENT_ID"],
        crmoffice_client_secret=value["CRMOFFICE_CLIENT_SECRET"],
        state_url=state_url_from(env, cwd or Path.cwd()),
    )
