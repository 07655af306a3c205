"""Dagster resources: typed ports with a lifecycle (made when a run starts, closed when it ends).

Each run gets one client per system, so the rate limiter, the token and the connection pool are
shared by every step of the run, and one store handle. With `rate_budget_url` (the store's URL,
as `build_resources` sets it) a client's limiter draws on the store's shared budget for its token
(`store.RateBudget`), so concurrent runs on one token together stay under the limit; without it
the limiter is the client's own (per process). Secrets arrive as `dg.EnvVar`s (see
`definitions.py`), so Dagster never shows their values.
"""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
from pydantic import PrivateAttr

from sync_pipeline.clients import (
    CrmofficeClient,
    RateLimiter,
    SlidingWindowLimiter,
    Timeouts,
    WebcrmClient,
)
from sync_pipeline.core.systems import packaged_systems
from sync_pipeline.store import LinkStore, RateBudget, budget_key

# Clients of the change sensors, kept across ticks in the daemon's process (one login and one
# rate limiter per configuration, not one per tick); keyed by the resource's configuration.
_PROBE_CLIENTS: dict[tuple[object, ...], WebcrmClient | CrmofficeClient] = {}

# `type: ignore[type-arg]` below: Dagster's ConfigurableResource is generic over the value a
# resource yields (the resource itself); Dagster's docs subclass it bare, as here.


def open_limiter(
    budget_url: str | None, key_parts: tuple[str, str], limit: int, window_seconds: float
) -> tuple[RateLimiter, RateBudget | None]:
    """The limiter for one client: the shared budget `key_parts` = (system, secret) names in
    the store at `budget_url`, or a per-process one without a URL; and the budget to close."""
    if budget_url is None:
        return SlidingWindowLimiter(limit, window_seconds), None
    budget = RateBudget(budget_url)
    limiter = budget.limiter(budget_key(*key_parts), limit, window_seconds=window_seconds)
    return limiter, budget


class WebcrmResource(dg.ConfigurableResource):  # type: ignore[type-arg]  # see above
    """WebCRM REST API; the token comes from `WEBCRM_API_TOKEN`."""

    base_url: str
    api_token: str
    rate_limit_per_minute: int = packaged_systems().webcrm.rate_limit.per_minute
    timeout_seconds: float = 30.0
    rate_budget_url: str | None = None
    rate_window_seconds: float = 60.0  # the limit's window (60: per minute; benches shorten it)

    _client: WebcrmClient | None = PrivateAttr(default=None)
    _budget: RateBudget | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """One client per run: its rate limiter and token are shared by every step."""
        limiter, self._budget = open_limiter(
            self.rate_budget_url,
            ("webcrm", self.api_token),
            self.rate_limit_per_minute,
            self.rate_window_seconds,
        )
        self._client = WebcrmClient(
            self.base_url,
            self.api_token,
            limiter=limiter,
            timeout=Timeouts(read=self.timeout_seconds),
        )

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """Close the connection pool and the budget's connections."""
        if self._client is not None:
            self._client.close()
        if self._budget is not None:
            self._budget.close()

    def client(self) -> WebcrmClient:
        """The run's client (RuntimeError outside a run)."""
        if self._client is None:
            raise RuntimeError("WebcrmResource is used outside a Dagster run")
        return self._client

    def probe_client(self) -> WebcrmClient:
        """A client kept for the life of the process (a sensor's probes across ticks)."""
        key = ("webcrm", self.base_url, self.api_token, self.rate_limit_per_minute)
        client = _PROBE_CLIENTS.get(key)
        if not isinstance(client, WebcrmClient):
            client = _PROBE_CLIENTS[key] = WebcrmClient(
                self.base_url,
                self.api_token,
                rate_limit_per_minute=self.rate_limit_per_minute,
                timeout=Timeouts(read=self.timeout_seconds),
            )
        return client


class CrmofficeResource(dg.ConfigurableResource):  # type: ignore[type-arg]  # see above
    """CRMOffice REST API (client credentials from `CRMOFFICE_CLIENT_ID`/`_SECRET`)."""

    base_url: str
    client_id: str
    client_secret: str
    rate_limit_per_minute: int = packaged_systems().crmoffice.rate_limit.per_minute
    max_concurrency: int = 8
    timeout_seconds: float = 30.0
    rate_budget_url: str | None = None
    rate_window_seconds: float = 60.0  # the limit's window (60: per minute; benches shorten it)

    _client: CrmofficeClient | None = PrivateAttr(default=None)
    _budget: RateBudget | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """One client per run (shared limiter, token and connection pool)."""
        # CRMOffice counts requests per client id (its assumed API; the sandbox does so).
        limiter, self._budget = open_limiter(
            self.rate_budget_url,
            ("crmoffice", self.client_id),
            self.rate_limit_per_minute,
            self.rate_window_seconds,
        )
        self._client = CrmofficeClient(
            self.base_url,
            self.client_id,
            self.client_secret,
            limiter=limiter,
            max_concurrency=self.max_concurrency,
            timeout=Timeouts(read=self.timeout_seconds),
        )

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """Close the connection pool and the budget's connections."""
        if self._client is not None:
            self._client.close()
        if self._budget is not None:
            self._budget.close()

    def client(self) -> CrmofficeClient:
        """The run's client (RuntimeError outside a run)."""
        if self._client is None:
            raise RuntimeError("CrmofficeResource is used outside a Dagster run")
        return self._client

    def probe_client(self) -> CrmofficeClient:
        """A client kept for the life of the process (a sensor's probes across ticks)."""
        key = (
            "crmoffice",
            self.base_url,
            self.client_id,
            self.client_secret,
            self.rate_limit_per_minute,
        )
        client = _PROBE_CLIENTS.get(key)
        if not isinstance(client, CrmofficeClient):
            client = _PROBE_CLIENTS[key] = CrmofficeClient(
                self.base_url,
                self.client_id,
                self.client_secret,
                rate_limit_per_minute=self.rate_limit_per_minute,
                max_concurrency=1,
                timeout=Timeouts(read=self.timeout_seconds),
            )
        return client


class LinkStoreResource(dg.ConfigurableResource):  # type: ignore[type-arg]  # see above
    """The link store: `SYNC_STATE_URL`, else SQLite under `$DAGSTER_HOME` or `.sync_state/`."""

    url: str

    _store: LinkStore | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Open the store once per run (creates or migrates the schema if needed)."""
        self._store = LinkStore(self.url)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """Release its connections."""
        if self._store is not None:
            self._store.close()

    def store(self) -> LinkStore:
        """The run's store handle (RuntimeError outside a run)."""
        if self._store is None:
            raise RuntimeError("LinkStoreResource is used outside a Dagster run")
        return self._store


class SyncPolicy(dg.ConfigurableResource):  # type: ignore[type-arg]  # see above
    """The knobs a data engineer tunes per deployment (DESIGN.md section 2), settable in the
    launchpad: shares are fractions (0.10 = 10 %), `overlap_seconds` widens incremental reads."""

    max_bad_share: float = 0.10
    max_update_share: float = 0.20
    min_updates_for_breaker: int = 25
    overlap_seconds: int = 120
    max_failure_attempts: int = 5

    def overlap(self) -> timedelta:
        """How far before the cursor an incremental read starts."""
        return timedelta(seconds=self.overlap_seconds)
