"""The two clients a command outside Dagster uses, configured from the environment."""

from __future__ import annotations

from collections.abc import Mapping

from sync_pipeline.clients import CrmofficeClient, WebcrmClient
from sync_pipeline.settings import connection, rate_limits


def open_clients(env: Mapping[str, str]) -> tuple[WebcrmClient, CrmofficeClient]:
    """WebCRM and CRMOffice clients from `env` (sandbox defaults where unset), paced at the
    rate limits in force. Raises `SettingsError` for a bad limit variable."""
    values = connection(env)
    limits = rate_limits(env)
    webcrm = open_webcrm(env)
    crmoffice = CrmofficeClient(
        values["CRMOFFICE_BASE_URL"],
        values["CRMOFFICE_CLIENT_ID"],
        values["CRMOFFICE_CLIENT_SECRET"],
        rate_limit_per_minute=limits["crmoffice"],
    )
    return webcrm, crmoffice


def open_webcrm(env: Mapping[str, str]) -> WebcrmClient:
    """The WebCRM client alone, configured as `open_clients` does."""
    values = connection(env)
    return WebcrmClient(
        values["WEBCRM_BASE_URL"],
        values["WEBCRM_API_TOKEN"],
        rate_limit_per_minute=rate_limits(env)["webcrm"],
    )
