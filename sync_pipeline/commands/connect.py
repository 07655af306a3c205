"""The two clients a command outside Dagster uses, configured from the environment."""

from __future__ import annotations

from collections.abc import Mapping

from sync_pipeline.clients import CrmofficeClient, RateLimiter, SlidingWindowLimiter, WebcrmClient
from sync_pipeline.core.types import Side
from sync_pipeline.settings import connection, rate_limits
from sync_pipeline.store import RateBudget, budget_key


def open_clients(
    env: Mapping[str, str], budget: RateBudget | None = None
) -> tuple[WebcrmClient, CrmofficeClient]:
    """WebCRM and CRMOffice clients from `env` (sandbox defaults where unset), paced at the
    rate limits in force: drawing on the store's shared budget per token when `budget` is
    given (the caller closes it), else each on its own. Raises `SettingsError` for a bad limit
    variable."""
    values = connection(env)
    crmoffice = CrmofficeClient(
        values["CRMOFFICE_BASE_URL"],
        values["CRMOFFICE_CLIENT_ID"],
        values["CRMOFFICE_CLIENT_SECRET"],
        limiter=_limiter(env, budget, "crmoffice", values["CRMOFFICE_CLIENT_ID"]),
    )
    return open_webcrm(env, budget), crmoffice


def open_webcrm(env: Mapping[str, str], budget: RateBudget | None = None) -> WebcrmClient:
    """The WebCRM client alone, configured as `open_clients` does."""
    values = connection(env)
    return WebcrmClient(
        values["WEBCRM_BASE_URL"],
        values["WEBCRM_API_TOKEN"],
        limiter=_limiter(env, budget, "webcrm", values["WEBCRM_API_TOKEN"]),
    )


def _limiter(
    env: Mapping[str, str], budget: RateBudget | None, system: Side, secret: str
) -> RateLimiter:
    """`system`'s pacing: the store's shared budget for `secret` when given, else its own."""
    limit = rate_limits(env)[system]
    if budget is None:
        return SlidingWindowLimiter(limit)
    return budget.limiter(budget_key(system, secret), limit)
