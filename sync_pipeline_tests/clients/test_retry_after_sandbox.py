"""Both clients against the sandbox over loopback with `--retry-after-format http-date`: a 429
whose Retry-After is a date is waited out to that date, then the request succeeds."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import httpx
import pytest

from sync_pipeline.clients import CrmofficeClient, RetryPolicy, WebcrmClient
from sync_pipeline.sandbox.command import build_parser, settings_from
from sync_pipeline.sandbox.server import RunningSandbox, SandboxSettings, running_sandbox

LIMIT, WINDOW = 2, 3.0  # two requests per 3 s: the third waits a few seconds, not a minute


def _settings(limit: int = LIMIT) -> SandboxSettings:
    return SandboxSettings(
        webcrm_port=0,
        crmoffice_port=0,
        empty=True,
        seed=None,
        webcrm_rate_limit=limit,
        crmoffice_rate_limit=limit,
        rate_window_seconds=WINDOW,
        retry_after_format="http-date",
    )


def _client(sb: RunningSandbox, system: str) -> WebcrmClient | CrmofficeClient:
    """A client that does not pace itself (it does not know the limit): it meets the 429."""
    retry = RetryPolicy()
    if system == "webcrm":
        token = "sandbox-webcrm-token"
        return WebcrmClient(sb.webcrm_url, token, rate_limit_per_minute=None, retry=retry)
    return CrmofficeClient(
        sb.crmoffice_url,
        "sandbox-client",
        "sandbox-secret",
        rate_limit_per_minute=None,
        retry=retry,
    )


def test_option_is_on_the_command_line() -> None:
    """`--retry-after-format http-date` selects the date form; `seconds` is the default."""
    parser = build_parser()
    assert settings_from(parser.parse_args([])).retry_after_format == "seconds"
    args = parser.parse_args(["--retry-after-format", "http-date"])
    assert settings_from(args).retry_after_format == "http-date"
    with pytest.raises(SystemExit):
        parser.parse_args(["--retry-after-format", "minutes"])


def _login(sb: RunningSandbox, system: str) -> tuple[str, str]:
    """(base URL, bearer token) from the system's own login endpoint."""
    if system == "webcrm":
        login = httpx.post(
            f"{sb.webcrm_url}/Auth/ApiLogin", data={"authCode": "sandbox-webcrm-token"}
        )
        return sb.webcrm_url, str(login.json()["AccessToken"])
    form = {
        "grant_type": "client_credentials",
        "client_id": "sandbox-client",
        "client_secret": "sandbox-secret",
    }
    login = httpx.post(f"{sb.crmoffice_url}/connect/token", data=form)
    return sb.crmoffice_url, str(login.json()["access_token"])


@pytest.mark.parametrize(("system", "entity"), [("webcrm", "Persons"), ("crmoffice", "contacts")])
def test_sandbox_429_states_an_http_date_never_too_early(system: str, entity: str) -> None:
    """Over its limit, each system answers 429 with an IMF-fixdate at least the wait ahead."""
    with running_sandbox(_settings(limit=1)) as sb:
        url, token = _login(sb, system)
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{url}/{entity}", headers=headers).status_code == 200
        answer = httpx.get(f"{url}/{entity}", headers=headers)
        assert answer.status_code == 429
        assert answer.headers["Retry-After"].endswith(" GMT")
        date = parsedate_to_datetime(answer.headers["Retry-After"])
        sent = parsedate_to_datetime(answer.headers["Date"])
        assert 1 <= (date - sent).total_seconds() <= WINDOW + 2


@pytest.mark.parametrize("system", ["webcrm", "crmoffice"])
def test_client_waits_for_the_http_date_and_succeeds(system: str) -> None:
    """Past a low limit the client waits until the Retry-After date and succeeds with one
    retry: no early retry (which would meet a second 429), no give-up."""
    with running_sandbox(_settings()) as sb:
        client = _client(sb, system)
        entity = "Persons" if system == "webcrm" else "contacts"
        started = time.monotonic()
        for _ in range(LIMIT + 1):
            assert client.list_all(entity) == []
        elapsed = time.monotonic() - started
        stats = sb.stats()[system]
        assert stats["throttled_429"] == 1
        assert client.stats.throttled_429s == 1 and client.stats.retries == 1
        assert elapsed >= 1.0
