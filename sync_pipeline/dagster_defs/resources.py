"""Dagster resources: thin, configurable wrappers that build the clients and open the store."""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from sync_pipeline.clients import CrmofficeClient, Timeouts, WebcrmClient
from sync_pipeline.store import LinkStore


class WebcrmResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """WebCRM REST API; the token comes from `WEBCRM_API_TOKEN`."""

    base_url: str
    api_token: str
    rate_limit_per_minute: int = 250
    timeout_seconds: float = 30.0

    _client: Any = PrivateAttr(default=None)

    def client(self) -> WebcrmClient:
        """One client per run, so the rate limiter and the token are shared by every step."""
        if self._client is None:
            self._client = WebcrmClient(
                self.base_url,
                self.api_token,
                rate_limit_per_minute=self.rate_limit_per_minute,
                timeout=Timeouts(read=self.timeout_seconds),
            )
        return self._client  # type: ignore[no-any-return]


class CrmofficeResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """CRMOffice REST API (client credentials from `CRMOFFICE_CLIENT_ID`/`_SECRET`)."""

    base_url: str
    client_id: str
    client_secret: str
    rate_limit_per_minute: int = 600
    max_concurrency: int = 8
    timeout_seconds: float = 30.0

    _client: Any = PrivateAttr(default=None)

    def client(self) -> CrmofficeClient:
        """One client per run (shared limiter, token and connection pool)."""
        if self._client is None:
            self._client = CrmofficeClient(
                self.base_url,
                self.client_id,
                self.client_secret,
                rate_limit_per_minute=self.rate_limit_per_minute,
                max_concurrency=self.max_concurrency,
                timeout=Timeouts(read=self.timeout_seconds),
            )
        return self._client  # type: ignore[no-any-return]


class LinkStoreResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The link store: `SYNC_STATE_URL`, else SQLite under `$DAGSTER_HOME` or `.sync_state/`."""

    url: str

    _store: Any = PrivateAttr(default=None)

    def store(self) -> LinkStore:
        """Opened once per run."""
        if self._store is None:
            self._store = LinkStore(self.url)
        return self._store  # type: ignore[no-any-return]


class SyncPolicy(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The knobs a data engineer tunes (DESIGN.md section 2)."""

    max_bad_share: float = 0.10
    max_update_share: float = 0.20
    min_updates_for_breaker: int = 25
    overlap_seconds: int = 120
    max_failure_attempts: int = 5
