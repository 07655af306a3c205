"""The pipeline run in this process against a hosted sandbox, with a persistent Dagster home.

Like `sync_pipeline_tests/pipeline/conftest.Pipeline`, but with the sandbox's own credentials,
a configurable client timeout (so stalls cost seconds, not minutes) and an instance on disk whose
event log the secrets scan reads afterwards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg

from sync_pipeline.commands.sync import execute_sync
from sync_pipeline.commands.sync_report import failure_line
from sync_pipeline.core import load_field_map
from sync_pipeline.dagster_defs.resources import (
    CrmofficeResource,
    LinkStoreResource,
    SyncPolicy,
    WebcrmResource,
)
from sync_pipeline.definitions import build_definitions, value_managers
from sync_pipeline.settings import resolve_create_defaults
from sync_pipeline.store import LinkStore
from sync_pipeline_tests.reliability.sandbox_host import UNLIMITED, HostedSandbox

PAIRS = ("persons_contacts", "users_contacts", "products_companies")


def dagster_home(folder: Path) -> Path:
    """A Dagster home under `folder`, telemetry off (created if missing)."""
    home = folder / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return home


class InProcessPipeline:
    """Every pair wired to one hosted sandbox and one SQLite store file."""

    def __init__(
        self,
        sandbox: HostedSandbox,
        folder: Path,
        *,
        timeout_seconds: float = 30.0,
        rate_limit: int = UNLIMITED,
        state_url: str | None = None,
        **policy: Any,
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.sandbox = sandbox
        self.folder = folder
        self.field_map = resolve_create_defaults(load_field_map(), sandbox.env())
        self.state_url = state_url or f"sqlite:///{folder / 'sync_state.sqlite'}"
        resources = self._resources(timeout_seconds, rate_limit, policy)
        self.defs = build_definitions(self.field_map, resources)
        self.instance = dg.DagsterInstance.local_temp(tempdir=str(dagster_home(folder)))

    def _resources(
        self, timeout_seconds: float, rate_limit: int, policy: dict[str, Any]
    ) -> dict[str, object]:
        creds = self.sandbox.credentials
        return {
            "webcrm": WebcrmResource(
                base_url=self.sandbox.webcrm_url,
                api_token=creds.webcrm_token,
                rate_limit_per_minute=rate_limit,
                timeout_seconds=timeout_seconds,
            ),
            "crmoffice": CrmofficeResource(
                base_url=self.sandbox.crmoffice_url,
                client_id=creds.client_id,
                client_secret=creds.client_secret,
                rate_limit_per_minute=rate_limit,
                timeout_seconds=timeout_seconds,
            ),
            "link_store": LinkStoreResource(url=self.state_url),
            "sync_policy": SyncPolicy(**policy),
            **value_managers(str(self.folder / "values")),
        }

    def sync(self, *pairs: str, full: bool = False) -> dg.ExecuteInProcessResult:
        """One run of the selected pairs (all by default); may fail."""
        return execute_sync(
            self.defs, self.field_map, self.instance, list(pairs or PAIRS), full=full
        )

    def planned_nothing(self, result: dg.ExecuteInProcessResult) -> bool:
        """True when the run succeeded and every pair's plan was empty (a quiet run)."""
        if not result.success:
            return False
        plans = [result.asset_value(dg.AssetKey([pair, "plan_links"])).plan for pair in PAIRS]
        return all(plan.is_empty for plan in plans)

    def why(self, result: dg.ExecuteInProcessResult) -> str:
        """The run's one-line failure reason ("" when it succeeded)."""
        return "" if result.success else failure_line(result)

    def store(self) -> LinkStore:
        """A fresh handle on the link store file."""
        return LinkStore(self.state_url)

    def close(self) -> None:
        """Release the instance and the resources' stores."""
        self.instance.dispose()
