"""The shared HTTP edge: classification, retries, re-login, limiter, timeouts, stats."""

from __future__ import annotations

import random

import httpx
import pytest

from sync_pipeline.clients import (
    AuthenticationError,
    ProtocolError,
    RecordRejectedError,
    RetriesExhaustedError,
    RetryPolicy,
    SlidingWindowLimiter,
    Timeouts,
    WebcrmClient,
    WriteOutcomeUnknownError,
)
from sync_pipeline.clients.http import HttpEdge
from sync_pipeline.clients.webcrm import WebcrmAuthenticator
from sync_pipeline_tests.clients.fakes import (
    WEBCRM_TOKEN,
    FakeClock,
    FakeWebcrm,
    raises,
    status,
)


class CountingLimiter(SlidingWindowLimiter):
    """A limiter that counts acquisitions."""

    def __init__(self) -> None:
        super().__init__(None)
        self.acquired = 0

    def acquire(self) -> None:
        self.acquired += 1
        super().acquire()


def _client(
    fake: FakeWebcrm, clock: FakeClock, *, token: str = WEBCRM_TOKEN, **kwargs: object
) -> WebcrmClient:
    retry = RetryPolicy(sleep=clock.sleep, clock=clock, rng=random.Random(0), wait_jitter=0.0)
    return WebcrmClient(
        "https://webcrm.test",
        token,
        transport=fake.transport(),
        retry=retry,
        # why the ignore below: keyword overrides of the client's mixed-type options
        **kwargs,  # type: ignore[arg-type]
    )


def test_login_is_lazy() -> None:
    """Creating a client sends nothing; the first call logs in first."""
    fake, clock = FakeWebcrm(), FakeClock()
    client = _client(fake, clock)
    assert fake.log == []
    client.list_all("Persons")
    assert [r.url.path for r in fake.log] == ["/Auth/ApiLogin", "/Persons"]
    assert client.stats.as_dict() == {"requests": 2, "throttled_429s": 0, "retries": 0, "logins": 1}


@pytest.mark.parametrize("code", [429, 500, 502, 503, 504])
def test_retriable_statuses_honour_retry_after(code: int) -> None:
    """429/500/502/503/504 are retried after exactly the server's Retry-After."""
    fake, clock = FakeWebcrm(), FakeClock()
    fake.faults = [None, status(code, {"Message": "busy"}, {"Retry-After": "7"})]
    client = _client(fake, clock)
    assert client.list_all("Persons") == []
    assert clock.sleeps == [7.0]
    assert client.stats.retries == 1
    assert client.stats.throttled_429s == (1 if code == 429 else 0)


def test_webcrm_retry_after_body_is_honoured() -> None:
    """Without the header, WebCRM's RetryAfterSeconds body field sets the wait."""
    fake, clock = FakeWebcrm(), FakeClock()
    body = {"RetryAfterSeconds": 3, "Message": "slow down", "Type": "TooManyRequestsException"}
    fake.faults = [None, status(429, body)]
    _client(fake, clock).list_all("Persons")
    assert clock.sleeps == [3.0]


def test_backoff_without_retry_after_grows() -> None:
    """Without Retry-After the waits grow exponentially."""
    fake, clock = FakeWebcrm(), FakeClock()
    fake.faults = [None, status(500), status(500), status(500)]
    _client(fake, clock).list_all("Persons")
    assert clock.sleeps == [0.5, 1.0, 2.0]


@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadTimeout,
        httpx.ConnectTimeout,
        httpx.ConnectError,
        httpx.ReadError,
        httpx.RemoteProtocolError,
        httpx.WriteError,
        httpx.PoolTimeout,
    ],
)
def test_transport_errors_are_retried(error: type[httpx.TransportError]) -> None:
    """Timeouts and dropped or refused connections are retried."""
    fake, clock = FakeWebcrm(), FakeClock()
    fake.faults = [None, raises(error)]
    client = _client(fake, clock)
    client.list_all("Persons")
    assert len(fake.requests_to("GET", "/Persons")) == 2
    assert client.stats.retries == 1


@pytest.mark.parametrize("code", [400, 403, 404, 409, 422])
def test_other_4xx_is_rejected_once(code: int) -> None:
    """Any other 4xx is a RecordRejectedError after a single attempt."""
    fake, clock = FakeWebcrm(), FakeClock()
    fake.faults = [None, status(code, {"Message": "no good"})]
    with pytest.raises(RecordRejectedError) as caught:
        _client(fake, clock).get("Persons", 1)
    assert caught.value.status == code
    assert caught.value.detail == "no good"
    assert len(fake.log) == 2


def test_unexpected_5xx_is_a_protocol_error() -> None:
    """A 501 is neither retried nor blamed on the record."""
    fake, clock = FakeWebcrm(), FakeClock()
    fake.faults = [None, status(501)]
    with pytest.raises(ProtocolError, match="unexpected status 501"):
        _client(fake, clock).list_all("Persons")
    assert len(fake.log) == 2


def test_retries_are_capped() -> None:
    """Six failed attempts raise RetriesExhaustedError naming the last failure."""
    fake, clock = FakeWebcrm(), FakeClock()
    fake.faults = [None] + [status(503)] * 10
    with pytest.raises(RetriesExhaustedError, match="after 6 attempts: 503") as caught:
        _client(fake, clock).list_all("Persons")
    assert caught.value.attempts == 6
    assert len(fake.requests_to("GET", "/Persons")) == 6


def test_401_logs_in_again_and_retries_once() -> None:
    """An expired token (401) triggers one re-login and the call succeeds."""
    fake, clock = FakeWebcrm(), FakeClock()
    fake.add_persons(2)
    client = _client(fake, clock)
    client.get("Persons", 1)
    fake.valid_tokens.clear()  # the server forgot our token
    assert client.get("Persons", 2)["PersonId"] == 2
    paths = [r.url.path for r in fake.log]
    assert paths == ["/Auth/ApiLogin", "/Persons/1", "/Persons/2", "/Auth/ApiLogin", "/Persons/2"]
    assert client.stats.logins == 2


def test_401_on_a_fresh_token_is_fatal() -> None:
    """A 401 right after re-login raises AuthenticationError instead of looping."""
    fake, clock = FakeWebcrm(), FakeClock()
    fake.faults = [None, status(401), None, status(401)]
    with pytest.raises(AuthenticationError, match="freshly issued"):
        _client(fake, clock).list_all("Persons")
    assert len(fake.log) == 4


def test_bad_api_token_is_one_clear_line() -> None:
    """A rejected API token names the endpoint and the setting to check, nothing more."""
    fake, clock = FakeWebcrm(), FakeClock()
    with pytest.raises(AuthenticationError) as caught:
        _client(fake, clock, token="wrong-token").list_all("Persons")
    assert str(caught.value) == (
        "WebCRM rejected the API token (401 on /Auth/ApiLogin): check WEBCRM_API_TOKEN"
    )
    assert len(fake.log) == 1


def test_token_renewed_before_expiry() -> None:
    """The edge logs in again a tenth of the lifetime before the token expires."""
    fake, clock = FakeWebcrm(token_ttl=100), FakeClock()
    fake.add_persons(1)
    edge = HttpEdge(
        "https://webcrm.test",
        system="WebCRM",
        authenticator=WebcrmAuthenticator(WEBCRM_TOKEN),
        limiter=SlidingWindowLimiter(None),
        retry=RetryPolicy.testing(),
        timeout=Timeouts(),
        transport=fake.transport(),
        clock=clock,
    )
    edge.request("GET", "/Persons/1")
    clock.now += 89
    edge.request("GET", "/Persons/1")
    assert fake.logins == 1
    clock.now += 2
    edge.request("GET", "/Persons/1")
    assert [r.url.path for r in fake.log] == [
        "/Auth/ApiLogin",
        "/Persons/1",
        "/Persons/1",
        "/Auth/ApiLogin",
        "/Persons/1",
    ]


def test_limiter_is_acquired_for_every_attempt_but_the_login() -> None:
    """Every attempt, retries included, takes a rate-limiter slot; the login does not (the
    limits are per access token, and the login is how one gets a token)."""
    fake, clock = FakeWebcrm(), FakeClock()
    fake.faults = [None, status(429), raises(httpx.ReadTimeout)]
    limiter = CountingLimiter()
    client = _client(fake, clock, limiter=limiter)
    client.list_all("Persons")
    assert len(fake.log) == client.stats.requests == 4
    assert limiter.acquired == 3


def test_every_request_carries_the_configured_timeouts() -> None:
    """Connect/read/write/pool timeouts reach every request, login included."""
    fake, clock = FakeWebcrm(), FakeClock()
    client = _client(fake, clock, timeout=Timeouts(connect=1.5, read=2.5, write=3.5, pool=4.5))
    client.list_all("Persons")
    for request in fake.log:
        assert request.extensions["timeout"] == {
            "connect": 1.5,
            "read": 2.5,
            "write": 3.5,
            "pool": 4.5,
        }


def test_default_timeouts_are_five_and_thirty_seconds() -> None:
    """By default connect times out after 5 s and read after 30 s."""
    fake, clock = FakeWebcrm(), FakeClock()
    _client(fake, clock).list_all("Persons")
    assert fake.log[-1].extensions["timeout"]["connect"] == 5.0
    assert fake.log[-1].extensions["timeout"]["read"] == 30.0


@pytest.mark.parametrize(
    "fault",
    [
        status(500),
        status(502),
        status(504),
        raises(httpx.ReadTimeout),
        raises(httpx.RemoteProtocolError),
        raises(httpx.ReadError),
    ],
)
def test_create_is_not_repeated_when_it_may_have_landed(fault: object) -> None:
    """A POST that failed after reaching the server raises WriteOutcomeUnknownError, unrepeated."""
    fake, clock = FakeWebcrm(), FakeClock()
    # why the ignore below: a fault object the fake accepts beside the declared ones
    fake.faults = [None, fault]  # type: ignore[list-item]
    with pytest.raises(WriteOutcomeUnknownError, match="may have been applied"):
        _client(fake, clock).create("Persons", {"PersonFirstName": "Åse"})
    assert len(fake.requests_to("POST", "/Persons")) == 1


@pytest.mark.parametrize("fault", [status(429), status(503), raises(httpx.ConnectError)])
def test_create_is_retried_when_it_surely_did_not_land(fault: object) -> None:
    """A POST refused with 429/503 or never connected is retried."""
    fake, clock = FakeWebcrm(), FakeClock()
    # why the ignore below: a fault object the fake accepts beside the declared ones
    fake.faults = [None, fault]  # type: ignore[list-item]
    assert _client(fake, clock).create("Persons", {"PersonFirstName": "Åse"}) == "1"
    assert len(fake.requests_to("POST", "/Persons")) == 2


def test_non_json_body_is_a_protocol_error() -> None:
    """A 200 whose body is not JSON raises ProtocolError naming the request."""
    fake, clock = FakeWebcrm(), FakeClock()
    fake.faults = [None, lambda request: httpx.Response(200, text="<html>maintenance</html>")]
    with pytest.raises(ProtocolError, match="GET /Persons with a body that is not JSON"):
        _client(fake, clock).list_all("Persons")
