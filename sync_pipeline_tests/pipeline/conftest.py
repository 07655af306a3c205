"""A sandbox on ephemeral ports, a real link store, and Dagster runs against them.

The store is a SQLite file; a test marked `BOTH_BACKENDS` also runs against a database of the
session's PostgreSQL server (ids `sqlite`, `postgresql`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from sync_pipeline.commands.sync import execute_sync
from sync_pipeline.core import FieldMap, load_field_map
from sync_pipeline.dagster_defs.resources import (
    CrmofficeResource,
    LinkStoreResource,
    SyncPolicy,
    WebcrmResource,
)
from sync_pipeline.definitions import build_definitions, value_managers
from sync_pipeline.sandbox.server import RunningSandbox, SandboxSettings, running_sandbox
from sync_pipeline.settings import resolve_create_defaults
from sync_pipeline.store import LinkStore
from sync_pipeline_tests.pipeline.helpers import DEFAULT_ORGANISATION_ID

PAIRS = ("persons_contacts", "users_contacts", "products_companies")
UNLIMITED = 1_000_000


# Runs a test once per store backend: `@BOTH_BACKENDS` on a test taking `pipeline` (or
# `state_url`).
BOTH_BACKENDS = pytest.mark.parametrize(
    "state_url", ["sqlite", "postgresql"], indirect=True, ids=["sqlite", "postgresql"]
)


class Pipeline:
    """The whole pipeline wired to one sandbox and one store, run like the CLI runs it.

    The store is `state_url`, by default a SQLite file in `folder`.
    """

    def __init__(
        self,
        sandbox: RunningSandbox,
        folder: Path,
        field_map: FieldMap | None = None,
        *,
        client_timeout: float = 30.0,
        crmoffice_concurrency: int = 8,
        state_url: str | None = None,
        **policy: Any,
    ) -> None:
        # These tests edit 1 of a handful of links: far over any mass-change share. The
        # breaker has tests of its own (test_guards.py).
        policy.setdefault("max_update_share", 1.0)
        self.sandbox = sandbox
        # A faulty sandbox draws its faults in request order: one write at a time keeps it seeded.
        self.client_timeout, self.crmoffice_concurrency = client_timeout, crmoffice_concurrency
        self.folder, self.policy = folder, policy
        self.state_url = state_url or f"sqlite:///{folder / 'sync_state.sqlite'}"
        self.use_field_map(field_map or load_field_map())
        self.instance = dg.DagsterInstance.ephemeral()

    def use_field_map(self, field_map: FieldMap, env: Mapping[str, str] | None = None) -> None:
        """Deploy another field map over the same systems and store (as a redeploy would);
        `${VAR}`s in create_defaults come from `env`, by default one where
        `WEBCRM_DEFAULT_ORGANISATION_ID` names the sandbox's default organisation."""
        if env is None:
            env = {"WEBCRM_DEFAULT_ORGANISATION_ID": str(DEFAULT_ORGANISATION_ID)}
        field_map = resolve_create_defaults(field_map, env)
        self.field_map = field_map
        self.defs = build_definitions(field_map, self._resources(self.folder, self.policy))

    def _resources(self, folder: Path, policy: dict[str, Any]) -> dict[str, object]:
        return {
            "webcrm": WebcrmResource(
                base_url=self.sandbox.webcrm_url,
                api_token="sandbox-webcrm-token",
                rate_limit_per_minute=UNLIMITED,
                timeout_seconds=self.client_timeout,
            ),
            "crmoffice": CrmofficeResource(
                base_url=self.sandbox.crmoffice_url,
                client_id="sandbox-client",
                client_secret="sandbox-secret",
                rate_limit_per_minute=UNLIMITED,
                max_concurrency=self.crmoffice_concurrency,
                timeout_seconds=self.client_timeout,
            ),
            "link_store": LinkStoreResource(url=self.state_url),
            "sync_policy": SyncPolicy(**policy),
            **value_managers(str(folder / "values")),
        }

    def sync(
        self,
        *pairs: str,
        full: bool = False,
        dry_run: bool = False,
        since: date | None = None,
        until: date | None = None,
        expect_success: bool = True,
    ) -> dg.ExecuteInProcessResult:
        """One run; by default it must succeed."""
        result = execute_sync(
            self.defs,
            self.field_map,
            self.instance,
            list(pairs or PAIRS),
            full=full,
            dry_run=dry_run,
            since=since,
            until=until,
        )
        if expect_success and not result.success:
            from sync_pipeline.commands.sync_report import failure_line

            raise AssertionError(f"sync failed: {failure_line(result)}")
        return result

    def store(self) -> LinkStore:
        """A fresh handle on the link store."""
        return LinkStore(self.state_url)

    def writes(self) -> dict[str, int]:
        """Writes each sandbox has applied so far (API writes only, not test edits)."""
        stats = self.sandbox.stats()
        return {system: stats[system]["writes"] for system in ("webcrm", "crmoffice")}


def empty_sandbox(zone: str = "Europe/London", **options: Any) -> SandboxSettings:
    """Both CRMs empty, on ephemeral ports, limits out of the way, WebCRM rendering `zone`;
    `options`: further `SandboxSettings` (faults, realism options)."""
    return SandboxSettings(
        webcrm_port=0,
        crmoffice_port=0,
        seed=None,
        empty=True,
        webcrm_rate_limit=UNLIMITED,
        crmoffice_rate_limit=UNLIMITED,
        webcrm_timezone=zone,
        **options,
    )


def with_default_organisation(running: RunningSandbox) -> RunningSandbox:
    """The sandbox with the organisation persons created from contacts belong to (its id is
    `DEFAULT_ORGANISATION_ID`, the first WebCRM organisation id)."""
    made = running.webcrm.insert("Organisations", {"OrganisationName": "Standard A/S"})
    assert made == DEFAULT_ORGANISATION_ID
    return running


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    """Both emulated CRMs, empty but for WebCRM's default organisation, on ephemeral ports."""
    with running_sandbox(empty_sandbox()) as running:
        yield with_default_organisation(running)


@pytest.fixture
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh link store's URL: a SQLite file, or with `BOTH_BACKENDS` also a new database
    on the session's PostgreSQL server (`pg_url`)."""
    if getattr(request, "param", "sqlite") == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite:///{tmp_path / 'sync_state.sqlite'}"


@pytest.fixture
def pipeline(sandbox: RunningSandbox, tmp_path: Path, state_url: str) -> Pipeline:
    """The pipeline against the sandbox, with a fresh link store."""
    return Pipeline(sandbox, tmp_path, state_url=state_url)
