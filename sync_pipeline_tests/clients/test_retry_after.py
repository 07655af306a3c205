"""`Retry-After` in both forms of RFC 9110 section 10.2.3: delay-seconds and an HTTP-date."""

from __future__ import annotations

import random
from email.utils import formatdate

import pytest

from sync_pipeline.clients import CrmofficeClient, RetryPolicy, WebcrmClient
from sync_pipeline.clients.retry import parse_retry_after
from sync_pipeline_tests.clients.fakes import (
    CRMOFFICE_SECRET,
    WEBCRM_TOKEN,
    FakeClock,
    FakeCrmoffice,
    FakeWebcrm,
    status,
)

EPOCH = 1_790_000_000.0  # the fake clock's 0 on our POSIX clock (whole seconds)


def _policy(clock: FakeClock) -> RetryPolicy:
    """The default budget, on a fake clock whose POSIX time moves with its sleeps."""
    return RetryPolicy(
        sleep=clock.sleep,
        clock=clock,
        wall_clock=lambda: EPOCH + clock(),
        rng=random.Random(0),
        wait_jitter=0.0,
    )


def _http_date(clock: FakeClock, ahead: float) -> str:
    return formatdate(EPOCH + clock() + ahead, usegmt=True)


def test_http_date_is_seconds_from_now() -> None:
    """An HTTP-date 30 s after `now` is a 30 s wait; IMF-fixdate, RFC 850 and asctime parse."""
    now = EPOCH
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now) == 30.0
    assert parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", 784111747.0) == 30.0
    assert parse_retry_after("Sun Nov  6 08:49:37 1994", 784111747.0) == 30.0


def test_http_date_in_the_past_means_now() -> None:
    """A date already past is a wait of zero, never a negative one or a fallback."""
    assert parse_retry_after(formatdate(EPOCH - 90, usegmt=True), EPOCH) == 0.0


@pytest.mark.parametrize("garbage", ["soon", "Fri, 99 Foo 2026 25:61:00 GMT", "", "1e", "-5"])
def test_unparseable_retry_after_is_ignored(garbage: str) -> None:
    """Neither seconds nor a date: None, so the caller falls back to its backoff."""
    assert parse_retry_after(garbage, EPOCH) is None


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_a_30_second_retry_after_is_waited_out_and_succeeds(form: str) -> None:
    """A 429 asking for 30 s, in either form: one wait of exactly 30 s, then success."""
    fake, clock = FakeWebcrm(), FakeClock()
    value = "30" if form == "seconds" else _http_date(clock, 30)
    fake.faults = [None, status(429, {"Message": "slow down"}, {"Retry-After": value})]
    client = WebcrmClient(
        "https://webcrm.test", WEBCRM_TOKEN, transport=fake.transport(), retry=_policy(clock)
    )
    assert client.list_all("Persons") == []
    assert clock.sleeps == [30.0]
    assert client.stats.as_dict() | {"logins": 0} == {
        "requests": 3,
        "throttled_429s": 1,
        "retries": 1,
        "logins": 0,
    }


def test_http_date_is_measured_against_the_servers_date_header() -> None:
    """With a `Date` header the wait is Retry-After minus Date, even when the server's clock
    runs 10 minutes behind ours (against our clock the date would be long past)."""
    fake, clock = FakeCrmoffice(), FakeClock()
    server_now = EPOCH + clock() - 600
    headers = {
        "Date": formatdate(server_now, usegmt=True),
        "Retry-After": formatdate(server_now + 12, usegmt=True),
    }
    fake.faults = [None, status(429, {"title": "Too Many Requests"}, headers)]
    client = CrmofficeClient(
        "https://crmoffice.test",
        "client",
        CRMOFFICE_SECRET,
        transport=fake.transport(),
        retry=_policy(clock),
    )
    assert client.list_all("contacts") == []
    assert clock.sleeps == [12.0]


def test_past_http_date_retries_at_once() -> None:
    """A Retry-After date already past: retried immediately, without a backoff wait."""
    fake, clock = FakeWebcrm(), FakeClock()
    fake.faults = [None, status(503, None, {"Retry-After": _http_date(clock, -5)})]
    client = WebcrmClient(
        "https://webcrm.test", WEBCRM_TOKEN, transport=fake.transport(), retry=_policy(clock)
    )
    assert client.list_all("Persons") == []
    assert clock.sleeps == [] and client.stats.retries == 1


def test_garbage_retry_after_falls_back_to_backoff() -> None:
    """An unparseable Retry-After is ignored: the exponential backoff applies."""
    fake, clock = FakeWebcrm(), FakeClock()
    fault = status(503, None, {"Retry-After": "in a while"})
    fake.faults = [None, fault, fault]
    client = WebcrmClient(
        "https://webcrm.test", WEBCRM_TOKEN, transport=fake.transport(), retry=_policy(clock)
    )
    assert client.list_all("Persons") == []
    assert clock.sleeps == [0.5, 1.0]
