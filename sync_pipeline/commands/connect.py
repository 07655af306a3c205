"""The two clients a command outside Dagster uses, configured from the environment."""

from __future__ import annotations

from collections.abc import Mapping

from sync_pipeline.clients import CrmofficeClient, RateLimiter, SlidingWindowLimiter, WebcrmClient
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
    limits = rate_limits(env)

    def limiter(system: str, secret: str, limit: int) -> RateLimiter:
        if budget is None:
            return SlidingWindowLimiter(limit)
        return budget.limiter(budget_key(system, secret), limit)

    webcrm = WebcrmClient(
        values["WEBCRM_BASE_URL"],
        values["WEBCRM_API_TOKEN"],
        limiter=limiter("webcrm", values["WEBCRM_API_TOKEN"], limits["webcrm"]),
    )
    crmoffice = CrmofficeClient(
        values["CRMOFFICE_BASE_URL"],
        values["CRMOFFICE_CLIENT_ID"],
        values["CRMOFFICE_CLIENT_SECRET"],
        limiter=limiter("crmoffice", values["CRMOFFICE_CLIENT_ID"], limits["crmoffice"]),
    )
    return webcrm, crmoffice
